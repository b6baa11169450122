// A deterministic stand-in for the model and the judge, for testing the
// study's loop end to end without a model (`qrobust run --backend fake`).
//
// Tasks: 12 per generation set ("HumanEval/0".., "Mbpp/2"..) with short
// prompts. A completion is a pure function of (model, precision, condition,
// prompt, seed); its verdicts are written into it ("# verdict base=pass
// plus=fail") and read back by the fake judge, so the store and the resume
// logic see realistic data. Pass probability: 0.7 for the first model, lower
// for later ones, lowered by prompt attacks and by noise in proportion to its
// level, less for quantized models under `unquantized-only` noise (the
// study's confound), so reports have shape.
// QROBUST_FAKE_DELAY_MS=N sleeps N ms per completion (to interrupt runs in tests).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "eval/backend.h"

#define FAKE_TASKS 12

typedef struct {
    char model[160], precision[8], cond[128];
    double model_q, cond_penalty;
    int delay_ms;
} Fake;

static uint64_t fnv(uint64_t h, const char *s) {
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int fake_tasks(QrBackend *b, const char *genset, QrRunTaskList *out, QrErr *e) {
    (void)b;
    int he = !strcmp(genset, "humaneval");
    if (!he && strcmp(genset, "mbpp")) return qr_fail(e, "fake backend: unknown generation set '%s'", genset);
    out->n = FAKE_TASKS;
    out->tasks = calloc(FAKE_TASKS, sizeof(QrRunTask));
    for (int i = 0; i < FAKE_TASKS; i++) {
        char id[32], pr[256];
        snprintf(id, sizeof id, he ? "HumanEval/%d" : "Mbpp/%d", he ? i : i + 2);
        snprintf(pr, sizeof pr, he ? "def f%d(x):\n    \"\"\"Return x plus %d.\"\"\"\n"
                                   : "\"\"\"\nWrite a function to add %d to a number.\nassert f(1) == %d\n\"\"\"\n",
                 i, i + 1);
        out->tasks[i].task_id = strdup(id);
        out->tasks[i].prompt = strdup(pr);
    }
    return 0;
}

static int fake_perturb(QrBackend *b, const QrPlan *p, const QrCond *c, const char *genset, const QrRunTask *t, char **out,
                        char *engine, size_t elen, QrErr *e) {
    (void)b, (void)p, (void)genset, (void)e;
    char buf[512];
    snprintf(buf, sizeof buf, "%s# perturbed: %s\n", t->prompt, c->id);
    *out = strdup(buf);
    snprintf(engine, elen, "%s", c->kind == QR_COND_SENTENCE ? "fake-translator" : "fake");
    return 0;
}

static int fake_load(QrBackend *b, const QrPlan *p, const QrModelSpec *m, const char *precision, QrErr *e) {
    (void)e;
    Fake *f = b->self;
    snprintf(f->model, sizeof f->model, "%s", m->id);
    snprintf(f->precision, sizeof f->precision, "%s", precision);
    int idx = (int)(m - p->models);
    f->model_q = 0.7 - 0.1 * idx - (strcmp(precision, "nf4") ? 0 : 0.05);
    return 0;
}

static int fake_condition(QrBackend *b, const QrPlan *p, const QrCond *c, QrErr *e) {
    (void)p, (void)e;
    Fake *f = b->self;
    snprintf(f->cond, sizeof f->cond, "%s", qr_cond_is_noise(c) ? c->id : "clean-weights");
    double pen = 0;
    if (qr_cond_is_noise(c)) {
        pen = 30 * c->level * (c->kind == QR_COND_UNIFORM ? 0.6 : 1.0);
        if (!strcmp(c->target, "unquantized-only")) pen *= 0.3;
    }
    f->cond_penalty = pen;
    return 0;
}

static int fake_generate(QrBackend *b, const QrPlan *p, const char *genset, int n, const char *const *prompts,
                         const uint64_t *seeds, QrGenResult *out, QrErr *e) {
    (void)e, (void)genset;
    Fake *f = b->self;
    for (int i = 0; i < n; i++) {
        if (f->delay_ms > 0) nanosleep(&(struct timespec){f->delay_ms / 1000, (f->delay_ms % 1000) * 1000000L}, NULL);
        uint64_t h = fnv(fnv(fnv(fnv(1469598103934665603ull, f->model), f->precision), f->cond), prompts[i]);
        if (p->temperature > 0) h = (h ^ seeds[i]) * 1099511628211ull;
        double attack_pen = strstr(prompts[i], "# perturbed: ") ? 0.12 : 0;
        double q = f->model_q - f->cond_penalty - attack_pen;
        double u1 = (double)(h >> 11) / 9007199254740992.0, u2 = (double)((h * 0x9e3779b97f4a7c15ull) >> 11) / 9007199254740992.0;
        int base = u1 < q, plus = base && u2 < 0.85;
        char buf[160];
        snprintf(buf, sizeof buf, "    return x  # %016llx\n# verdict base=%s plus=%s\n", (unsigned long long)h,
                 base ? "pass" : "fail", plus ? "pass" : "fail");
        out[i].completion = strdup(buf);
        snprintf(out[i].finish, sizeof out[i].finish, "stop");
        out[i].n_prompt_tokens = (int)strlen(prompts[i]) / 4;
        out[i].n_gen_tokens = 12;
    }
    return 0;
}

static void fake_unload(QrBackend *b) {
    Fake *f = b->self;
    f->model[0] = 0;
}

// The verdicts written into the completion, whatever the post-processing mode.
static int fake_evaluate(QrBackend *b, const QrPlan *p, const char *genset, int n, const QrRunTask *const *tasks,
                         const char *const *prompts, const char *const *completions, QrExecResult *out, QrErr *e) {
    (void)b, (void)p, (void)genset, (void)tasks, (void)prompts, (void)e;
    for (int i = 0; i < n; i++) {
        const char *v = strstr(completions[i], "# verdict base=");
        int base = v && !strncmp(v + 15, "pass", 4);
        const char *pl = v ? strstr(v, "plus=") : NULL;
        int plus = pl && !strncmp(pl + 5, "pass", 4);
        memset(&out[i], 0, sizeof out[i]);
        snprintf(out[i].base.status, sizeof out[i].base.status, "%s", base ? "pass" : "fail");
        snprintf(out[i].plus.status, sizeof out[i].plus.status, "%s", plus ? "pass" : "fail");
        out[i].base.first_fail = base ? -1 : 0;
        out[i].plus.first_fail = plus ? -1 : 0;
    }
    return 0;
}

static void fake_destroy(QrBackend *b) {
    free(b->self);
    b->self = NULL;
}

int qr_backend_fake(QrBackend *b, QrErr *e) {
    (void)e;
    memset(b, 0, sizeof *b);
    Fake *f = calloc(1, sizeof *f);
    const char *d = getenv("QROBUST_FAKE_DELAY_MS");
    f->delay_ms = d ? atoi(d) : 0;
    b->name = "fake";
    b->self = f;
    b->load_tasks = fake_tasks;
    b->perturb = fake_perturb;
    b->model_load = fake_load;
    b->model_condition = fake_condition;
    b->generate = fake_generate;
    b->model_unload = fake_unload;
    b->evaluate = fake_evaluate;
    b->destroy = fake_destroy;
    return 0;
}

int qr_backend_create(const char *name, QrBackend *b, QrErr *e) {
    if (!strcmp(name, "fake")) return qr_backend_fake(b, e);
    if (!strcmp(name, "real")) return qr_backend_real(b, e);
    return qr_fail(e, "unknown backend '%s' (real or fake)", name);
}

void qr_tasklist_free(QrRunTaskList *t) {
    for (int i = 0; i < t->n; i++) {
        free(t->tasks[i].task_id);
        free(t->tasks[i].prompt);
    }
    free(t->tasks);
    t->tasks = NULL;
    t->n = 0;
}
