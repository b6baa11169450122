// EvalPlus-style files around an evaluation:
//   samples.jsonl    one JSON object per line: "task_id" and "solution" (a
//                    complete program) or "completion" (appended to the
//                    task's prompt); other fields are ignored.
//   results JSON     close to EvalPlus's eval_results.json: "date", "hash",
//                    "eval": {task_id: [{task_id, solution, base_status,
//                    plus_status, base_fail_tests, plus_fail_tests}, ...]},
//                    plus qrobust's additions (statuses "error", the failing
//                    index and reason, pass@k, the sandbox's isolation, limits).
#pragma once
#include <jansson.h>
#include <stddef.h>
#include "eval/evaluate.h"

typedef struct {
    QrSample *s;       // task_id / solution / completion point into owned strings
    size_t n;
    char **strings;    // everything allocated, freed by qr_samples_free
    size_t n_strings;
} QrSampleSet;

// Reads a samples file (plain or gzip). Errors name the file and line: bad
// JSON, a missing/non-string task_id, neither solution nor completion, a
// task_id not in ds (when ds is given), an empty file.
int qr_samples_load(const char *path, const QrDataset *ds, QrSampleSet *out, QrErr *e);
void qr_samples_free(QrSampleSet *s);

typedef struct {
    double wall_s;           // whole evaluation
    int parallel;
    const QrEvalOptions *opt;
} QrRunInfo;

// The results document (new reference; json_decref it).
json_t *qr_results_json(const QrDataset *ds, QrEvaluator *ev, const QrSampleResult *r, size_t n, const QrRunInfo *info);
