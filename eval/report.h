// Reports: from a results directory (or a table of published pass@1 values)
// to the study's Table I (RRS with arrows), pass@1 and %Δ tables with 95%
// intervals and McNemar tests, the summary shares, Figure 3 (noise curves),
// the noise-target confound figure, Figures 4-5 (precision comparison) as SVG,
// and one self-contained HTML page. Everything is recomputed from the inputs.
//
// Statistics (see eval/metrics.h for the definitions):
// - pass@1 intervals: the bootstrap percentile interval over tasks; for
//   binary per-task outcomes (greedy, n = 1) its exact limit B -> inf is used
//   (Binomial(n, p)/n quantiles), else B seeded resamples.
// - %Δ, RRS and drop-difference intervals: B paired resamples of tasks
//   (tasks present in every cell compared), seed --seed.
// - McNemar (exact) on sample 0 of each task for clean vs attack (same model)
//   and original vs quantized (same condition).
// - A Table I cell is "significant" when the interval of d_o - d_q excludes 0.
#pragma once
#include <stdint.h>
#include "eval/metrics.h"
#include "eval/plan.h"
#include "eval/results.h"
#include "util/err.h"

typedef struct {
    char model[160], precision[8], cond[128], dataset[16];
    QrCond c;      // parsed condition (kind, level, target)
    double pass1;  // mean over tasks of the per-task pass share
    int n_tasks;   // 0: only the aggregate is known (--pass-rates)
    char **task_ids;   // [n_tasks], sorted by strcmp
    double *score;     // [n_tasks] passes / samples
    unsigned char *first; // [n_tasks] sample 0 passed
} QrCell;

typedef struct {
    QrCell *cells;
    int n, cap;
    char models[64][160]; // in order of first appearance
    int n_models;
    int from_csv;
} QrCells;

typedef struct {
    int bootstrap;  // replicates (default 2000)
    uint64_t seed;  // bootstrap seed (default 0)
    double alpha;   // 0.05
    const char *title;
} QrReportOpts;

typedef struct {
    int table1_cells;
    QrShares shares;
    int n_svg;
    char files[32][64];
    int n_files;
} QrReportSummary;

int qr_cells_from_store(const QrStore *s, QrCells *c, QrErr *e);
// CSV with a header naming the columns model, precision, dataset, condition,
// pass@1 (any order, extra columns ignored). pass@1 as a fraction, or as a
// percentage when any value in the file exceeds 1 (a trailing % is allowed).
int qr_cells_from_csv(const char *path, QrCells *c, QrErr *e);
void qr_cells_free(QrCells *c);
int qr_report_write(const QrCells *c, const char *outdir, const QrReportOpts *o, QrReportSummary *sum, QrErr *e);
