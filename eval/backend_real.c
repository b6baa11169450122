// The study's loop on the real stages: datasets (eval/dataset.h), checkpoints
// and generation (runtime/), tokenizers (tokenizer/), weight noise
// (attacks/noise.h). See eval/backend.h for the contract.
//
// Weight noise is applied in place to f32 weights (the model is loaded with
// every matrix converted to f32 when a noise condition needs it) and removed
// by reloading the checkpoint, never by subtracting: subtraction restores the
// weights only up to one rounding per element, and a resumed run must see the
// same bits as an uninterrupted one.
//
// Not in this build yet (check() rejects such plans before any work): int8
// and nf4 inference (issue 6 wires its kernels into runtime/linear.c), the
// char/word/sentence prompt attacks (issue 7), the sandboxed evaluator
// (issue 4; --generate-only runs without it).
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attacks/noise.h"
#include "eval/backend.h"
#include "eval/dataset.h"
#include "runtime/generate.h"
#include "runtime/model.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    QrDataset ds[QR_MAX_GENSETS]; // loaded per generation set on first use
    char ds_name[QR_MAX_GENSETS][16];
    QrModel *m;
    Tokenizer *tok;
    const QrModelSpec *spec;
    char precision[8];
    int noised; // weights carry noise: reload before another condition
} Real;

// Stop strings for base-model completions (Codex/HumanEval convention, as in issue 2).
static const char *const STOPS[] = {"\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#"};

static int real_check(QrBackend *b, const QrPlan *p, QrErr *e) {
    (void)b;
    for (int i = 0; i < p->n_conds; i++) {
        if (qr_cond_is_prompt_attack(&p->conds[i]))
            return qr_fail(e, "--attacks: the %s attack is not in this build yet (issue 7); leave char/word/sentence out "
                              "for now (e.g. --attacks clean,gaussian,uniform)",
                           p->conds[i].id);
        if (qr_cond_is_noise(&p->conds[i])) {
            for (int k = 0; k < p->n_prec; k++)
                if (strcmp(p->precisions[k], "fp32"))
                    return qr_fail(e, "weight noise runs on fp32 weights in this build (--precisions %s given)",
                                   p->precisions[k]);
        }
    }
    if (!p->generate_only)
        return qr_fail(e, "the sandboxed evaluator (issue 4) is not in this build yet: run with --generate-only now, "
                          "and the same command without it once it lands to judge what was generated");
    return 0;
}

static int gidx(const char *genset) { return !strcmp(genset, "humaneval") ? 0 : 1; }

static int real_tasks(QrBackend *b, const char *genset, QrRunTaskList *out, QrErr *e) {
    Real *r = b->self;
    int g = gidx(genset);
    // HumanEval+ carries the HumanEval prompts; MBPP+ is the study's MBPP set.
    const char *name = g == 0 ? "humaneval+" : "mbpp+";
    if (!r->ds_name[g][0]) {
        if (qr_dataset_load(&r->ds[g], name, NULL, e)) return -1;
        snprintf(r->ds_name[g], sizeof r->ds_name[g], "%s", name);
    }
    const QrDataset *d = &r->ds[g];
    out->n = (int)d->n_tasks;
    out->tasks = calloc(d->n_tasks ? d->n_tasks : 1, sizeof(QrRunTask));
    if (!out->tasks) return qr_fail(e, "out of memory");
    for (size_t i = 0; i < d->n_tasks; i++) {
        out->tasks[i].task_id = strdup(d->tasks[i].task_id);
        out->tasks[i].prompt = strdup(d->tasks[i].prompt);
    }
    return 0;
}

static int real_perturb(QrBackend *b, const QrPlan *p, const QrCond *c, const char *genset, const QrRunTask *t, char **out,
                        char *engine, size_t elen, QrErr *e) {
    (void)b, (void)p, (void)genset, (void)t, (void)out, (void)engine, (void)elen;
    return qr_fail(e, "the %s prompt attack is not in this build yet (issue 7)", c->id);
}

static void unload(Real *r) {
    if (r->m) qr_model_free(r->m);
    if (r->tok) tok_free(r->tok);
    r->m = NULL;
    r->tok = NULL;
    r->noised = 0;
}

static int load(Real *r, const QrPlan *p, QrErr *e) {
    QrLoadOpts o = {0};
    o.convert = 1;
    o.weight_format = !strcmp(r->precision, "fp16") ? QR_WF_F16 : !strcmp(r->precision, "bf16") ? QR_WF_BF16 : QR_WF_F32;
    // int8 / nf4: the block linears quantized on load exactly as bitsandbytes
    // does (the rest stays fp32), or a pre-quantized checkpoint as saved.
    if (!strcmp(r->precision, "int8")) o.quant.fmt = QR_WF_INT8;
    if (!strcmp(r->precision, "nf4")) o.quant.fmt = QR_WF_NF4;
    if (p->threads > 0) omp_set_num_threads(p->threads);
    if (qr_model_load(&r->m, r->spec->path, &o, e)) {
        r->m = NULL;
        return -1;
    }
    if (tok_load(&r->tok, r->spec->path, e)) {
        r->tok = NULL;
        qr_err_prefix(e, "model '%s': tokenizer", r->spec->name);
        unload(r);
        return -1;
    }
    return 0;
}

static int real_load(QrBackend *b, const QrPlan *p, const QrModelSpec *m, const char *precision, QrErr *e) {
    Real *r = b->self;
    unload(r);
    r->spec = m;
    snprintf(r->precision, sizeof r->precision, "%s", precision);
    return load(r, p, e);
}

static int real_condition(QrBackend *b, const QrPlan *p, const QrCond *c, QrErr *e) {
    Real *r = b->self;
    if (r->noised) { // exact restoration: reload
        unload(r);
        if (load(r, p, e)) return -1;
    }
    if (!qr_cond_is_noise(c)) return 0;
    QrNoiseSpec ns = {c->kind == QR_COND_GAUSSIAN ? QR_NOISE_GAUSSIAN : QR_NOISE_UNIFORM, (float)c->level, p->seed, QR_NOISE_ALL};
    if (qr_noise_parse_target(c->target, &ns.target, e)) return -1;
    for (int i = 0; i < r->m->n_params; i++) {
        QrParam *pr = &r->m->params[i];
        // A full-precision model: pre-quant and post-quant both land in place.
        QrNoiseSite site = qr_noise_site(ns.target, pr->block_linear, 0);
        if (site == QR_NOISE_SKIP) continue;
        QrNoiseKey k;
        qr_noise_key(&k, &ns, pr->name);
        if (pr->lin) {
            if (pr->lin->fmt != QR_WF_F32) return qr_fail(e, "%s: weight noise needs f32 weights", pr->name);
            if (qr_linear_make_owned(pr->lin, e)) return -1;
            qr_noise_add_f32(&k, 0, (float *)pr->lin->w, (size_t)pr->lin->out * pr->lin->in, 1);
        } else if (pr->vec) {
            qr_noise_add_f32(&k, 0, pr->vec, (size_t)pr->n, 1);
        }
    }
    r->noised = 1;
    return 0;
}

static int real_generate(QrBackend *b, const QrPlan *p, int n, const char *const *prompts, const uint64_t *seeds,
                         QrGenResult *out, QrErr *e) {
    Real *r = b->self;
    int32_t **ids = calloc((size_t)n, sizeof(int32_t *));
    int *lens = calloc((size_t)n, sizeof(int));
    QrCompletion *c = calloc((size_t)n, sizeof(QrCompletion));
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        size_t len;
        if (tok_encode(r->tok, prompts[i], strlen(prompts[i]), TOK_ADD_SPECIAL, &ids[i], &len, e)) rc = -1;
        else lens[i] = (int)len;
    }
    if (!rc) {
        QrGenParams g = {0};
        g.max_new_tokens = p->max_new_tokens;
        g.temperature = (float)p->temperature;
        g.top_p = p->temperature > 0 ? (float)p->top_p : 1.0f;
        g.seeds = seeds;
        g.stop = STOPS;
        g.n_stop = (int)(sizeof STOPS / sizeof *STOPS);
        rc = qr_generate(r->m, r->tok, (const int32_t *const *)ids, lens, n, &g, c, e);
    }
    for (int i = 0; i < n; i++) {
        if (!rc) {
            out[i].completion = strdup(c[i].text ? c[i].text : "");
            snprintf(out[i].finish, sizeof out[i].finish, "%s", qr_finish_name(c[i].finish));
            out[i].n_prompt_tokens = lens[i];
            out[i].n_gen_tokens = c[i].n_tokens;
            qr_completion_free(&c[i]);
        }
        free(ids[i]);
    }
    free(ids);
    free(lens);
    free(c);
    return rc;
}

static void real_unload(QrBackend *b) { unload(b->self); }

static int real_evaluate(QrBackend *b, const QrPlan *p, const char *genset, int n, const QrRunTask *const *tasks,
                         const char *const *completions, QrExecResult *out, QrErr *e) {
    (void)b, (void)p, (void)genset, (void)n, (void)tasks, (void)completions, (void)out;
    return qr_fail(e, "the sandboxed evaluator (issue 4) is not in this build yet (use --generate-only)");
}

static void real_destroy(QrBackend *b) {
    Real *r = b->self;
    unload(r);
    for (int g = 0; g < QR_MAX_GENSETS; g++)
        if (r->ds_name[g][0]) qr_dataset_free(&r->ds[g]);
    free(r);
    b->self = NULL;
}

int qr_backend_real(QrBackend *b, QrErr *e) {
    memset(b, 0, sizeof *b);
    Real *r = calloc(1, sizeof *r);
    if (!r) return qr_fail(e, "out of memory");
    b->name = "cpu";
    b->self = r;
    b->check = real_check;
    b->load_tasks = real_tasks;
    b->perturb = real_perturb;
    b->model_load = real_load;
    b->model_condition = real_condition;
    b->generate = real_generate;
    b->model_unload = real_unload;
    b->evaluate = real_evaluate;
    b->destroy = real_destroy;
    return 0;
}
