// The study's loop: for every unit of the plan in this shard (eval/plan.h),
// generate the completions the store lacks, judge the ones not yet judged,
// append both to the store (eval/results.h) batch by batch, and print one
// line per finished unit. Resuming is running again: finished keys are
// skipped, so an interrupted run continued gives the same lines as one that
// was never interrupted (generation is deterministic per task and sample).
#pragma once
#include <stdio.h>
#include "eval/backend.h"
#include "eval/plan.h"
#include "eval/results.h"

typedef struct {
    int quiet;        // no progress bars, no per-unit lines
    FILE *summary;    // per-unit lines (stdout by default)
} QrRunOpts;

// Refuses (checked first) a store that holds generations of another
// post-processing mode.
int qr_run(const QrPlan *p, QrBackend *b, QrStore *s, const QrRunOpts *o, QrErr *e);
// Fails when the store holds generations post-processed otherwise than mode
// ("evalplus" | "raw"; lines from before the modes existed count as raw):
// their keys differ, so they would not be resumed but mixed into one report.
int qr_store_check_postprocess(const QrStore *s, const char *mode, QrErr *e);
// --dry-run: prints the plan, its size, what the store already has, and an
// estimate of the time left. s may be NULL (no results directory yet).
int qr_plan_print(FILE *f, const QrPlan *p, QrBackend *b, const QrStore *s, QrErr *e);
// The plan as JSON (written to DIR/plan.json as a record of what ran).
json_t *qr_plan_json(const QrPlan *p);
