#include "eval/runner.h"
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "eval/postprocess.h"
#include "util/fileio.h"
#include "util/progress.h"
#include "util/sha256.h"
#include "util/timer.h"
#include "util/version.h"
#include "tokenizer/unicode.h"

typedef struct {
    QrRunTaskList lists[QR_MAX_GENSETS];
    int n[QR_MAX_GENSETS]; // tasks used (after --limit)
} Tasks;

static int load_all_tasks(const QrPlan *p, QrBackend *b, Tasks *t, QrErr *e) {
    memset(t, 0, sizeof *t);
    for (int g = 0; g < p->n_gensets; g++) {
        if (b->load_tasks(b, p->gensets[g], &t->lists[g], e)) return -1;
        t->n[g] = p->limit > 0 && p->limit < t->lists[g].n ? p->limit : t->lists[g].n;
    }
    return 0;
}

static void free_tasks(const QrPlan *p, Tasks *t) {
    for (int g = 0; g < p->n_gensets; g++) qr_tasklist_free(&t->lists[g]);
}

static json_t *cond_json(const QrPlan *p, const QrCond *c) {
    static const char *kinds[] = {"clean", "char", "word", "sentence", "gaussian", "uniform"};
    json_t *o = json_pack("{s:s, s:s}", "id", c->id, "kind", kinds[c->kind]);
    switch (c->kind) {
    case QR_COND_CHAR: json_object_set_new(o, "p", json_real(p->char_p)); json_object_set_new(o, "cap", json_integer(p->char_cap)); break;
    case QR_COND_WORD: json_object_set_new(o, "p", json_real(p->word_p)); json_object_set_new(o, "k", json_integer(p->word_k)); break;
    case QR_COND_SENTENCE: json_object_set_new(o, "engine", json_string(p->sentence_engine)); break;
    case QR_COND_GAUSSIAN:
    case QR_COND_UNIFORM:
        json_object_set_new(o, "level", json_real(c->level));
        json_object_set_new(o, "target", json_string(c->target));
        json_object_set_new(o, "seed", json_integer((json_int_t)p->seed));
        break;
    default: break;
    }
    if (qr_cond_is_prompt_attack(c)) json_object_set_new(o, "seed", json_integer((json_int_t)p->seed));
    return o;
}

static json_t *unit_head(const char *type, const QrPlan *p, const QrUnit *u, const char *key, const char *task_id,
                         int sample, const char *backend) {
    const QrModelSpec *m = &p->models[u->model];
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "key", json_string(key));
    json_object_set_new(o, "unit", json_string(u->id));
    json_object_set_new(o, "model", json_pack("{s:s, s:s, s:s, s:s}", "name", m->name, "id", m->id, "path", m->path,
                                              "config_sha256", m->config_sha256));
    json_object_set_new(o, "precision", json_string(p->precisions[u->prec]));
    json_object_set_new(o, "condition", cond_json(p, &p->conds[u->cond]));
    json_object_set_new(o, "dataset", json_string(p->gensets[u->genset]));
    json_object_set_new(o, "task_id", json_string(task_id));
    json_object_set_new(o, "sample", json_integer(sample));
    json_object_set_new(o, "backend", json_string(backend));
    return o;
}

static json_t *gen_json(const QrPlan *p) {
    return json_pack("{s:i, s:f, s:f, s:i, s:I}", "n_samples", p->n_samples, "temperature", p->temperature, "top_p",
                     p->top_p, "max_new_tokens", p->max_new_tokens, "seed", (json_int_t)p->seed);
}

static json_t *verdict_json(const QrVerdict *v) {
    json_t *o = json_pack("{s:s}", "status", v->status);
    if (!strcmp(v->status, "fail") && v->first_fail >= 0) json_object_set_new(o, "first_fail", json_integer(v->first_fail));
    if (v->detail[0]) json_object_set_new(o, "detail", json_string(v->detail));
    return o;
}

// Status of one scored dataset in an execution line: 1 pass, 0 not, -1 missing.
static int exec_pass(const json_t *line, const char *dataset) {
    json_t *v = json_object_get(json_object_get(line, "verdicts"), dataset);
    json_t *st = json_object_get(v, "status");
    if (!json_is_string(st)) return -1;
    return !strcmp(json_string_value(st), "pass");
}

typedef struct {
    int task, sample;
} Item;

// A JSON string for model-written text: bytes that are not UTF-8 (a model can
// emit half a character, noise makes that likely) are replaced with U+FFFD as
// Hugging Face's decode does; *lossy says so. The store and the judge both
// see the repaired text, so resumed and uninterrupted runs agree.
static json_t *text_json(const char *s, int *lossy) {
    size_t n = strlen(s), m;
    json_t *j = json_stringn(s, n);
    if (j) return j;
    char *fixed = utf8_repair(s, n, &m);
    j = json_stringn(fixed ? fixed : "", fixed ? m : 0);
    free(fixed);
    if (lossy) *lossy = 1;
    return j;
}

static void unit_label(char *out, size_t n, const QrPlan *p, const QrUnit *u) {
    snprintf(out, n, "%s %s %s %s", p->models[u->model].name, p->precisions[u->prec], p->conds[u->cond].id,
             p->gensets[u->genset]);
}

static int run_unit(const QrPlan *p, QrBackend *b, QrStore *s, const QrUnit *u, const QrRunTaskList *tl, int ntasks,
                    const QrRunOpts *o, int *loaded_model, int *loaded_prec, char *weights_state, size_t wslen,
                    int pos, int total, QrErr *e) {
    const QrCond *c = &p->conds[u->cond];
    const char *genset = p->gensets[u->genset];
    int nitems = ntasks * p->n_samples;
    Item *gen = malloc(sizeof(Item) * (size_t)(nitems ? nitems : 1)), *ex = malloc(sizeof(Item) * (size_t)(nitems ? nitems : 1));
    int ngen = 0, nex = 0, rc = -1;
    char key[1024];
    for (int t = 0; t < ntasks; t++)
        for (int k = 0; k < p->n_samples; k++) {
            qr_key(key, sizeof key, u->id, tl->tasks[t].task_id, k);
            if (!qr_store_get(s, QR_GEN, key)) gen[ngen++] = (Item){t, k};
            if (!qr_store_get(s, QR_EXEC, key)) ex[nex++] = (Item){t, k};
        }
    double t0 = qr_now();
    char label[600];
    unit_label(label, sizeof label, p, u);
    char **prompts = NULL;
    if (ngen) {
        if (*loaded_model != u->model || *loaded_prec != u->prec) {
            if (*loaded_model >= 0) b->model_unload(b);
            *loaded_model = -1;
            if (b->model_load(b, p, &p->models[u->model], p->precisions[u->prec], e)) goto out;
            *loaded_model = u->model;
            *loaded_prec = u->prec;
            weights_state[0] = 0;
        }
        const char *want = qr_cond_is_noise(c) ? c->id : "clean";
        if (strcmp(weights_state, want)) {
            if (b->model_condition(b, p, c, e)) goto out;
            snprintf(weights_state, wslen, "%s", want);
        }
        // Prompts: attacked once per task (the same for all its samples),
        // then made into the text the model receives (EvalPlus strips the
        // dataset prompt, attacked or not, before the model sees it).
        prompts = calloc((size_t)ntasks, sizeof(char *));
        char (*engines)[200] = calloc((size_t)ntasks, 200);
        QrProgress pg;
        char plabel[700];
        snprintf(plabel, sizeof plabel, "generate %s", label);
        qr_progress_init(&pg, plabel, "samples", ngen, o->quiet);
        const char **bp = malloc(sizeof(char *) * (size_t)p->batch);
        uint64_t *seeds = malloc(sizeof(uint64_t) * (size_t)p->batch);
        QrGenResult *res = calloc((size_t)p->batch, sizeof(QrGenResult));
        int ok = 1;
        for (int i = 0; i < ngen && ok; i += p->batch) {
            int nb = ngen - i < p->batch ? ngen - i : p->batch;
            for (int j = 0; j < nb; j++) {
                const QrRunTask *t = &tl->tasks[gen[i + j].task];
                if (!prompts[gen[i + j].task]) {
                    char *attacked = NULL;
                    if (qr_cond_is_prompt_attack(c) &&
                        b->perturb(b, p, c, genset, t, &attacked, engines[gen[i + j].task], 200, e)) { ok = 0; break; }
                    prompts[gen[i + j].task] = qr_model_prompt(p->postprocess, attacked ? attacked : t->prompt);
                    free(attacked);
                }
                bp[j] = prompts[gen[i + j].task];
                seeds[j] = qr_sample_seed(p, t->task_id, gen[i + j].sample);
            }
            if (!ok) break;
            memset(res, 0, sizeof(QrGenResult) * (size_t)nb);
            double tb = qr_now();
            if (b->generate(b, p, genset, nb, bp, seeds, res, e)) { ok = 0; break; }
            double per = (qr_now() - tb) / nb;
            for (int j = 0; j < nb && ok; j++) {
                const QrRunTask *t = &tl->tasks[gen[i + j].task];
                qr_key(key, sizeof key, u->id, t->task_id, gen[i + j].sample);
                json_t *l = unit_head("generation", p, u, key, t->task_id, gen[i + j].sample, b->name);
                json_object_set_new(l, "gen", gen_json(p));
                json_object_set_new(l, "seed", json_integer((json_int_t)seeds[j]));
                char ph[65]; // of the text the model received ("prompt" below for attacks)
                qr_sha256_hex(bp[j], strlen(bp[j]), ph);
                json_object_set_new(l, "prompt_sha256", json_string(ph));
                int lossy = 0;
                if (qr_cond_is_prompt_attack(c)) {
                    json_object_set_new(l, "prompt", text_json(bp[j], &lossy));
                    json_object_set_new(l, "attack_engine", json_string(engines[gen[i + j].task]));
                }
                json_object_set_new(l, "completion", text_json(res[j].completion ? res[j].completion : "", &lossy));
                if (lossy) json_object_set_new(l, "utf8_repaired", json_true());
                json_object_set_new(l, "finish", json_string(res[j].finish));
                json_object_set_new(l, "postprocess", json_string(p->postprocess));
                json_object_set_new(l, "n_prompt_tokens", json_integer(res[j].n_prompt_tokens));
                json_object_set_new(l, "n_gen_tokens", json_integer(res[j].n_gen_tokens));
                json_object_set_new(l, "seconds", json_real(per));
                json_object_set_new(l, "qrobust", json_string(QROBUST_VERSION));
                json_object_set_new(l, "created", json_integer((json_int_t)time(NULL)));
                if (qr_store_append(s, QR_GEN, l, e)) ok = 0;
            }
            for (int j = 0; j < nb; j++) free(res[j].completion);
            if (ok && qr_store_sync(s, e)) ok = 0;
            qr_progress_add(&pg, nb);
        }
        if (ok) qr_progress_finish(&pg);
        free(bp);
        free(seeds);
        free(res);
        free(engines);
        if (!ok) goto out;
    }
    if (nex && !p->generate_only) {
        QrProgress pg;
        char plabel[700];
        snprintf(plabel, sizeof plabel, "evaluate %s", label);
        qr_progress_init(&pg, plabel, "samples", nex, o->quiet);
        int eb = 64;
        const QrRunTask **tp = malloc(sizeof(QrRunTask *) * (size_t)eb);
        const char **cp = malloc(sizeof(char *) * (size_t)eb), **pp = malloc(sizeof(char *) * (size_t)eb);
        char **owned = calloc((size_t)eb, sizeof(char *));
        QrExecResult *res = calloc((size_t)eb, sizeof(QrExecResult));
        int ok = 1;
        for (int i = 0; i < nex && ok; i += eb) {
            int nb = nex - i < eb ? nex - i : eb;
            for (int j = 0; j < nb; j++) {
                const QrRunTask *t = &tl->tasks[ex[i + j].task];
                qr_key(key, sizeof key, u->id, t->task_id, ex[i + j].sample);
                json_t *g = qr_store_get(s, QR_GEN, key);
                tp[j] = t;
                cp[j] = json_string_value(json_object_get(g, "completion"));
                if (!cp[j]) { qr_fail(e, "%s/generations.jsonl: line %s has no completion", s->dir, key); ok = 0; break; }
                // The text the model received: an attacked prompt is recorded
                // with the generation (as received), a clean one is the task's.
                pp[j] = qr_cond_is_prompt_attack(c) ? json_string_value(json_object_get(g, "prompt")) : NULL;
                if (!pp[j] && qr_cond_is_prompt_attack(c)) {
                    qr_fail(e, "%s/generations.jsonl: line %s has no prompt", s->dir, key);
                    ok = 0;
                    break;
                }
                if (!pp[j]) pp[j] = owned[j] = qr_model_prompt(p->postprocess, t->prompt);
            }
            if (!ok) break;
            double tb = qr_now();
            if (b->evaluate(b, p, genset, nb, tp, pp, cp, res, e)) { ok = 0; break; }
            double per = (qr_now() - tb) / nb;
            for (int j = 0; j < nb && ok; j++) {
                qr_key(key, sizeof key, u->id, tp[j]->task_id, ex[i + j].sample);
                json_t *l = unit_head("execution", p, u, key, tp[j]->task_id, ex[i + j].sample, b->name);
                char ch[65];
                qr_sha256_hex(cp[j], strlen(cp[j]), ch);
                json_object_set_new(l, "completion_sha256", json_string(ch));
                if (res[j].solution) json_object_set_new(l, "solution", text_json(res[j].solution, NULL));
                json_t *v = json_object();
                json_object_set_new(v, qr_genset_base(genset), verdict_json(&res[j].base));
                json_object_set_new(v, qr_genset_plus(genset), verdict_json(&res[j].plus));
                json_object_set_new(l, "verdicts", v);
                json_object_set_new(l, "seconds", json_real(per));
                json_object_set_new(l, "qrobust", json_string(QROBUST_VERSION));
                json_object_set_new(l, "created", json_integer((json_int_t)time(NULL)));
                if (qr_store_append(s, QR_EXEC, l, e)) ok = 0;
            }
            for (int j = 0; j < nb; j++) {
                free(res[j].solution);
                res[j].solution = NULL;
                free(owned[j]);
                owned[j] = NULL;
            }
            if (ok && qr_store_sync(s, e)) ok = 0;
            qr_progress_add(&pg, nb);
        }
        if (ok) qr_progress_finish(&pg);
        for (int j = 0; j < eb; j++) free(owned[j]), free(res[j].solution);
        free(tp);
        free(cp);
        free(pp);
        free(owned);
        free(res);
        if (!ok) goto out;
    }
    if (!o->quiet && o->summary && p->generate_only) {
        fprintf(o->summary, "[%d/%d] %s: %d tasks x %d generated (%d now; judging left for a later run; %.1f s)\n", pos,
                total, label, ntasks, p->n_samples, ngen, qr_now() - t0);
    } else if (!o->quiet && o->summary) {
        int pb = 0, pp = 0, nj = 0;
        for (int t = 0; t < ntasks; t++)
            for (int k = 0; k < p->n_samples; k++) {
                qr_key(key, sizeof key, u->id, tl->tasks[t].task_id, k);
                json_t *l = qr_store_get(s, QR_EXEC, key);
                if (!l) continue;
                nj++;
                pb += exec_pass(l, qr_genset_base(genset)) == 1;
                pp += exec_pass(l, qr_genset_plus(genset)) == 1;
            }
        fprintf(o->summary, "[%d/%d] %s: pass@1 %s %.1f%%  %s %.1f%%  (%d tasks x %d; %d generated, %d judged now; %.1f s)\n",
                pos, total, label, qr_genset_base(genset), nj ? 100.0 * pb / nj : 0.0, qr_genset_plus(genset),
                nj ? 100.0 * pp / nj : 0.0, ntasks, p->n_samples, ngen, nex, qr_now() - t0);
        fflush(o->summary);
    }
    rc = 0;
out:
    if (prompts)
        for (int t = 0; t < ntasks; t++) free(prompts[t]);
    free(prompts);
    free(gen);
    free(ex);
    return rc;
}

int qr_store_check_postprocess(const QrStore *s, const char *mode, QrErr *e) {
    for (int i = 0; i < s->n[QR_GEN]; i++) {
        const char *v = json_string_value(json_object_get(s->lines[QR_GEN][i], "postprocess"));
        // Lines written before the modes existed name the dataset family's cut
        // ("evalplus-humaneval", "evalplus-mbpp") or nothing: that is raw.
        const char *m = v && qr_postprocess_valid(v) ? v : "raw";
        if (strcmp(m, mode))
            return qr_fail(e, "%s: holds generations post-processed as '%s', this run's are '%s': use another --out "
                              "or --postprocess %s (one directory holds one mode)",
                           s->dir, m, mode, m);
    }
    return 0;
}

int qr_run(const QrPlan *p, QrBackend *b, QrStore *s, const QrRunOpts *o, QrErr *e) {
    if (qr_store_check_postprocess(s, p->postprocess, e)) return -1;
    QrUnit *units;
    int nu;
    if (qr_plan_units(p, &units, &nu, e)) return -1;
    Tasks t;
    if (load_all_tasks(p, b, &t, e)) { free(units); free_tasks(p, &t); return -1; }
    int mine = 0;
    for (int i = 0; i < nu; i++) mine += qr_unit_in_shard(p, &units[i]);
    int loaded_model = -1, loaded_prec = -1, pos = 0, rc = 0;
    char weights_state[160] = "";
    for (int i = 0; i < nu && !rc; i++) {
        if (!qr_unit_in_shard(p, &units[i])) continue;
        pos++;
        rc = run_unit(p, b, s, &units[i], &t.lists[units[i].genset], t.n[units[i].genset], o, &loaded_model,
                      &loaded_prec, weights_state, sizeof weights_state, pos, mine, e);
    }
    if (loaded_model >= 0) b->model_unload(b);
    free_tasks(p, &t);
    free(units);
    return rc;
}

json_t *qr_plan_json(const QrPlan *p) {
    json_t *o = json_object(), *a;
    json_object_set_new(o, "qrobust", json_string(QROBUST_VERSION));
    a = json_array();
    for (int i = 0; i < p->n_models; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "name", p->models[i].name, "path", p->models[i].path, "id",
                                           p->models[i].id));
    json_object_set_new(o, "models", a);
    a = json_array();
    for (int i = 0; i < p->n_prec; i++) json_array_append_new(a, json_string(p->precisions[i]));
    json_object_set_new(o, "precisions", a);
    a = json_array();
    for (int i = 0; i < p->n_conds; i++) json_array_append_new(a, cond_json(p, &p->conds[i]));
    json_object_set_new(o, "conditions", a);
    a = json_array();
    for (int i = 0; i < p->n_gensets; i++) json_array_append_new(a, json_string(p->gensets[i]));
    json_object_set_new(o, "datasets", a);
    json_object_set_new(o, "gen", gen_json(p));
    json_object_set_new(o, "postprocess", json_string(p->postprocess));
    json_object_set_new(o, "limit", json_integer(p->limit));
    json_object_set_new(o, "backend", json_string(p->backend));
    json_object_set_new(o, "device", json_string(p->device));
    json_object_set_new(o, "shard", json_pack("{s:i, s:i}", "i", p->shard_i, "n", p->shard_n));
    return o;
}

// Rough parameter count from a Hugging Face config.json (LLaMA-like layout:
// attention 4 h^2, gated MLP 3 h f, embeddings and head 2 V h); GGUF: file
// size / 4 (fp32). 0 if unknown.
static double estimate_params(const QrModelSpec *m) {
    char path[1100];
    snprintf(path, sizeof path, "%s/config.json", m->path);
    json_t *c = qr_is_dir(m->path) ? json_load_file(path, 0, NULL) : NULL;
    if (!c) {
        QrMap map;
        QrErr e;
        if (qr_map_file(&map, m->path, &e)) return 0;
        double n = (double)map.size / 4;
        qr_unmap(&map);
        return n;
    }
    const char *hk[] = {"hidden_size", "n_embd", "d_model"}, *lk[] = {"num_hidden_layers", "n_layer", "num_layers"};
    double h = 0, l = 0, f = 0, v = 0;
    for (int i = 0; i < 3; i++) {
        if (!h && json_is_number(json_object_get(c, hk[i]))) h = json_number_value(json_object_get(c, hk[i]));
        if (!l && json_is_number(json_object_get(c, lk[i]))) l = json_number_value(json_object_get(c, lk[i]));
    }
    if (json_is_number(json_object_get(c, "intermediate_size"))) f = json_number_value(json_object_get(c, "intermediate_size"));
    else if (json_is_number(json_object_get(c, "n_inner"))) f = json_number_value(json_object_get(c, "n_inner"));
    else f = 4 * h * 2 / 3;
    if (json_is_number(json_object_get(c, "vocab_size"))) v = json_number_value(json_object_get(c, "vocab_size"));
    json_decref(c);
    return l * (4 * h * h + 3 * h * f) + 2 * v * h;
}

static double bytes_per_param(const char *prec) {
    if (!strcmp(prec, "fp32")) return 4;
    if (!strcmp(prec, "fp16") || !strcmp(prec, "bf16")) return 2;
    if (!strcmp(prec, "int8")) return 1;
    return 0.5 + 4.0 / 64 / 4 + 4.0 / 256 / 64; // nf4: 4 bits + 8-bit absmax per 64 + fp32 per 256 blocks
}

static void fmt_dur(char *b, size_t n, double s) {
    if (s < 120) snprintf(b, n, "%.0f s", s);
    else if (s < 7200) snprintf(b, n, "%.0f min", s / 60);
    else if (s < 3 * 86400) snprintf(b, n, "%.1f h", s / 3600);
    else snprintf(b, n, "%.1f days", s / 86400);
}

int qr_plan_print(FILE *f, const QrPlan *p, QrBackend *b, const QrStore *s, QrErr *e) {
    QrUnit *units;
    int nu;
    if (qr_plan_units(p, &units, &nu, e)) return -1;
    Tasks t;
    if (load_all_tasks(p, b, &t, e)) { free(units); free_tasks(p, &t); return -1; }
    fprintf(f, "plan (backend %s, shard %d/%d)\n", b->name, p->shard_i, p->shard_n);
    fprintf(f, "  models (%d):", p->n_models);
    for (int i = 0; i < p->n_models; i++) fprintf(f, "%s %s", i ? "," : "", p->models[i].id);
    fprintf(f, "\n  precisions (%d):", p->n_prec);
    for (int i = 0; i < p->n_prec; i++) fprintf(f, " %s", p->precisions[i]);
    fprintf(f, "\n  conditions (%d):", p->n_conds);
    for (int i = 0; i < p->n_conds; i++) fprintf(f, "%s %s", i ? "," : "", p->conds[i].id);
    fprintf(f, "\n  datasets:");
    for (int g = 0; g < p->n_gensets; g++)
        fprintf(f, " %s (scored as %s and %s; %d tasks)%s", p->gensets[g], qr_genset_base(p->gensets[g]),
                qr_genset_plus(p->gensets[g]), t.n[g], g + 1 < p->n_gensets ? ";" : "");
    fprintf(f, "\n  generation: %s, %d sample%s per task, batch %d\n", p->gen_id, p->n_samples, p->n_samples > 1 ? "s" : "", p->batch);
    long long total = 0, mine = 0, done_gen = 0, done_exec = 0;
    int units_mine = 0;
    double est_s = 0, measured_s = 0;
    long long measured_n = 0;
    // Measured seconds per generation so far, per (model, precision).
    for (int i = 0; s && i < s->n[QR_GEN]; i++) {
        json_t *sec = json_object_get(s->lines[QR_GEN][i], "seconds");
        if (json_is_number(sec)) measured_s += json_number_value(sec), measured_n++;
    }
    char key[1024];
    for (int i = 0; i < nu; i++) {
        const QrUnit *u = &units[i];
        long long n = (long long)t.n[u->genset] * p->n_samples;
        total += n;
        if (!qr_unit_in_shard(p, u)) continue;
        units_mine++;
        mine += n;
        long long left = 0;
        for (int k = 0; k < t.n[u->genset]; k++)
            for (int j = 0; j < p->n_samples; j++) {
                qr_key(key, sizeof key, u->id, t.lists[u->genset].tasks[k].task_id, j);
                int g = s && qr_store_get(s, QR_GEN, key), x = s && qr_store_get(s, QR_EXEC, key);
                done_gen += g;
                done_exec += x;
                left += !g;
            }
        // Decode is bound by reading the weights once per step for the whole
        // batch; assume ~20 GB/s (a CPU server) and completions of a quarter
        // of --max-new-tokens on average.
        // Prefill: ~300 prompt tokens at 2 FLOPs per parameter and ~50 GFLOP/s.
        double params = estimate_params(&p->models[u->model]);
        double per_tok = params * bytes_per_param(p->precisions[u->prec]) / 20e9 / p->batch;
        est_s += (double)left * (per_tok * p->max_new_tokens / 4 + 2 * params * 300 / 50e9);
    }
    fprintf(f, "size: %d units (model x precision x condition x dataset), %lld generations in all; this shard: %d units, %lld generations\n",
            nu, total, units_mine, mine);
    if (s) fprintf(f, "already in %s: %lld generated, %lld judged (this shard)\n", s->dir, done_gen, done_exec);
    char d[64];
    if (measured_n > 0) {
        fmt_dur(d, sizeof d, (double)(mine - done_gen) * measured_s / (double)measured_n);
        fprintf(f, "estimate: %s left at the %.2f s per generation measured in this directory\n", d, measured_s / (double)measured_n);
    } else if (!strcmp(b->name, "fake")) {
        const char *dl = getenv("QROBUST_FAKE_DELAY_MS");
        fmt_dur(d, sizeof d, (double)(mine - done_gen) * (dl ? atoi(dl) : 0) / 1000.0);
        fprintf(f, "estimate: %s (fake backend)\n", d);
    } else {
        fmt_dur(d, sizeof d, est_s);
        fprintf(f, "estimate: about %s on a CPU (decode reading weights at ~20 GB/s in batches of %d, completions ~%d "
                   "tokens; prefill of ~300 prompt tokens at ~50 GFLOP/s); a GPU is 10-50x faster; rerun --dry-run after "
                   "a first unit for a measured figure\n",
                d, p->batch, p->max_new_tokens / 4);
    }
    free_tasks(p, &t);
    free(units);
    return 0;
}
