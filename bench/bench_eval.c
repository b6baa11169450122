// Evaluator throughput: the canonical solutions of HumanEval+ (164, all base
// and plus inputs) and MBPP+ (378) judged in the sandbox, one worker per CPU.
// Reports wall time, samples/s and test inputs/s of the judging phase; the
// expected outputs come from the cache (~/.cache/qrobust or $QROBUST_CACHE)
// when present and are computed (and timed separately) otherwise.
// QROBUST_BENCH_EVAL=humaneval+ limits the run to one dataset.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "eval/evaluate.h"
#include "util/timer.h"

static int bench(const char *name) {
    QrDataset ds;
    QrErr e;
    if (qr_dataset_load(&ds, name, NULL, &e)) {
        fprintf(stderr, "bench_eval: %s\n", e.msg);
        return 1;
    }
    QrEvalOptions o;
    qr_eval_options_default(&o);
    double t0 = qr_now();
    QrEvaluator *ev;
    if (qr_evaluator_open(&ev, &ds, &o, &e)) {
        fprintf(stderr, "bench_eval: %s\n", e.msg);
        qr_dataset_free(&ds);
        return 1;
    }
    double t_open = qr_now() - t0;
    QrSample *s = calloc(ds.n_tasks, sizeof *s);
    QrSampleResult *r = calloc(ds.n_tasks, sizeof *r);
    size_t inputs = 0;
    for (size_t i = 0; i < ds.n_tasks; i++) {
        s[i] = (QrSample){ds.tasks[i].task_id, ds.tasks[i].reference, NULL};
        inputs += ds.tasks[i].base.n + ds.tasks[i].plus.n;
    }
    double t1 = qr_now();
    int rc = qr_evaluator_run(ev, s, ds.n_tasks, r, &e);
    double wall = qr_now() - t1;
    if (rc) {
        fprintf(stderr, "bench_eval: %s\n", e.msg);
    } else {
        int pass = 0;
        for (size_t i = 0; i < ds.n_tasks; i++) pass += r[i].base.status == QR_PASS && r[i].plus.status == QR_PASS;
        const QrGroundTruthInfo *gt = qr_evaluator_ground_truth(ev);
        double load[3];
        getloadavg(load, 3);
        printf("%-11s %3zu canonical solutions, %6zu test inputs: %6.1f s wall, %6.1f samples/s, %8.0f inputs/s, "
               "%zu/%zu pass base+plus; expected outputs %s %.1f s; parallel %ld; load %.1f\n",
               name, ds.n_tasks, inputs, wall, (double)ds.n_tasks / wall, (double)inputs / wall, (size_t)pass, ds.n_tasks,
               gt->from_cache ? "loaded in" : "computed in", gt->from_cache ? t_open : gt->seconds,
               sysconf(_SC_NPROCESSORS_ONLN), load[0]);
    }
    for (size_t i = 0; i < ds.n_tasks; i++) qr_sample_result_free(&r[i]);
    free(r);
    free(s);
    qr_evaluator_close(ev);
    qr_dataset_free(&ds);
    return rc ? 1 : 0;
}

int main(void) {
    const char *only = getenv("QROBUST_BENCH_EVAL");
    int rc = 0;
    if (!only || !strcmp(only, "humaneval+")) rc |= bench("humaneval+");
    if (!only || !strcmp(only, "mbpp+")) rc |= bench("mbpp+");
    return rc;
}
