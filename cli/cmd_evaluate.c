// qrobust evaluate: run generated samples against a benchmark's tests in the
// sandbox and report per-sample statuses and pass@k (EvalPlus-compatible files).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "eval/evaluate.h"
#include "eval/samplefile.h"
#include "util/fileio.h"
#include "util/progress.h"
#include "util/timer.h"

static void usage(void) {
    puts("usage: qrobust evaluate --dataset NAME (--samples FILE | --canonical) [--parallel N] [--out FILE]\n"
         "                        [--quiet] [options]\n"
         "\n"
         "Runs each sample's program against the dataset's tests in a sandbox (one process per\n"
         "sample and test set, no network, memory/CPU/file/process limits, a private directory)\n"
         "and judges it as EvalPlus does. Prints a summary; writes the per-sample statuses and\n"
         "pass@k as JSON (close to EvalPlus's eval_results.json).\n"
         "\n"
         "  --dataset NAME     humaneval | humaneval+ | mbpp | mbpp+ | mbpp+v0.1.0\n"
         "                     (humaneval/mbpp: the original assert tests; the '+' sets: EvalPlus's\n"
         "                     base and plus inputs compared with the canonical solution's outputs)\n"
         "  --samples FILE     JSON lines with \"task_id\" and \"solution\" (full program) or\n"
         "                     \"completion\" (appended to the task's prompt); .gz accepted\n"
         "  --canonical        evaluate the dataset's canonical solutions instead of a samples file\n"
         "  --out FILE         results JSON (default: FILE with .jsonl replaced by _eval_results.json;\n"
         "                     with --canonical: none unless given). Written atomically, only when\n"
         "                     the evaluation completes: an existing file is never half-overwritten.\n"
         "  --parallel N       concurrent workers (default: number of CPUs)\n"
         "  --quiet            no progress bar\n"
         "  --sanitize         first reduce each program as EvalPlus's sanitizer does (longest valid\n"
         "                     code block; imports and the definitions the entry point reaches)\n"
         "  --data FILE        the dataset file (default: data/<file> of the dataset)\n"
         "  --cache-dir DIR    where expected outputs are cached (default: $QROBUST_CACHE or\n"
         "                     ~/.cache/qrobust); --no-cache recomputes them\n"
         "  --min-time S       per-test CPU limit floor (default 1.0, EvalPlus's)\n"
         "  --time-factor X    per-test CPU limit = max(min-time, X * canonical CPU time) (default 4)\n"
         "  --set-cap S        CPU cap per test set (default 60; EvalPlus's per-task timeout)\n"
         "  --wall-slack X     wall-clock limit = X * CPU limit (default 4)\n"
         "  --memory-mb M      address-space limit per worker (default 4096, EvalPlus's)\n"
         "  --python PATH      interpreter for the workers (default: /usr/bin/python3, else python3\n"
         "                     in PATH; it must be readable by other users when run as root)\n"
         "\n"
         "Exit status: 0 evaluated (whatever the pass rate), 2 bad input (nothing written).\n"
         "\n"
         "example:\n"
         "  qrobust evaluate --dataset humaneval+ --samples samples.jsonl --out results.json");
}

static void progress_cb(void *ctx, const char *phase, int done, int total) {
    QrProgress *p = ctx;
    if (!p->label || strcmp(p->label, phase)) {
        if (p->label && p->done > 0) qr_progress_finish(p);
        qr_progress_init(p, phase, phase[0] == 's' ? "samples" : "test sets", total, p->quiet);
    }
    qr_progress_add(p, done - p->done);
}

static void print_set(const char *label, const QrDataset *ds, const QrSampleResult *r, size_t n, int plus) {
    int c[4] = {0};
    for (size_t i = 0; i < n; i++) {
        const QrSetResult *s = plus ? &r[i].plus : &r[i].base;
        if (s->status < QR_NOT_RUN) c[s->status]++;
    }
    printf("  %-22s", label);
    for (int k = 1; k <= 100; k *= 10) {
        double v = qr_results_pass_at_k(ds, r, n, plus, k);
        if (isfinite(v)) printf(" pass@%d=%.4f", k, v);
    }
    printf("   (%s: %d pass, %d fail, %d timeout, %d error)\n", plus ? "plus tests" : "base tests", c[0], c[1], c[2], c[3]);
}

int cmd_evaluate(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    const char *dataset = NULL, *samples = NULL, *out = NULL, *data = NULL, *cache = NULL, *python = NULL, *v;
    int quiet = 0, canonical = 0, sanitize = 0;
    QrEvalOptions o;
    qr_eval_options_default(&o);
    for (int i = 1; i < argc; i++) {
        int r;
        long long ll;
        double d;
        if ((r = cli_flag_value(argc, argv, &i, "--dataset", &dataset))) { if (r < 0) return 2; }
        else if ((r = cli_flag_value(argc, argv, &i, "--samples", &samples))) { if (r < 0) return 2; }
        else if ((r = cli_flag_value(argc, argv, &i, "--out", &out))) { if (r < 0) return 2; }
        else if ((r = cli_flag_value(argc, argv, &i, "--data", &data))) { if (r < 0) return 2; }
        else if ((r = cli_flag_value(argc, argv, &i, "--cache-dir", &cache))) { if (r < 0) return 2; }
        else if ((r = cli_flag_value(argc, argv, &i, "--python", &python))) { if (r < 0) return 2; }
        else if ((r = cli_flag_value(argc, argv, &i, "--parallel", &v))) {
            if (r < 0 || cli_parse_int("--parallel", v, &ll)) return 2;
            if (ll < 1 || ll > 256) return cli_dief("--parallel: must be 1..256");
            o.parallel = (int)ll;
        } else if ((r = cli_flag_value(argc, argv, &i, "--memory-mb", &v))) {
            if (r < 0 || cli_parse_int("--memory-mb", v, &ll)) return 2;
            if (ll < 64) return cli_dief("--memory-mb: at least 64");
            o.mem_bytes = (size_t)ll << 20;
        } else if ((r = cli_flag_value(argc, argv, &i, "--min-time", &v))) {
            if (r < 0 || cli_parse_double("--min-time", v, &d)) return 2;
            if (d <= 0) return cli_dief("--min-time: must be > 0");
            o.min_time = d;
        } else if ((r = cli_flag_value(argc, argv, &i, "--time-factor", &v))) {
            if (r < 0 || cli_parse_double("--time-factor", v, &d)) return 2;
            if (d <= 0) return cli_dief("--time-factor: must be > 0");
            o.time_factor = d;
        } else if ((r = cli_flag_value(argc, argv, &i, "--set-cap", &v))) {
            if (r < 0 || cli_parse_double("--set-cap", v, &d)) return 2;
            if (d <= 0) return cli_dief("--set-cap: must be > 0");
            o.set_cap = d;
        } else if ((r = cli_flag_value(argc, argv, &i, "--wall-slack", &v))) {
            if (r < 0 || cli_parse_double("--wall-slack", v, &d)) return 2;
            if (d < 1) return cli_dief("--wall-slack: must be >= 1");
            o.wall_slack = d;
        } else if (cli_is_flag(argv, i, "--quiet")) quiet = 1;
        else if (cli_is_flag(argv, i, "--canonical")) canonical = 1;
        else if (cli_is_flag(argv, i, "--sanitize")) sanitize = 1;
        else if (cli_is_flag(argv, i, "--no-cache")) o.no_cache = 1;
        else return cli_dief("evaluate: unknown argument '%s' (see --help)", argv[i]);
    }
    if (!dataset) return cli_dief("evaluate: --dataset is required (see --help)");
    if (!samples == !canonical) return cli_dief("evaluate: give exactly one of --samples FILE or --canonical");
    QrErr e;
    QrDataset ds;
    if (qr_dataset_load(&ds, dataset, data, &e)) return cli_die(&e);
    QrSampleSet set = {0};
    QrSample *sv;
    size_t n;
    if (canonical) {
        n = ds.n_tasks;
        sv = calloc(n, sizeof *sv);
        for (size_t i = 0; i < n; i++) sv[i].task_id = ds.tasks[i].task_id, sv[i].solution = ds.tasks[i].reference;
    } else {
        if (qr_samples_load(samples, &ds, &set, &e)) {
            qr_dataset_free(&ds);
            return cli_die(&e);
        }
        sv = set.s;
        n = set.n;
    }
    char outbuf[4096];
    if (!out && samples) {
        size_t l = strlen(samples);
        if (l > 6 && !strcmp(samples + l - 6, ".jsonl")) snprintf(outbuf, sizeof outbuf, "%.*s_eval_results.json", (int)(l - 6), samples);
        else snprintf(outbuf, sizeof outbuf, "%s_eval_results.json", samples);
        out = outbuf;
    }
    o.cache_dir = cache;
    o.sandbox.python = python;
    QrProgress prog = {0};
    prog.quiet = quiet;
    o.progress = progress_cb;
    o.progress_ctx = &prog;
    double t0 = qr_now();
    QrEvaluator *ev;
    int rc = 0;
    if (qr_evaluator_open(&ev, &ds, &o, &e)) {
        rc = cli_die(&e);
        goto done_ds;
    }
    char **clean = NULL;
    if (sanitize) {
        const char **progs = calloc(n, sizeof *progs), **entries = calloc(n, sizeof *entries);
        char **owned = calloc(n, sizeof *owned);
        clean = calloc(n, sizeof *clean);
        for (size_t i = 0; i < n; i++) {
            const QrProblem *p = qr_dataset_find(&ds, sv[i].task_id);
            progs[i] = sv[i].solution ? sv[i].solution : (owned[i] = qr_problem_program(p, sv[i].completion));
            entries[i] = p->entry_point;
        }
        int src = qr_evaluator_sanitize(ev, progs, entries, n, clean, &e);
        if (!src && qr_evaluator_sanitize_failures(ev))
            fprintf(stderr, "qrobust evaluate: warning: the sanitizer failed on %zu of %zu programs; they are judged as "
                            "given\n", qr_evaluator_sanitize_failures(ev), n);
        for (size_t i = 0; i < n; i++) free(owned[i]);
        free(progs), free(entries), free(owned);
        if (src) {
            free(clean);
            rc = cli_die(&e);
            goto done_ev0;
        }
        for (size_t i = 0; i < n; i++) sv[i].solution = clean[i], sv[i].completion = NULL;
    }
    QrSampleResult *res = calloc(n, sizeof *res);
    if (qr_evaluator_run(ev, sv, n, res, &e)) {
        rc = cli_die(&e);
        goto done_ev;
    }
    if (prog.label) qr_progress_finish(&prog);
    double wall = qr_now() - t0;
    const QrGroundTruthInfo *gt = qr_evaluator_ground_truth(ev);
    const QrSandboxInfo *si = qr_evaluator_sandbox(ev);
    int plus = qr_dataset_is_plus(ds.kind);
    printf("%s: %zu samples, %zu tasks, %s\n", ds.name, n, ds.n_tasks, canonical ? "canonical solutions" : samples);
    print_set(plus ? "base tests" : "original tests", &ds, res, n, 0);
    if (plus) print_set("base + plus tests", &ds, res, n, 1);
    printf("  wall %.1f s (expected outputs %s%.1f s), parallel %d, python %s\n", wall,
           gt->from_cache ? "from cache; " : "computed in ", gt->from_cache ? 0.0 : gt->seconds,
           o.parallel ? o.parallel : (int)sysconf(_SC_NPROCESSORS_ONLN), si->python_version);
    printf("  sandbox: network namespace %s, uid separation %s%s%s\n", si->netns ? "yes" : "NO", si->uid_drop ? "yes" : "NO",
           si->note[0] ? "; " : "", si->note);
    if (gt->n_failed) printf("  canonical solution failures: %d (%s)\n", gt->n_failed, gt->failures);
    if (out) {
        QrRunInfo info = {wall, o.parallel ? o.parallel : (int)sysconf(_SC_NPROCESSORS_ONLN), &o};
        json_t *j = qr_results_json(&ds, ev, res, n, &info);
        char *txt = json_dumps(j, JSON_INDENT(1) | JSON_ENSURE_ASCII);
        json_decref(j);
        if (!txt || qr_write_file_atomic(out, txt, strlen(txt), &e)) rc = txt ? cli_die(&e) : cli_dief("out of memory");
        else printf("  results: %s\n", out);
        free(txt);
    }
done_ev:
    for (size_t i = 0; i < n; i++) qr_sample_result_free(&res[i]);
    free(res);
    if (clean) {
        for (size_t i = 0; i < n; i++) free(clean[i]);
        free(clean);
    }
done_ev0:
    qr_evaluator_close(ev);
done_ds:
    if (canonical) free(sv);
    else qr_samples_free(&set);
    qr_dataset_free(&ds);
    return rc;
}
