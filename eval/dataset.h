// The four code-generation benchmarks of the study, loaded from the project's
// own copies of the published files (data/, see data/SOURCES.md):
//
//   name          file                          tasks  tests
//   humaneval     HumanEval.jsonl.gz            164    the original check(candidate) function
//   humaneval+    HumanEvalPlus.jsonl.gz        164    EvalPlus v0.1.10 base + plus inputs (differential)
//   mbpp          mbpp.jsonl.gz                 500    original MBPP test split (task ids 11..510), asserts
//   mbpp+         MbppPlus.jsonl.gz             378    EvalPlus MBPP+ v0.2.0 base + plus inputs
//   mbpp+v0.1.0   MbppPlus-v0.1.0.jsonl.gz      399    EvalPlus MBPP+ v0.1.0
//
// Prompts are the ones the study gives BASE models (no chat template):
//   * HumanEval(+): the `prompt` field as is (signature + docstring); the model's
//     completion is appended to it.
//   * MBPP+: the `prompt` field, a 4-line docstring: `"""`, the description,
//     one assert, `"""` (each line ends with '\n').
//   * MBPP: built the same way from `text` and the first of `test_list`.
// For every dataset the program that is executed for a completion is
// prompt + completion (qr_problem_program), as EvalPlus does.
//
// Test inputs of the "+" datasets are kept as CPython marshal data (see
// eval/pyval.h) ready to be sent to a worker, after the conversions EvalPlus
// applies at load time (MBPP+: lists that are really tuples / sets / complex
// numbers, `mbpp_deserialize_inputs`).
//
// Usage:
//   QrDataset ds; QrErr e;
//   if (qr_dataset_load(&ds, "humaneval+", NULL, &e)) { ...e.msg... }
//   const QrProblem *t = qr_dataset_find(&ds, "HumanEval/0");
//   ... t->prompt, t->entry_point, t->base.n, t->plus.n ...
//   qr_dataset_free(&ds);
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "eval/pyval.h"
#include "util/err.h"

typedef enum {
    QR_DS_HUMANEVAL,
    QR_DS_HUMANEVAL_PLUS,
    QR_DS_MBPP,
    QR_DS_MBPP_PLUS,
    QR_DS_MBPP_PLUS_V010,
    QR_DS_COUNT
} QrDatasetKind;

// One set of differential test inputs. data is the marshal encoding of a
// Python list whose items are the argument lists (or tuples) of the calls
// fn(*args); item i occupies data[off[i] .. off[i+1]).
typedef struct {
    uint8_t *data;
    size_t len;
    uint32_t n;   // number of inputs
    uint32_t *off; // n + 1 offsets into data
} QrInputs;

typedef struct {
    char *task_id;            // "HumanEval/0", "Mbpp/2" (MBPP original: "Mbpp/11")
    int number;               // the number in task_id
    char *prompt;             // what a base model is given (see above)
    char *entry_point;        // the function the tests call
    char *canonical_solution; // the field as published (HumanEval: a body to append to the prompt)
    char *reference;          // complete reference program (prompt + canonical_solution, or MBPP's code)
    char *text;               // MBPP(+) task description (NULL for HumanEval)
    char *contract;           // "+" datasets: EvalPlus's input-validity asserts (informational), else NULL
    // Original tests (humaneval, mbpp): the Python source that checks a
    // solution. humaneval: the `test` field (defines check(candidate));
    // mbpp: test_setup_code. NULL for the "+" datasets.
    char *test;
    // Assert statements: mbpp's test_list, mbpp+'s `assertion` lines, NULL/0 else.
    char **asserts;
    uint32_t n_asserts;
    // Differential tests ("+" datasets only; n == 0 otherwise).
    QrInputs base, plus;
    double atol; // EvalPlus's per-task absolute tolerance (0 = exact)
} QrProblem;

typedef struct {
    QrDatasetKind kind;
    const char *name;   // canonical name, e.g. "humaneval+"
    char *path;         // the file that was read
    char sha256[65];    // hex SHA-256 of the file's bytes as stored (the cache key for expected outputs)
    QrProblem *tasks;      // in file order
    size_t n_tasks;
} QrDataset;

// "humaneval", "humaneval+", "mbpp", "mbpp+", "mbpp+v0.1.0" (also accepted:
// "humanevalplus", "mbppplus", case-insensitive). 0 ok, -1 unknown.
int qr_dataset_kind(const char *name, QrDatasetKind *kind);
const char *qr_dataset_kind_name(QrDatasetKind kind);
// The file name under data/ for a kind.
const char *qr_dataset_file_name(QrDatasetKind kind);
// 1 for humaneval+/mbpp+ (base/plus differential tests), 0 for assert tests.
int qr_dataset_is_plus(QrDatasetKind kind);
// 1 for the MBPP family (EvalPlus's special oracles are keyed on it).
int qr_dataset_is_mbpp(QrDatasetKind kind);

// Where data files are looked for: $QROBUST_DATA if set, else ./data, else
// data/ next to the running executable (or one level up, for build/ binaries).
// Writes the path of `file` into out. -1 when not found (message names the
// places tried).
int qr_data_path(const char *file, char *out, size_t n, QrErr *e);

// Loads dataset `name`. path NULL: the default file found by qr_data_path;
// otherwise that file (plain or gzip JSONL, or MBPP's JSONL). On error nothing
// is left allocated and e names the file and line.
int qr_dataset_load(QrDataset *ds, const char *name, const char *path, QrErr *e);
void qr_dataset_free(QrDataset *ds);

const QrProblem *qr_dataset_find(const QrDataset *ds, const char *task_id);

// The program executed for a model completion: prompt + completion (malloc'd).
char *qr_problem_program(const QrProblem *t, const char *completion);

// Decodes input i of the base (plus = 0) or plus (plus = 1) set: a PV_LIST or
// PV_TUPLE of arguments, allocated in a.
PyVal *qr_problem_input(const QrProblem *t, int plus, uint32_t i, QrArena *a, QrErr *e);
