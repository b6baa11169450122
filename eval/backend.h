// What the runner needs from the other stages, as one function table, so the
// study's loop (eval/runner.c) is written once and runs either on the real
// stages (weights/ + tokenizer/ + quant/ + runtime/ + attacks/ + eval/) or on
// a deterministic fake (eval/backend_fake.c) that tests the loop, the store,
// resume, sharding and reports without a model.
#pragma once
#include <stdint.h>
#include "eval/plan.h"
#include "util/err.h"

typedef struct {
    char *task_id;
    char *prompt; // the clean prompt the model completes
} QrRunTask;

typedef struct {
    QrRunTask *tasks;
    int n;
} QrRunTaskList;

typedef struct {
    char *completion;  // malloc'd; what the model wrote after the prompt, as it is judged
    char finish[8];    // "eos" | "stop" | "length" | "context"
    int n_prompt_tokens, n_gen_tokens;
} QrGenResult;

typedef struct {
    char status[8];   // "pass" | "fail" | "timeout" | "error"
    int first_fail;   // index of the first failing input (fail), else -1
    char detail[200]; // exception line or note, may be empty
} QrVerdict;

typedef struct {
    QrVerdict base, plus;
    // The program that was judged when it is not the dataset prompt +
    // completion (--postprocess evalplus: the sanitized solution); malloc'd
    // or NULL. Recorded in the execution line.
    char *solution;
} QrExecResult;

typedef struct QrBackend QrBackend;
struct QrBackend {
    const char *name; // recorded with every result line
    void *self;
    // Rejects a plan this backend cannot run (a stage not in this build, a
    // precision it lacks), before any work starts. May be NULL.
    int (*check)(QrBackend *b, const QrPlan *p, QrErr *e);
    // Tasks of a generation set ("humaneval" | "mbpp") with their clean prompts.
    int (*load_tasks)(QrBackend *b, const char *genset, QrRunTaskList *out, QrErr *e);
    // The prompt under a prompt attack; *engine names what produced it.
    int (*perturb)(QrBackend *b, const QrPlan *p, const QrCond *c, const char *genset, const QrRunTask *t, char **out,
                   char *engine, size_t engine_len, QrErr *e);
    // Loads a model at a precision (replaces any loaded one).
    int (*model_load)(QrBackend *b, const QrPlan *p, const QrModelSpec *m, const char *precision, QrErr *e);
    // Puts the loaded model's weights in the state of a condition: noise for
    // gaussian/uniform (from the plan seed), clean weights for anything else.
    int (*model_condition)(QrBackend *b, const QrPlan *p, const QrCond *c, QrErr *e);
    // Completes n prompts of generation set genset ("humaneval" | "mbpp": it
    // decides the stop strings); seeds[i] seeds sample i when sampling. The
    // prompts are what the model receives (the runner has applied the plan's
    // post-processing mode to them: qr_model_prompt, eval/postprocess.h).
    int (*generate)(QrBackend *b, const QrPlan *p, const char *genset, int n, const char *const *prompts,
                    const uint64_t *seeds, QrGenResult *out, QrErr *e);
    void (*model_unload)(QrBackend *b);
    // Judges n completions of tasks of a generation set (base and plus tests),
    // post-processed as the plan says; prompts[i] is the text the model
    // received for completions[i].
    int (*evaluate)(QrBackend *b, const QrPlan *p, const char *genset, int n, const QrRunTask *const *tasks,
                    const char *const *prompts, const char *const *completions, QrExecResult *out, QrErr *e);
    void (*destroy)(QrBackend *b);
};

int qr_backend_fake(QrBackend *b, QrErr *e);
// The real stages (eval/backend_real.c); its check() names any stage the plan
// needs that this build does not have yet.
int qr_backend_real(QrBackend *b, QrErr *e);
// What the real backend stores for the decoded output of generation set
// genset, in either post-processing mode: EvalPlus's cut for the dataset
// family (eval/postprocess.h: earliest stop string, 10000 characters, tabs
// as 4 spaces); malloc'd.
char *qr_real_completion(const char *genset, const char *text);
int qr_backend_create(const char *name, QrBackend *b, QrErr *e);
void qr_tasklist_free(QrRunTaskList *t);
