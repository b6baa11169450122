// qrobust translate: text through the mBART-50 translation engine of the
// sentence-level attack (attacks/mbart.h), one line at a time.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attacks/mbart.h"
#include "cli/cli.h"
#include "util/fileio.h"
#include "util/timer.h"

static void usage(void) {
    puts("usage: qrobust translate --translator DIR (--text T | --file F) [--src LANG] [--tgt LANG]\n"
         "                         [--back] [--pivot] [--beams N] [--max-length N] [--ids] [--threads N]\n"
         "\n"
         "Translates each line of the input with the mBART-50 many-to-many checkpoint in DIR\n"
         "(facebook/mbart-large-50-many-to-many-mmt), as transformers does it: tokenizer(text)\n"
         "with src_lang, model.generate(forced_bos_token_id=<tgt code>) with the checkpoint's\n"
         "generation defaults (beam search), decode(skip_special_tokens=True). One output line\n"
         "per input line; a line fails alone (reported on stderr, exit status 1).\n"
         "\n"
         "  --translator DIR  the HF checkpoint directory: config.json, model.safetensors,\n"
         "                    generation_config.json (else the legacy keys of config.json),\n"
         "                    tokenizer.json or sentencepiece.bpe.model (see README, mBART)\n"
         "  --text T          the text (one or more lines)\n"
         "  --file F          read the lines from F ('-': standard input)\n"
         "  --src LANG        source language code (default en_XX)\n"
         "  --tgt LANG        target language code (default de_DE); codes: en_XX de_DE fr_XX ...\n"
         "  --back            back-translate: src -> tgt -> src (the sentence attack)\n"
         "  --pivot           with --back: print \"<pivot>\\t<back-translation>\"\n"
         "  --beams N         override num_beams (1: greedy)\n"
         "  --max-length N    override max_length (decoder tokens, start token included)\n"
         "  --ids             print the generated token ids instead of text (not with --back)\n"
         "  --threads N       OpenMP threads (default: all cores)\n"
         "\n"
         "example:\n"
         "  qrobust translate --translator mbart-large-50-many-to-many-mmt --back --pivot \\\n"
         "      --text \"Write a function to find the shared elements from the given two lists.\"");
}

int cmd_translate(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    const char *dir = NULL, *text = NULL, *file = NULL, *src = "en_XX", *tgt = "de_DE", *beams = NULL, *maxlen = NULL,
               *threads = NULL;
    int back = 0, pivot = 0, ids = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_flag_value(argc, argv, &i, "--translator", &dir)) || (r = cli_flag_value(argc, argv, &i, "--text", &text)) ||
            (r = cli_flag_value(argc, argv, &i, "--file", &file)) || (r = cli_flag_value(argc, argv, &i, "--src", &src)) ||
            (r = cli_flag_value(argc, argv, &i, "--tgt", &tgt)) || (r = cli_flag_value(argc, argv, &i, "--beams", &beams)) ||
            (r = cli_flag_value(argc, argv, &i, "--max-length", &maxlen)) ||
            (r = cli_flag_value(argc, argv, &i, "--threads", &threads))) {
            if (r < 0) return 2;
        } else if (cli_is_flag(argv, i, "--back")) back = 1;
        else if (cli_is_flag(argv, i, "--pivot")) pivot = 1;
        else if (cli_is_flag(argv, i, "--ids")) ids = 1;
        else return cli_dief("translate: unknown argument '%s' (see --help)", argv[i]);
    }
    if (!dir) return cli_dief("translate: --translator DIR is required (see --help)");
    if (!!text + !!file != 1) return cli_dief("translate: give exactly one of --text or --file (see --help)");
    if (ids && back) return cli_dief("translate: --ids and --back do not go together");
    long long nb = 0, ml = 0;
    if (beams && cli_parse_int("--beams", beams, &nb)) return 2;
    if (maxlen && cli_parse_int("--max-length", maxlen, &ml)) return 2;
    long long nt = 0;
    if (threads && (cli_parse_int("--threads", threads, &nt) || nt < 1))
        return cli_dief("translate: --threads must be a positive integer");
    if (threads) omp_set_num_threads((int)nt);
    QrErr e;
    MbartTranslator *t;
    char *buf = NULL;
    size_t len;
    if (file) {
        if (qr_read_file(!strcmp(file, "-") ? "/dev/stdin" : file, &buf, &len, &e)) return cli_die(&e);
        text = buf;
    }
    if (mbart_translator_load(&t, dir, &e)) {
        free(buf);
        return cli_die(&e);
    }
    if (beams) t->model->gen.num_beams = (int)nb;
    if (maxlen) t->model->gen.max_length = (int)ml;
    if (mbart_lang_id(&t->tok, src) < 0 || mbart_lang_id(&t->tok, tgt) < 0) {
        mbart_translator_free(t);
        free(buf);
        return cli_dief("translate: --src/--tgt must be mBART-50 language codes (e.g. en_XX, de_DE), got %s / %s", src, tgt);
    }
    char *copy = strdup(text);
    int failed = 0, lines = 0;
    double t0 = qr_now();
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lines++;
        if (ids) {
            int32_t *in, *out;
            size_t n;
            int no;
            if (mbart_tok_encode(&t->tok, line, strlen(line), src, &in, &n, &e) ||
                mbart_generate(t->model, &t->model->gen, in, (int)n, mbart_lang_id(&t->tok, tgt), &out, &no, &e)) {
                fprintf(stderr, "qrobust: line %d: %s\n", lines, e.msg);
                failed = 1;
                continue;
            }
            for (int k = 0; k < no; k++) printf(k ? " %d" : "%d", out[k]);
            putchar('\n');
            free(in);
            free(out);
            continue;
        }
        char *mid = mbart_translate(t, line, src, tgt, &e);
        char *fin = mid && back ? mbart_translate(t, mid, tgt, src, &e) : NULL;
        if (!mid || (back && !fin)) {
            fprintf(stderr, "qrobust: line %d: %s\n", lines, e.msg);
            failed = 1;
        } else if (back) {
            if (pivot) printf("%s\t%s\n", mid, fin);
            else printf("%s\n", fin);
        } else {
            printf("%s\n", mid);
        }
        free(mid);
        free(fin);
    }
    fprintf(stderr, "qrobust: translated %d line(s) in %.2f s (%s, %d beams)\n", lines, qr_now() - t0,
            t->tok.source, t->model->gen.num_beams);
    free(copy);
    free(buf);
    mbart_translator_free(t);
    return failed;
}
