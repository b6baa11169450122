// qrobust run: the whole study, resumably (eval/plan.h, eval/runner.h).
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "eval/backend.h"
#include "eval/plan.h"
#include "eval/results.h"
#include "eval/runner.h"
#include "util/fileio.h"

static void help(void) {
    puts("usage: qrobust run --model [NAME=]PATH [--model ...] --out DIR [flags]\n"
         "\n"
         "Runs the robustness study: every model at each precision, clean and under each\n"
         "attack, on HumanEval(+) and MBPP(+); generations and verdicts are appended to\n"
         "DIR/generations.jsonl and DIR/executions.jsonl. Rerunning the same command\n"
         "resumes: finished work is skipped. `qrobust report DIR` writes the tables and\n"
         "figures. Everything is validated before any work starts.\n"
         "\n"
         "what to run\n"
         "  --model [NAME=]PATH    HF checkpoint directory or .gguf file (repeatable)\n"
         "  --config FILE          JSON object with any of these options (flags override it),\n"
         "                         e.g. {\"models\": [\"m/ds-1.3b\"], \"precisions\": [\"fp32\", \"nf4\"]}\n"
         "  --precisions LIST      fp32,fp16,bf16,int8,nf4            (default fp32,int8,nf4)\n"
         "  --attacks LIST         clean,char,word,sentence,gaussian,uniform   (default: all)\n"
         "  --noise-levels LIST    noise std (gaussian) / half-width (uniform)\n"
         "                         (default 1e-4,1e-3,3e-3,5e-3,1e-2, the study's)\n"
         "  --noise-targets LIST   all,unquantized-only,pre-quant,post-quant (default all);\n"
         "                         targets other than all run for int8/nf4 only\n"
         "  --datasets LIST        humaneval,mbpp (default both; humaneval+/mbpp+ accepted: the\n"
         "                         + verdicts always come from the same generations)\n"
         "  --limit N              only the first N tasks of each dataset (default all)\n"
         "generation\n"
         "  --n-samples N          samples per task (default 1; > 1 needs --temperature > 0)\n"
         "  --temperature T        0 = greedy (default 0)\n"
         "  --top-p P              (default 0.95; used when sampling)\n"
         "  --max-new-tokens N     (default 512)\n"
         "  --postprocess M        evalplus (default): as EvalPlus v0.3.1 codegen for a base model: the\n"
         "                         model gets prompt.strip() + \"\\n\", output cut at EvalPlus's stop strings,\n"
         "                         the sanitized prompt + completion is judged; raw: the prompt as is,\n"
         "                         the same cut, dataset prompt + completion judged (no sanitizer).\n"
         "                         Part of the results' keys: one mode per --out directory\n"
         "  --seed S               seeds sampling, prompt attacks and weight noise (default 0)\n"
         "  --batch N              sequences generated together (default 8)\n"
         "  --threads N            CPU threads (default: all cores)\n"
         "  --device D             cpu (default) | cuda (a `make CUDA=1` build, llama-family models;\n"
         "                         the lines then name backend \"cuda\")\n"
         "prompt attacks\n"
         "  --char-p P --char-cap N     character attack (default 0.5, 5)\n"
         "  --word-p P --word-k N       synonym attack (default 0.15, 3)\n"
         "  --sentence-engine E         mbart (default; needs --translator DIR) | apertium\n"
         "  --translator DIR            mBART-50 many-to-many checkpoint directory\n"
         "execution\n"
         "  --parallel N           sandbox workers (default: one per core)\n"
         "  --generate-only        write generations only; a later run without it judges them\n"
         "                         (e.g. generate on a GPU node, judge on a CPU node)\n"
         "  --backend B            real (default) | fake (a deterministic stand-in model and judge,\n"
         "                         for testing the pipeline without a model)\n"
         "scale-out and output\n"
         "  --out DIR              results directory (created; required)\n"
         "  --shard i/N            run only shard i of N (0-based; units dealt round-robin);\n"
         "                         give each shard its own --out and `qrobust merge` them\n"
         "  --dry-run              print the plan, its size, what DIR already has, a time estimate\n"
         "  --quiet                no progress bars and no per-unit lines\n"
         "\n"
         "example:\n"
         "  qrobust run --model tests/fixtures/stories260K/stories260K.gguf --precisions fp32,int8,nf4 \\\n"
         "      --attacks clean,char,gaussian --noise-levels 1e-3,1e-2 --limit 10 --out results/tiny\n"
         "  qrobust report results/tiny");
}

int cmd_run(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) { help(); return 0; }
    QrPlan *p = malloc(sizeof *p);
    qr_plan_defaults(p);
    QrErr e;
    const char *out = NULL, *config = NULL;
    int dry = 0, quiet = 0, rc = 2;
    // The config first, so flags override it wherever they stand.
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = cli_flag_value(argc, argv, &i, "--config", &v);
        if (r < 0) goto done;
        if (r) config = v;
    }
    if (config && qr_plan_load_config(p, config, &e)) { rc = cli_die(&e); goto done; }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--dry-run")) { dry = 1; continue; }
        if (!strcmp(a, "--quiet")) { quiet = 1; continue; }
        if (!strcmp(a, "--generate-only")) { p->generate_only = 1; continue; }
        int r = cli_flag_value(argc, argv, &i, "--out", &v);
        if (r < 0) goto done;
        if (r) { out = v; continue; }
        if ((r = cli_flag_value(argc, argv, &i, "--config", &v)) != 0) { if (r < 0) goto done; continue; }
        if (strncmp(a, "--", 2)) { rc = cli_dief("run: unexpected argument '%s' (see qrobust run --help)", a); goto done; }
        char name[64];
        size_t n = strcspn(a + 2, "=");
        if (n >= sizeof name) { rc = cli_dief("run: unknown flag '%s'", a); goto done; }
        memcpy(name, a + 2, n);
        name[n] = 0;
        char flag[80];
        snprintf(flag, sizeof flag, "--%s", name);
        if ((r = cli_flag_value(argc, argv, &i, flag, &v)) < 0) goto done;
        if (qr_plan_set(p, name, v, &e)) {
            if (!strncmp(e.msg, "unknown option", 14)) rc = cli_dief("run: unknown flag '%s' (see qrobust run --help)", a);
            else rc = cli_die(&e);
            goto done;
        }
    }
    if (!out && !dry) { rc = cli_dief("run: --out DIR is required (the results directory)"); goto done; }
    if (qr_plan_finalize(p, &e)) { rc = cli_die(&e); goto done; }
    QrBackend b;
    if (qr_backend_create(p->backend, &b, &e)) { rc = cli_die(&e); goto done; }
    if (b.check && b.check(&b, p, &e)) { b.destroy(&b); rc = cli_die(&e); goto done; }
    if (dry) {
        QrStore s, *sp = NULL;
        if (out && qr_is_dir(out)) {
            if (qr_store_open(&s, out, 0, &e)) { b.destroy(&b); rc = cli_die(&e); goto done; }
            if (qr_store_check_postprocess(&s, p->postprocess, &e)) { qr_store_close(&s); b.destroy(&b); rc = cli_die(&e); goto done; }
            sp = &s;
        }
        rc = qr_plan_print(stdout, p, &b, sp, &e) ? cli_die(&e) : 0;
        if (sp) qr_store_close(sp);
        b.destroy(&b);
        goto done;
    }
    QrStore s;
    if (qr_store_open(&s, out, 1, &e)) { b.destroy(&b); rc = cli_die(&e); goto done; }
    // Before plan.json is rewritten: a refused run leaves the directory as it was.
    if (qr_store_check_postprocess(&s, p->postprocess, &e)) { qr_store_close(&s); b.destroy(&b); rc = cli_die(&e); goto done; }
    if (s.n_torn || s.n_bad)
        fprintf(stderr, "qrobust: %s: ignored %d torn and %d unreadable line(s) left by an interrupted run\n", out, s.n_torn, s.n_bad);
    char pp[1100];
    snprintf(pp, sizeof pp, "%s/plan.json", out);
    json_t *pj = qr_plan_json(p);
    char *txt = json_dumps(pj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(pj);
    int wrc = qr_write_file_atomic(pp, txt, strlen(txt), &e);
    free(txt);
    if (wrc) { qr_store_close(&s); b.destroy(&b); rc = cli_die(&e); goto done; }
    QrRunOpts o = {.quiet = quiet, .summary = stdout};
    if (qr_run(p, &b, &s, &o, &e)) {
        rc = cli_die(&e);
    } else {
        rc = 0;
        if (!quiet) printf("done: %d generations, %d executions in %s (qrobust report %s)\n", s.n[QR_GEN], s.n[QR_EXEC], out, out);
    }
    qr_store_close(&s);
    b.destroy(&b);
done:
    free(p);
    return rc;
}
