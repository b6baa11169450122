// Judging generated code: the library behind `qrobust evaluate`, also called
// by the study runner. Faithful to EvalPlus v0.3.1 (evalplus.evaluate) where
// it matters for verdicts, faster and safer where it does not:
//
//   * Expected outputs come from running each canonical solution once on its
//     base and plus inputs in the same sandbox, with its per-input CPU time;
//     they are cached on disk, keyed by the dataset file's SHA-256, the
//     Python version and the worker harness (QrEvalOptions.cache_dir).
//   * Each sample is run once per test set (base, plus) in its own worker
//     process (eval/sandbox.h). The worker only computes outputs; this
//     process compares them (eval/judge.h), stopping at the first failure as
//     EvalPlus does by default.
//   * Time limits, per input i: CPU limit L_i = max(min_time, time_factor x
//     canonical CPU time of input i) (EvalPlus: the same rule on wall time,
//     1 s and 4x). The supervisor measures the worker's CPU clock, so a loaded
//     machine does not turn a correct sample into a timeout; a wall-clock
//     limit of wall_slack x L_i catches samples that sleep or block (it
//     applies while the worker uses under 5% of a CPU). Each test set also
//     has a cap of min(set_cap, sum L_i) + 1 CPU seconds (EvalPlus: the same
//     wall-clock cap, 60 s), which also bounds loading the solution.
//   * Statuses: pass; fail (a wrong output, or an AssertionError in the
//     original tests: first_fail is the input / assert index); timeout;
//     error (an exception: the line is in detail; the worker dying, e.g. on
//     the memory limit). EvalPlus reports fail for both fail and error.
//
// The datasets humaneval and mbpp (original tests) run the original assert
// code inside the worker, as the original harnesses do; their verdicts come
// from the worker and are therefore only as trustworthy as in-process asserts
// can be. The "+" datasets compare outside the worker.
#pragma once
#include <stddef.h>
#include "eval/dataset.h"
#include "eval/sandbox.h"
#include "util/err.h"

typedef enum { QR_PASS, QR_FAIL, QR_TIMEOUT, QR_ERROR, QR_NOT_RUN } QrStatus;
const char *qr_status_name(QrStatus s); // "pass" "fail" "timeout" "error" "not-run"

typedef struct {
    QrStatus status;
    int first_fail;   // input / assert index of the failure or timeout; -1 if none or not tied to an input
    int n_tests;      // inputs (or asserts) in the set
    char detail[200]; // why it did not pass (exception line, mismatch, limit), "" on pass
    double wall_s;    // wall time of the worker
} QrSetResult;

typedef struct {
    const char *task_id;
    const char *solution;   // a complete program, or NULL and then
    const char *completion; // appended to the task's prompt (EvalPlus: prompt + completion)
} QrSample;

typedef struct {
    int task;            // index into the dataset's tasks
    char *program;       // the program that was run (malloc'd)
    QrSetResult base;    // base tests (humaneval/mbpp: the original tests)
    QrSetResult plus;    // plus tests ("+" datasets), status QR_NOT_RUN otherwise
    char *output;        // first output_cap bytes of the base run's stdout+stderr (malloc'd, may be NULL)
    size_t output_total; // bytes the base run wrote in all
} QrSampleResult;

typedef struct {
    int parallel;        // concurrent workers; 0 = online CPUs
    double min_time;     // 1.0 s
    double time_factor;  // 4.0
    double set_cap;      // 60 s
    double wall_slack;   // 4.0
    double gt_cap;       // CPU cap for a canonical solution's whole test set: 600 s
    size_t mem_bytes;    // 4 GiB (RLIMIT_AS/DATA/STACK); 0 = unlimited
    size_t gt_mem_bytes; // memory limit for canonical solutions: 0 = unlimited (EvalPlus runs them unlimited)
    size_t fsize_bytes;  // 64 MiB per file written
    int nproc;           // 64 processes per worker uid (root only)
    size_t output_cap;   // 64 KiB of stdout+stderr kept per run
    const char *cache_dir; // NULL: $QROBUST_CACHE, $XDG_CACHE_HOME/qrobust or ~/.cache/qrobust
    int no_cache;          // 1: recompute expected outputs (and do not write the cache)
    QrSandboxOptions sandbox;
    // Progress: called after each finished sample (done of total) from the
    // evaluating thread; phase is "ground truth" or "samples".
    void (*progress)(void *ctx, const char *phase, int done, int total);
    void *progress_ctx;
} QrEvalOptions;

void qr_eval_options_default(QrEvalOptions *o);

typedef struct {
    int from_cache;      // 1: loaded from cache_path
    double seconds;      // time to compute (0 when loaded)
    char cache_path[512];
    int n_failed;        // canonical test inputs that raised / failed (listed in failures)
    char failures[1024]; // "task_id set#index: line; ..." (truncated)
} QrGroundTruthInfo;

typedef struct QrEvaluator QrEvaluator;

// Starts the sandbox and loads or computes the expected outputs of ds (which
// must outlive the evaluator).
int qr_evaluator_open(QrEvaluator **ev, const QrDataset *ds, const QrEvalOptions *o, QrErr *e);
// Judges n samples (any order, any number per task). out[i] belongs to
// samples[i]; free each with qr_sample_result_free. Fails only on bad input
// (unknown task_id: nothing is run) or a broken sandbox.
int qr_evaluator_run(QrEvaluator *ev, const QrSample *samples, size_t n, QrSampleResult *out, QrErr *e);
void qr_sample_result_free(QrSampleResult *r);
// EvalPlus's sanitize(program, entry_point) (evalplus/sanitize.py) for n
// programs, in sandboxed workers (the text is parsed, never run): the longest
// syntactically valid run of lines, reduced to its top-level imports and the
// functions / classes / assignments reachable from the entry point. out[i]
// is malloc'd; a program the sanitizer cannot handle (its worker crashed or
// ran out of time) is returned unchanged and counted: callers say so, since
// EvalPlus would have judged the sanitized text.
// entry_points may be NULL (keep every definition).
int qr_evaluator_sanitize(QrEvaluator *ev, const char *const *programs, const char *const *entry_points, size_t n,
                          char **out, QrErr *e);
// How many programs qr_evaluator_sanitize has returned unchanged so far.
size_t qr_evaluator_sanitize_failures(const QrEvaluator *ev);
const QrSandboxInfo *qr_evaluator_sandbox(const QrEvaluator *ev);
const QrGroundTruthInfo *qr_evaluator_ground_truth(const QrEvaluator *ev);
// The CPU time limit of a test (seconds), for reports and tests.
double qr_evaluator_time_limit(const QrEvaluator *ev, int task, int plus, int index);
void qr_evaluator_close(QrEvaluator *ev);

// pass@k over the results: per task, n = its samples, c = samples that pass
// (plus = 0: base passes; plus = 1: base and plus pass, EvalPlus's "+" score),
// averaged over tasks with at least k samples... only when every task has
// n >= k (as EvalPlus). NaN when not defined.
double qr_results_pass_at_k(const QrDataset *ds, const QrSampleResult *r, size_t n, int plus, int k);
