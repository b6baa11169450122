// qrobust tokenize: text -> token ids (or ids -> text with --decode) with any
// tokenizer qrobust loads (tokenizer.json, model directory, GGUF, tokenizer.model).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "tokenizer/tokenizer.h"
#include "util/fileio.h"

static void usage(void) {
    puts("usage: qrobust tokenize --tokenizer PATH [--text T | --file F] [--add-special] [--decode]\n"
         "                        [--no-parse-special] [--skip-special] [--pieces]\n"
         "\n"
         "Prints the token ids of the input text on one line, space-separated, exactly as the\n"
         "Hugging Face tokenizer of the model gives them (add_special_tokens=False unless\n"
         "--add-special). With --decode the input is a list of ids and the decoded text is\n"
         "printed byte for byte (no newline added).\n"
         "\n"
         "  --tokenizer PATH    a tokenizer.json (its tokenizer_config.json beside it is read too),\n"
         "                      a model directory (tokenizer.json, else tokenizer.model), a\n"
         "                      SentencePiece tokenizer.model, or a GGUF file with a vocabulary\n"
         "  --text T            the input text (or, with --decode, the ids: \"1 15043 3186\")\n"
         "  --file F            read the input from file F ('-': standard input); the bytes are\n"
         "                      taken as they are (no trailing newline is removed)\n"
         "                      (one of --text / --file is required)\n"
         "  --add-special       add BOS/EOS as the post-processor, tokenizer_config.json\n"
         "                      (add_bos_token/add_eos_token) or GGUF add_bos_token say\n"
         "  --no-parse-special  treat special-token strings in the text (\"<|endoftext|>\", \"<s>\")\n"
         "                      as plain text (default: matched as their ids, as HF does)\n"
         "  --decode            decode ids to text instead of encoding\n"
         "  --skip-special      with --decode: leave special tokens out\n"
         "  --pieces            print one \"id<TAB>vocabulary-string\" line per token instead\n"
         "\n"
         "Invalid UTF-8 in the input is read as Python's decode('utf-8', 'replace') would.\n"
         "\n"
         "example:\n"
         "  qrobust tokenize --tokenizer ../shared/models/stories260K/stories260K.gguf \\\n"
         "      --text \"Once upon a time\" --add-special");
}

static int read_stdin(char **out, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    if (!b) return -1;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) { free(b); return -1; }
            b = nb;
        }
        size_t got = fread(b + n, 1, cap - n - 1, stdin);
        n += got;
        if (!got) break;
    }
    b[n] = 0;
    *out = b;
    *len = n;
    return 0;
}

int cmd_tokenize(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) { usage(); return 0; }
    const char *path = NULL, *text = NULL, *file = NULL;
    int add_special = 0, decode = 0, no_parse = 0, skip_special = 0, pieces = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_flag_value(argc, argv, &i, "--tokenizer", &path))) { if (r < 0) return 2; }
        else if ((r = cli_flag_value(argc, argv, &i, "--text", &text))) { if (r < 0) return 2; }
        else if ((r = cli_flag_value(argc, argv, &i, "--file", &file))) { if (r < 0) return 2; }
        else if (cli_is_flag(argv, i, "--add-special")) add_special = 1;
        else if (cli_is_flag(argv, i, "--decode")) decode = 1;
        else if (cli_is_flag(argv, i, "--no-parse-special")) no_parse = 1;
        else if (cli_is_flag(argv, i, "--skip-special")) skip_special = 1;
        else if (cli_is_flag(argv, i, "--pieces")) pieces = 1;
        else return cli_dief("tokenize: unknown argument '%s' (see --help)", argv[i]);
    }
    if (!path) return cli_dief("tokenize: --tokenizer PATH is required (see --help)");
    if (!!text + !!file != 1) return cli_dief("tokenize: give exactly one of --text or --file (see --help)");
    QrErr e;
    char *buf = NULL;
    size_t len;
    if (file) {
        if (!strcmp(file, "-") ? read_stdin(&buf, &len) : qr_read_file(file, &buf, &len, &e))
            return strcmp(file, "-") ? cli_die(&e) : cli_dief("tokenize: cannot read standard input");
        text = buf;
    } else len = strlen(text);
    Tokenizer *t;
    if (tok_load(&t, path, &e)) { free(buf); return cli_die(&e); }
    int rc = 0;
    if (decode) {
        size_t n = 0, cap = 64;
        int32_t *ids = malloc(cap * sizeof *ids);
        const char *p = text, *end = text + len;
        while (ids && p < end) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',')) p++;
            if (p >= end) break;
            char *q;
            long v = strtol(p, &q, 10);
            if (q == p) { rc = cli_dief("tokenize --decode: '%.20s' is not a token id", p); break; }
            if (n == cap) {
                int32_t *ni = realloc(ids, (cap *= 2) * sizeof *ids);
                if (!ni) break;
                ids = ni;
            }
            ids[n++] = (int32_t)v;
            p = q;
        }
        if (!rc) {
            size_t ol;
            char *out = tok_decode(t, ids, n, skip_special ? TOK_SKIP_SPECIAL : 0, &ol, &e);
            if (!out) rc = cli_die(&e);
            else { fwrite(out, 1, ol, stdout); free(out); }
        }
        free(ids);
    } else {
        int32_t *ids;
        size_t n;
        unsigned fl = (add_special ? TOK_ADD_SPECIAL : 0) | (no_parse ? TOK_NO_PARSE_SPECIAL : 0);
        if (tok_encode(t, text, len, fl, &ids, &n, &e)) rc = cli_die(&e);
        else {
            for (size_t i = 0; i < n; i++) {
                if (pieces) printf("%d\t%s\n", ids[i], tok_token_str(t, ids[i]));
                else printf(i ? " %d" : "%d", ids[i]);
            }
            if (!pieces) putchar('\n');
            free(ids);
        }
    }
    tok_free(t);
    free(buf);
    return rc;
}
