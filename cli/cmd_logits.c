// qrobust logits: one forward pass, the last position's logits as JSON — the
// tool for checking a checkpoint against another implementation.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/model_args.h"
#include "runtime/sampler.h"

static void usage(void) {
    printf("usage: qrobust logits --model PATH (--prompt TEXT | --prompt-file F | --ids \"1 2 3\") [--top K]\n"
           "\n"
           "Runs one forward pass over the prompt and prints, as one JSON object on one line, the\n"
           "logits of the last position: {\"ids\": [...], \"logits\": [...all vocab_size values...]},\n"
           "or with --top K the K largest as {\"ids\": [...], \"top\": [{\"id\": 42, \"logit\": 7.25}, ...]}\n"
           "(descending; ties by lower id). Values print with 9 significant digits (exact float32).\n"
           "\n"
           "%s%s"
           "  --top K             print only the K largest logits\n"
           "\n"
           "examples:\n"
           "  qrobust logits --model ../shared/models/stories260K/stories260K.gguf --prompt \"Once upon\" --top 5\n"
           "  qrobust logits --model tests/fixtures/llama-tiny/untied-f32 --ids \"1 105 116\"\n",
           CLI_MODEL_HELP, CLI_PROMPT_HELP);
}

int cmd_logits(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    CliModelArgs a = {0};
    long long top = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        const char *v;
        if ((r = cli_model_flag(argc, argv, &i, &a))) {
            if (r < 0) return 2;
        } else if ((r = cli_flag_value(argc, argv, &i, "--top", &v))) {
            if (r < 0 || cli_parse_int("--top", v, &top)) return 2;
            if (top < 1) return cli_dief("--top must be at least 1");
        } else
            return cli_dief("logits: unknown argument '%s' (see --help)", argv[i]);
    }
    QrModel *m;
    Tokenizer *tok;
    int32_t *ids = NULL;
    int n = 0;
    QrErr e;
    if (!a.model) return cli_dief("logits: --model PATH is required (see --help)");
    if (cli_open_model(&a, &m, &tok, 0, &e)) return cli_die(&e);
    int rc = 2;
    float *lg = NULL;
    int *pos = NULL, *seq = NULL;
    if (cli_prompt_ids(&a, tok, &ids, &n, &e)) {
        cli_die(&e);
        goto done;
    }
    int V = m->cfg.vocab_size;
    lg = malloc((size_t)V * sizeof *lg);
    pos = malloc((size_t)n * sizeof *pos);
    seq = calloc((size_t)n, sizeof *seq);
    if (!lg || !pos || !seq) {
        cli_dief("out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) pos[i] = i;
    QrBatch b = {n, ids, pos, seq, NULL};
    if (qr_model_reserve(m, 1, n, n < 512 ? n : 512, &e) || qr_model_forward(m, &b, lg, &e)) {
        cli_die(&e);
        goto done;
    }
    json_t *o = json_object(), *ja = json_array(), *res = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(ja, json_integer(ids[i]));
    json_object_set_new(o, "ids", ja);
    if (top) {
        int k = top < V ? (int)top : V;
        int *best = malloc((size_t)k * sizeof *best);
        if (!best || qr_topk(lg, V, k, best) < 0) {
            free(best);
            json_decref(o);
            json_decref(res);
            cli_dief("out of memory");
            goto done;
        }
        for (int i = 0; i < k; i++) {
            json_t *p = json_object();
            json_object_set_new(p, "id", json_integer(best[i]));
            json_object_set_new(p, "logit", json_real(lg[best[i]]));
            json_array_append_new(res, p);
        }
        free(best);
        json_object_set_new(o, "top", res);
    } else {
        for (int i = 0; i < V; i++) json_array_append_new(res, json_real(lg[i]));
        json_object_set_new(o, "logits", res);
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(o);
    if (!s) {
        cli_dief("out of memory");
        goto done;
    }
    puts(s);
    free(s);
    rc = 0;
done:
    free(lg);
    free(pos);
    free(seq);
    free(ids);
    if (tok) tok_free(tok);
    qr_model_free(m);
    return rc;
}
