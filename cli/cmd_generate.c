// qrobust generate: complete a prompt with a model (greedy or sampled).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/model_args.h"
#include "runtime/generate.h"

static void usage(void) {
    printf("usage: qrobust generate --model PATH (--prompt TEXT | --prompt-file F | --ids \"1 2 3\")\n"
           "                        [--max-new-tokens N] [--temperature T] [--top-p P] [--seed S]\n"
           "                        [--stop S]... [--threads N] [--echo] [--ignore-eos] [--stats]\n"
           "                        [--precision fp32|fp16|bf16|int8|nf4]\n"
           "\n"
           "Completes the prompt and prints the completion (the text after the prompt) on standard\n"
           "output as it is generated. Generation stops at the model's end-of-sequence token, at\n"
           "the first stop string found in the completion (the completion is cut before it), or\n"
           "after --max-new-tokens tokens. Compute is fp32 whatever the stored weight format;\n"
           "--precision int8|nf4 quantizes the block linears as bitsandbytes does and computes\n"
           "them with its arithmetic (LLM.int8; NF4 dequantized into fp32 products).\n"
           "\n"
           "%s%s"
           "  --max-new-tokens N  tokens to generate at most (default 128)\n"
           "  --temperature T     0 = greedy, the default; > 0 samples from softmax(logits / T)\n"
           "  --top-p P           with T > 0: sample only from the smallest set of most likely tokens\n"
           "                      whose probability reaches P (default 1 = all)\n"
           "  --seed S            seed of the sampler (default 0); same seed, same tokens\n"
           "  --stop S            a stop string, repeatable (e.g. --stop $'\\ndef' --stop $'\\nclass')\n"
           "  --echo              print the prompt text before the completion\n"
           "  --ignore-eos        keep going past end-of-sequence tokens\n"
           "  --stats             print token counts and speed on standard error\n"
           "  --print-ids         also print the generated token ids on standard error\n"
           "\n"
           "example:\n"
           "  qrobust generate --model ../shared/models/stories260K/stories260K.gguf \\\n"
           "      --prompt \"Once upon a time\" --temperature 0\n",
           CLI_MODEL_HELP, CLI_PROMPT_HELP);
}

static void on_text(void *ctx, int seq, const char *text, size_t len) {
    (void)ctx;
    (void)seq;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
}

int cmd_generate(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    CliModelArgs a = {0};
    QrGenParams p = {.max_new_tokens = 128, .temperature = 0, .top_p = 1.0f, .on_text = on_text};
    const char **stops = calloc((size_t)argc, sizeof *stops);
    int echo = 0, stats = 0, print_ids = 0, rc = 2;
    QrModel *m = NULL;
    Tokenizer *tok = NULL;
    int32_t *ids = NULL;
    QrCompletion out = {0};
    QrErr e;
    if (!stops) return cli_dief("out of memory");
    for (int i = 1; i < argc; i++) {
        int r;
        const char *v;
        long long ll;
        double d;
        if ((r = cli_model_flag(argc, argv, &i, &a))) {
            if (r < 0) goto done;
        } else if ((r = cli_flag_value(argc, argv, &i, "--max-new-tokens", &v))) {
            if (r < 0 || cli_parse_int("--max-new-tokens", v, &ll)) goto done;
            if (ll < 1 || ll > 1 << 24) {
                cli_dief("--max-new-tokens must be at least 1");
                goto done;
            }
            p.max_new_tokens = (int)ll;
        } else if ((r = cli_flag_value(argc, argv, &i, "--temperature", &v))) {
            if (r < 0 || cli_parse_double("--temperature", v, &d)) goto done;
            if (d < 0) {
                cli_dief("--temperature must be >= 0");
                goto done;
            }
            p.temperature = (float)d;
        } else if ((r = cli_flag_value(argc, argv, &i, "--top-p", &v))) {
            if (r < 0 || cli_parse_double("--top-p", v, &d)) goto done;
            if (!(d > 0 && d <= 1)) {
                cli_dief("--top-p must be in (0, 1]");
                goto done;
            }
            p.top_p = (float)d;
        } else if ((r = cli_flag_value(argc, argv, &i, "--seed", &v))) {
            if (r < 0 || cli_parse_int("--seed", v, &ll)) goto done;
            p.seed = (uint64_t)ll;
        } else if ((r = cli_flag_value(argc, argv, &i, "--stop", &v))) {
            if (r < 0) goto done;
            if (!*v) {
                cli_dief("--stop: empty stop string");
                goto done;
            }
            stops[p.n_stop++] = v;
        } else if (cli_is_flag(argv, i, "--echo")) echo = 1;
        else if (cli_is_flag(argv, i, "--ignore-eos")) p.ignore_eos = 1;
        else if (cli_is_flag(argv, i, "--stats")) stats = 1;
        else if (cli_is_flag(argv, i, "--print-ids")) print_ids = 1;
        else {
            cli_dief("generate: unknown argument '%s' (see --help)", argv[i]);
            goto done;
        }
    }
    p.stop = stops;
    int n;
    if (!a.model) {
        cli_dief("generate: --model PATH is required (see --help)");
        goto done;
    }
    if (cli_open_model(&a, &m, &tok, 0, &e) || cli_prompt_ids(&a, tok, &ids, &n, &e)) {
        cli_die(&e);
        goto done;
    }
    if (p.n_stop && !tok) {
        cli_dief("%s: --stop needs a tokenizer to decode the text (give --tokenizer PATH)", a.model);
        goto done;
    }
    if (echo) {
        if (a.prompt) fputs(a.prompt, stdout);
        else if (tok) {
            size_t len;
            char *t = tok_decode(tok, ids, (size_t)n, TOK_SKIP_SPECIAL, &len, &e);
            if (t) fwrite(t, 1, len, stdout);
            free(t);
        }
    }
    if (!tok) p.on_text = NULL;
    const int32_t *pr[1] = {ids};
    if (qr_generate(m, tok, pr, &n, 1, &p, &out, &e)) {
        cli_die(&e);
        goto done;
    }
    if (!tok) // no tokenizer: the ids are the output
        for (int i = 0; i < out.n_tokens; i++) printf("%s%d", i ? " " : "", out.tokens[i]);
    putchar('\n');
    fflush(stdout);
    if (print_ids) {
        fprintf(stderr, "ids:");
        for (int i = 0; i < out.n_tokens; i++) fprintf(stderr, " %d", out.tokens[i]);
        fputc('\n', stderr);
    }
    if (stats)
        fprintf(stderr, "prompt %d tokens in %.3f s (%.1f tok/s); generated %d tokens in %.3f s (%.1f tok/s); finish: %s\n",
                n, out.t_prefill, n / (out.t_prefill > 0 ? out.t_prefill : 1e-9), out.n_tokens, out.t_decode,
                out.n_tokens / (out.t_decode > 0 ? out.t_decode : 1e-9), qr_finish_name(out.finish));
    rc = 0;
done:
    qr_completion_free(&out);
    free(ids);
    free(stops);
    if (tok) tok_free(tok);
    qr_model_free(m);
    return rc;
}
