// The study's loop on the real stages: datasets (eval/dataset.h), checkpoints,
// quantization on load and generation (runtime/), tokenizers (tokenizer/),
// prompt attacks (attacks/prompt.h) and weight noise (attacks/noise_model.h).
// See eval/backend.h for the contract.
//
// Weight noise is applied to the loaded weights and removed by reloading the
// checkpoint, never by subtracting: subtraction restores the weights only up
// to one rounding per element, and a resumed run must see the same bits as an
// uninterrupted one. Targets on a quantized model (attacks/noise_model.h):
// unquantized-only in place on the float tensors; pre-quant: load float, add
// noise to the block linears, then quantize as bitsandbytes does; post-quant:
// a term y += x N^T in each quantized layer's forward; all: unquantized-only +
// post-quant.
//
// Post-processing (eval/postprocess.h), in both modes: generation stops at
// the EvalPlus stop strings of the dataset family and the stored completion
// is the EvalPlus cut of the output. Judging: --postprocess evalplus judges
// EvalPlus's sanitized solution (the prompt the model received + the
// completion, sanitized against the entry point), recorded in the execution
// line; raw judges the dataset prompt + the completion, cutting nothing.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attacks/noise.h"
#include "attacks/noise_model.h"
#include "attacks/prompt.h"
#include "runtime/qlinear.h"
#include "eval/backend.h"
#include "eval/dataset.h"
#include "eval/evaluate.h"
#include "eval/postprocess.h"
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
    QrWordNet *wn;      // word attack (opened by check)
    QrTranslator *tr;   // sentence attack (opened by check)
    QrEvaluator *ev[QR_MAX_GENSETS]; // per generation set, opened on first use
} Real;

// The dataset a generation set is judged on: HumanEval+ carries the HumanEval
// prompts; MBPP+ is the study's MBPP set.
static QrDatasetKind genset_kind(const char *genset) {
    return !strcmp(genset, "humaneval") ? QR_DS_HUMANEVAL_PLUS : QR_DS_MBPP_PLUS;
}

char *qr_real_completion(const char *genset, const char *text) { return qr_cut_completion(text, genset_kind(genset)); }

static int real_check(QrBackend *b, const QrPlan *p, QrErr *e) {
    Real *r = b->self;
    for (int i = 0; i < p->n_conds; i++) {
        const QrCond *c = &p->conds[i];
        if (c->kind == QR_COND_WORD && !r->wn && qr_wordnet_open(&r->wn, NULL, e)) return -1;
        if (c->kind == QR_COND_SENTENCE && !r->tr) {
            char spec[1100];
            if (!strcmp(p->sentence_engine, "apertium")) snprintf(spec, sizeof spec, "apertium");
            else snprintf(spec, sizeof spec, "mbart:%s", p->translator);
            if (qr_translator_open(spec, &r->tr, e)) {
                r->tr = NULL;
                return -1;
            }
        }
    }
    // Recorded with every line: results of the two engines are not bit-identical.
    b->name = !strcmp(p->device, "cuda") ? "cuda" : "cpu";
    return 0;
}

static int gidx(const char *genset) { return !strcmp(genset, "humaneval") ? 0 : 1; }

static int real_tasks(QrBackend *b, const char *genset, QrRunTaskList *out, QrErr *e) {
    Real *r = b->self;
    int g = gidx(genset);
    const char *name = qr_dataset_kind_name(genset_kind(genset));
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
    (void)genset;
    Real *r = b->self;
    QrAttackKind k = c->kind == QR_COND_CHAR ? QR_ATTACK_CHAR : c->kind == QR_COND_WORD ? QR_ATTACK_WORD : QR_ATTACK_SENTENCE;
    QrAttackCfg cfg;
    qr_attack_defaults(&cfg, k, p->seed);
    if (k == QR_ATTACK_CHAR) cfg.p = p->char_p, cfg.cap = p->char_cap;
    if (k == QR_ATTACK_WORD) cfg.p = p->word_p, cfg.max_syn = p->word_k;
    cfg.wn = r->wn;
    cfg.tr = r->tr;
    if ((k == QR_ATTACK_WORD && !r->wn) || (k == QR_ATTACK_SENTENCE && !r->tr))
        return qr_fail(e, "internal: %s attack without its resources (check() not run)", c->id);
    QrAttackIn in = {t->task_id, t->prompt, NULL};
    QrAttackOut o;
    if (qr_attack_run(&cfg, &in, 1, &o, e)) return -1;
    *out = o.prompt;
    o.prompt = NULL;
    qr_attack_out_free(&o);
    snprintf(engine, elen, "%s", k == QR_ATTACK_SENTENCE ? r->tr->name : k == QR_ATTACK_WORD ? "qrobust wordnet" : "qrobust");
    return 0;
}

static void unload(Real *r) {
    if (r->m) qr_model_free(r->m);
    if (r->tok) tok_free(r->tok);
    r->m = NULL;
    r->tok = NULL;
    r->noised = 0;
}

// Loads the model at r->precision with the weights of condition c (NULL or
// not noise: clean).
static int load(Real *r, const QrPlan *p, const QrCond *c, QrErr *e) {
    int quantized = qr_prec_is_quantized(r->precision), noise = c && qr_cond_is_noise(c);
    int prequant = quantized && noise && !strcmp(c->target, "pre-quant");
    QrLoadOpts o = {0};
    o.convert = 1;
    o.weight_format = !strcmp(r->precision, "fp16") ? QR_WF_F16 : !strcmp(r->precision, "bf16") ? QR_WF_BF16 : QR_WF_F32;
    // int8 / nf4: the block linears quantized on load exactly as bitsandbytes
    // does (the rest stays fp32), or a pre-quantized checkpoint as saved.
    QrQuantOpts q = {0};
    if (!strcmp(r->precision, "int8")) q.fmt = QR_WF_INT8;
    if (!strcmp(r->precision, "nf4")) q.fmt = QR_WF_NF4;
    if (!prequant) o.quant = q; // pre-quant: noise on the float weights first, then quantize
    o.device = !strcmp(p->device, "cuda") ? QR_DEVICE_CUDA : QR_DEVICE_CPU;
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
    if (!noise) return 0;
    QrNoiseSpec ns = {c->kind == QR_COND_GAUSSIAN ? QR_NOISE_GAUSSIAN : QR_NOISE_UNIFORM, (float)c->level, p->seed, QR_NOISE_ALL};
    // pre-quant: the model is still float here, the noise goes onto the block
    // linears in place, then they are quantized; post-quant / all: the
    // quantized layers get the noise term in their forward.
    if (qr_noise_parse_target(c->target, &ns.target, e) || qr_noise_model(r->m, &ns, quantized, 1, NULL, NULL, e) ||
        (prequant && qr_model_quantize(r->m, &q, e))) {
        unload(r);
        return -1;
    }
    r->noised = 1;
    return 0;
}

static int real_load(QrBackend *b, const QrPlan *p, const QrModelSpec *m, const char *precision, QrErr *e) {
    (void)p, (void)e;
    Real *r = b->self;
    unload(r);
    r->spec = m;
    snprintf(r->precision, sizeof r->precision, "%s", precision);
    return 0; // loaded by real_condition, which knows the weights' condition
}

static int real_condition(QrBackend *b, const QrPlan *p, const QrCond *c, QrErr *e) {
    Real *r = b->self;
    if (r->m && !r->noised && !qr_cond_is_noise(c)) return 0; // clean weights already
    unload(r); // exact restoration: reload
    return load(r, p, c, e);
}

static int real_generate(QrBackend *b, const QrPlan *p, const char *genset, int n, const char *const *prompts,
                         const uint64_t *seeds, QrGenResult *out, QrErr *e) {
    Real *r = b->self;
    const char *const *stops;
    size_t n_stops = qr_stop_strings(genset_kind(genset), &stops);
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
        g.stop = stops;
        g.n_stop = (int)n_stops;
        rc = qr_generate(r->m, r->tok, (const int32_t *const *)ids, lens, n, &g, c, e);
    }
    for (int i = 0; i < n; i++) {
        if (!rc) {
            out[i].completion = qr_real_completion(genset, c[i].text ? c[i].text : "");
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

static void verdict(QrVerdict *v, const QrSetResult *r) {
    snprintf(v->status, sizeof v->status, "%s", qr_status_name(r->status));
    v->first_fail = r->status == QR_PASS ? -1 : r->first_fail;
    snprintf(v->detail, sizeof v->detail, "%s", r->detail);
}

// Judged as EvalPlus scores the study's datasets: the generation set's "+"
// dataset is run; the base verdict is its base tests (EvalPlus's HumanEval /
// MBPP score), the plus verdict requires base and plus tests to pass (its
// HumanEval+ / MBPP+ score).
static int real_evaluate(QrBackend *b, const QrPlan *p, const char *genset, int n, const QrRunTask *const *tasks,
                         const char *const *prompts, const char *const *completions, QrExecResult *out, QrErr *e) {
    Real *r = b->self;
    int g = gidx(genset);
    if (!r->ds_name[g][0]) return qr_fail(e, "internal: %s evaluated before its tasks were loaded", genset);
    if (!r->ev[g]) {
        QrEvalOptions o;
        qr_eval_options_default(&o);
        if (p->parallel > 0) o.parallel = p->parallel;
        if (qr_evaluator_open(&r->ev[g], &r->ds[g], &o, e)) {
            r->ev[g] = NULL;
            return -1;
        }
    }
    QrSample *sm = calloc((size_t)n, sizeof *sm);
    QrSampleResult *res = calloc((size_t)n, sizeof *res);
    const char **ids = calloc((size_t)n, sizeof *ids);
    char **sol = calloc((size_t)n, sizeof *sol);
    int rc = 0;
    if (!sm || !res || !ids || !sol) rc = qr_fail(e, "out of memory");
    for (int i = 0; i < n && !rc; i++) ids[i] = tasks[i]->task_id;
    int evalplus = !strcmp(p->postprocess, "evalplus");
    size_t failed = r->ev[g] ? qr_evaluator_sanitize_failures(r->ev[g]) : 0;
    if (!rc && evalplus) rc = qr_evalplus_solutions(r->ev[g], &r->ds[g], (size_t)n, ids, prompts, completions, sol, e);
    if (!rc && evalplus && qr_evaluator_sanitize_failures(r->ev[g]) > failed)
        fprintf(stderr, "qrobust run: warning: the sanitizer failed on %zu of %d %s programs; they are judged "
                        "unsanitized\n", qr_evaluator_sanitize_failures(r->ev[g]) - failed, n, genset);
    for (int i = 0; i < n && !rc; i++)
        sm[i] = evalplus ? (QrSample){ids[i], sol[i], NULL} : (QrSample){ids[i], NULL, completions[i]};
    if (!rc) rc = qr_evaluator_run(r->ev[g], sm, (size_t)n, res, e);
    for (int i = 0; i < n && !rc; i++) {
        memset(&out[i], 0, sizeof out[i]);
        verdict(&out[i].base, &res[i].base);
        verdict(&out[i].plus, res[i].base.status == QR_PASS ? &res[i].plus : &res[i].base);
        out[i].solution = sol[i]; // the caller's now
        sol[i] = NULL;
        qr_sample_result_free(&res[i]);
    }
    for (int i = 0; sol && i < n; i++) free(sol[i]);
    free(sm);
    free(res);
    free(ids);
    free(sol);
    return rc;
}

static void real_destroy(QrBackend *b) {
    Real *r = b->self;
    unload(r);
    // Evaluators first: they use their dataset until closed.
    for (int g = 0; g < QR_MAX_GENSETS; g++)
        if (r->ev[g]) qr_evaluator_close(r->ev[g]);
    for (int g = 0; g < QR_MAX_GENSETS; g++)
        if (r->ds_name[g][0]) qr_dataset_free(&r->ds[g]);
    if (r->wn) qr_wordnet_free(r->wn);
    if (r->tr) qr_translator_close(r->tr);
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
