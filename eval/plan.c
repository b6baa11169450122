#include "eval/plan.h"
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "eval/postprocess.h"
#include "util/fileio.h"
#include "util/sha256.h"

static const char *PRECISIONS[] = {"fp32", "fp16", "bf16", "int8", "nf4"};
static const char *ATTACKS[] = {"clean", "char", "word", "sentence", "gaussian", "uniform"};
static const char *TARGETS[] = {"all", "unquantized-only", "pre-quant", "post-quant"};
static const char *GENSETS[] = {"humaneval", "mbpp"};
#define COUNT(a) (int)(sizeof a / sizeof a[0])

static int in_list(const char *s, const char *const *list, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s, list[i])) return i;
    return -1;
}

void qr_plan_defaults(QrPlan *p) {
    memset(p, 0, sizeof *p);
    const char *pr[] = {"fp32", "int8", "nf4"};
    for (int i = 0; i < 3; i++) snprintf(p->precisions[i], sizeof p->precisions[i], "%s", pr[i]);
    p->n_prec = 3;
    for (int i = 0; i < COUNT(ATTACKS); i++) snprintf(p->attacks[i], sizeof p->attacks[i], "%s", ATTACKS[i]);
    p->n_attacks = COUNT(ATTACKS);
    const double lv[] = {1e-4, 1e-3, 3e-3, 5e-3, 1e-2}; // the study's noise levels
    memcpy(p->levels, lv, sizeof lv);
    p->n_levels = 5;
    snprintf(p->targets[0], sizeof p->targets[0], "all");
    p->n_targets = 1;
    snprintf(p->gensets[0], sizeof p->gensets[0], "humaneval");
    snprintf(p->gensets[1], sizeof p->gensets[1], "mbpp");
    p->n_gensets = 2;
    p->n_samples = 1;
    p->max_new_tokens = 512;
    snprintf(p->postprocess, sizeof p->postprocess, "evalplus");
    p->batch = 8;
    p->temperature = 0;
    p->top_p = 0.95;
    p->seed = 0;
    p->char_p = 0.5;
    p->char_cap = 5;
    p->word_p = 0.15;
    p->word_k = 3;
    snprintf(p->sentence_engine, sizeof p->sentence_engine, "mbart");
    snprintf(p->backend, sizeof p->backend, "real");
    snprintf(p->device, sizeof p->device, "cpu");
    p->threads = 0;
    p->parallel = 0;
    p->shard_i = 0;
    p->shard_n = 1;
}

static int parse_ll(const char *name, const char *v, long long lo, long long hi, long long *out, QrErr *e) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end) return qr_fail(e, "--%s: '%s' is not an integer", name, v);
    if (x < lo || x > hi) return qr_fail(e, "--%s: %lld is out of range [%lld, %lld]", name, x, lo, hi);
    *out = x;
    return 0;
}

static int parse_dbl(const char *name, const char *v, double lo, double hi, double *out, QrErr *e) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x)) return qr_fail(e, "--%s: '%s' is not a number", name, v);
    if (x < lo || x > hi) return qr_fail(e, "--%s: %g is out of range [%g, %g]", name, x, lo, hi);
    *out = x;
    return 0;
}

// Splits a comma list into items (whitespace trimmed), calling fn on each.
typedef int (*ItemFn)(QrPlan *p, const char *name, const char *item, int idx, QrErr *e);
static int each_item(QrPlan *p, const char *name, const char *value, ItemFn fn, QrErr *e) {
    char buf[2048];
    if (strlen(value) >= sizeof buf) return qr_fail(e, "--%s: value too long", name);
    snprintf(buf, sizeof buf, "%s", value);
    int idx = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok)) tok++;
        char *end = tok + strlen(tok);
        while (end > tok && isspace((unsigned char)end[-1])) *--end = 0;
        if (!*tok) continue;
        if (fn(p, name, tok, idx++, e)) return -1;
    }
    if (idx == 0) return qr_fail(e, "--%s: empty list", name);
    return 0;
}

#define LIST_ITEM(fname, field, nfield, maxn, valid, nvalid)                                                   \
    static int fname(QrPlan *p, const char *name, const char *it, int idx, QrErr *e) {                         \
        if (in_list(it, valid, nvalid) < 0) {                                                                  \
            char opts[256] = "";                                                                               \
            for (int i = 0; i < nvalid; i++) {                                                                 \
                strcat(opts, i ? ", " : "");                                                                   \
                strcat(opts, valid[i]);                                                                        \
            }                                                                                                  \
            return qr_fail(e, "--%s: unknown value '%s' (one of: %s)", name, it, opts);                        \
        }                                                                                                      \
        if (idx == 0) p->nfield = 0;                                                                           \
        for (int i = 0; i < p->nfield; i++)                                                                    \
            if (!strcmp(p->field[i], it)) return qr_fail(e, "--%s: '%s' is listed twice", name, it);           \
        if (p->nfield >= maxn) return qr_fail(e, "--%s: too many values", name);                               \
        snprintf(p->field[p->nfield], sizeof p->field[0], "%s", it);                                          \
        p->nfield++;                                                                                           \
        return 0;                                                                                              \
    }
LIST_ITEM(prec_item, precisions, n_prec, QR_MAX_PREC, PRECISIONS, COUNT(PRECISIONS))
LIST_ITEM(attack_item, attacks, n_attacks, 8, ATTACKS, COUNT(ATTACKS))
LIST_ITEM(target_item, targets, n_targets, QR_MAX_TARGETS, TARGETS, COUNT(TARGETS))
LIST_ITEM(genset_item, gensets, n_gensets, QR_MAX_GENSETS, GENSETS, COUNT(GENSETS))

static int level_item(QrPlan *p, const char *name, const char *it, int idx, QrErr *e) {
    double v;
    if (parse_dbl(name, it, 0, 10, &v, e)) return -1;
    if (v <= 0) return qr_fail(e, "--%s: noise level must be > 0 (clean is its own condition)", name);
    if (idx == 0) p->n_levels = 0;
    if (p->n_levels >= QR_MAX_LEVELS) return qr_fail(e, "--%s: at most %d levels", name, QR_MAX_LEVELS);
    for (int i = 0; i < p->n_levels; i++)
        if (p->levels[i] == v) return qr_fail(e, "--%s: level %g is listed twice", name, v);
    p->levels[p->n_levels++] = v;
    return 0;
}

// Accepts "dataset" names as users know them: humaneval(+) -> humaneval, mbpp(+) -> mbpp.
static int dataset_item(QrPlan *p, const char *name, const char *it, int idx, QrErr *e) {
    char g[16];
    size_t n = strlen(it);
    if (n && n < sizeof g && it[n - 1] == '+') snprintf(g, sizeof g, "%.*s", (int)(n - 1), it);
    else snprintf(g, sizeof g, "%s", it);
    if (idx == 0) p->n_gensets = 0;
    for (int i = 0; i < p->n_gensets; i++)
        if (!strcmp(p->gensets[i], g)) return 0; // humaneval,humaneval+ -> one generation set
    return genset_item(p, name, g, p->n_gensets, e);
}

static int add_model(QrPlan *p, const char *v, QrErr *e) {
    if (p->n_models >= QR_MAX_MODELS) return qr_fail(e, "--model: at most %d models", QR_MAX_MODELS);
    QrModelSpec *m = &p->models[p->n_models];
    memset(m, 0, sizeof *m);
    const char *eq = strchr(v, '=');
    const char *path = v;
    // NAME=PATH when the part before '=' is not itself a path.
    if (eq && memchr(v, '/', (size_t)(eq - v)) == NULL) {
        if (eq == v) return qr_fail(e, "--model: empty name in '%s'", v);
        snprintf(m->name, sizeof m->name, "%.*s", (int)(eq - v), v);
        path = eq + 1;
    }
    if (!*path) return qr_fail(e, "--model: empty path in '%s'", v);
    if (strlen(path) >= sizeof m->path) return qr_fail(e, "--model: path too long");
    snprintf(m->path, sizeof m->path, "%s", path);
    if (!m->name[0]) {
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s", path);
        size_t n = strlen(tmp);
        while (n > 1 && tmp[n - 1] == '/') tmp[--n] = 0;
        const char *base = strrchr(tmp, '/') ? strrchr(tmp, '/') + 1 : tmp;
        if (!strncmp(base, "fake:", 5)) base += 5;
        snprintf(m->name, sizeof m->name, "%.127s", base);
        char *dot = strstr(m->name, ".gguf");
        if (dot && !dot[5]) *dot = 0;
    }
    for (const char *c = m->name; *c; c++)
        if (*c == '|' || *c == ',' || *c == '"' || (unsigned char)*c < 32)
            return qr_fail(e, "--model: name '%s' may not contain '|', ',', quotes or control characters", m->name);
    for (int i = 0; i < p->n_models; i++)
        if (!strcmp(p->models[i].name, m->name))
            return qr_fail(e, "--model: two models are named '%s' (give one a name: --model NAME=PATH)", m->name);
    p->n_models++;
    return 0;
}

static int parse_shard(QrPlan *p, const char *v, QrErr *e) {
    int i, n, used = 0;
    if (sscanf(v, "%d/%d%n", &i, &n, &used) != 2 || v[used] || n < 1 || i < 0 || i >= n)
        return qr_fail(e, "--shard: '%s' is not i/N with 0 <= i < N (e.g. 0/4)", v);
    p->shard_i = i;
    p->shard_n = n;
    return 0;
}

int qr_plan_set(QrPlan *p, const char *name_in, const char *v, QrErr *e) {
    char name[64];
    snprintf(name, sizeof name, "%s", name_in);
    for (char *c = name; *c; c++)
        if (*c == '_') *c = '-';
    long long ll;
    double d;
    if (!strcmp(name, "model") || !strcmp(name, "models")) return add_model(p, v, e);
    if (!strcmp(name, "precisions") || !strcmp(name, "precision")) return each_item(p, name, v, prec_item, e);
    if (!strcmp(name, "attacks") || !strcmp(name, "conditions")) return each_item(p, name, v, attack_item, e);
    if (!strcmp(name, "noise-levels")) return each_item(p, name, v, level_item, e);
    if (!strcmp(name, "noise-targets")) return each_item(p, name, v, target_item, e);
    if (!strcmp(name, "datasets")) return each_item(p, name, v, dataset_item, e);
    if (!strcmp(name, "n-samples")) {
        if (parse_ll(name, v, 1, 1000, &ll, e)) return -1;
        p->n_samples = (int)ll;
    } else if (!strcmp(name, "max-new-tokens")) {
        if (parse_ll(name, v, 1, 1 << 20, &ll, e)) return -1;
        p->max_new_tokens = (int)ll;
    } else if (!strcmp(name, "batch")) {
        if (parse_ll(name, v, 1, 4096, &ll, e)) return -1;
        p->batch = (int)ll;
    } else if (!strcmp(name, "limit")) {
        if (parse_ll(name, v, 0, 1 << 30, &ll, e)) return -1;
        p->limit = (int)ll;
    } else if (!strcmp(name, "seed")) {
        if (parse_ll(name, v, 0, (1ll << 62), &ll, e)) return -1;
        p->seed = (uint64_t)ll;
    } else if (!strcmp(name, "threads")) {
        if (parse_ll(name, v, 0, 4096, &ll, e)) return -1;
        p->threads = (int)ll;
    } else if (!strcmp(name, "parallel")) {
        if (parse_ll(name, v, 0, 4096, &ll, e)) return -1;
        p->parallel = (int)ll;
    } else if (!strcmp(name, "temperature")) {
        if (parse_dbl(name, v, 0, 100, &d, e)) return -1;
        p->temperature = d;
    } else if (!strcmp(name, "top-p")) {
        if (parse_dbl(name, v, 0, 1, &d, e)) return -1;
        if (d <= 0) return qr_fail(e, "--top-p: must be > 0");
        p->top_p = d;
    } else if (!strcmp(name, "char-p")) {
        if (parse_dbl(name, v, 0, 1, &p->char_p, e)) return -1;
    } else if (!strcmp(name, "word-p")) {
        if (parse_dbl(name, v, 0, 1, &p->word_p, e)) return -1;
    } else if (!strcmp(name, "char-cap")) {
        if (parse_ll(name, v, 1, 1 << 20, &ll, e)) return -1;
        p->char_cap = (int)ll;
    } else if (!strcmp(name, "word-k")) {
        if (parse_ll(name, v, 1, 100, &ll, e)) return -1;
        p->word_k = (int)ll;
    } else if (!strcmp(name, "sentence-engine")) {
        if (strcmp(v, "mbart") && strcmp(v, "apertium"))
            return qr_fail(e, "--sentence-engine: unknown value '%s' (one of: mbart, apertium)", v);
        snprintf(p->sentence_engine, sizeof p->sentence_engine, "%s", v);
    } else if (!strcmp(name, "translator")) {
        if (strlen(v) >= sizeof p->translator) return qr_fail(e, "--translator: path too long");
        snprintf(p->translator, sizeof p->translator, "%s", v);
    } else if (!strcmp(name, "backend")) {
        if (strcmp(v, "real") && strcmp(v, "fake"))
            return qr_fail(e, "--backend: unknown value '%s' (one of: real, fake)", v);
        snprintf(p->backend, sizeof p->backend, "%s", v);
    } else if (!strcmp(name, "device")) {
        if (strcmp(v, "cpu") && strcmp(v, "cuda")) return qr_fail(e, "--device: unknown value '%s' (one of: cpu, cuda)", v);
        snprintf(p->device, sizeof p->device, "%s", v);
    } else if (!strcmp(name, "generate-only")) {
        if (strcmp(v, "1") && strcmp(v, "0") && strcmp(v, "true") && strcmp(v, "false"))
            return qr_fail(e, "--generate-only: expected true or false, not '%s'", v);
        p->generate_only = !strcmp(v, "1") || !strcmp(v, "true");
    } else if (!strcmp(name, "postprocess")) {
        if (!qr_postprocess_valid(v)) return qr_fail(e, "--postprocess: unknown value '%s' (one of: evalplus, raw)", v);
        snprintf(p->postprocess, sizeof p->postprocess, "%s", v);
    } else if (!strcmp(name, "shard")) {
        return parse_shard(p, v, e);
    } else {
        return qr_fail(e, "unknown option '%s'", name_in);
    }
    return 0;
}

int qr_plan_load_config(QrPlan *p, const char *path, QrErr *e) {
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return qr_fail(e, "%s:%d: invalid JSON: %s", path, je.line, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return qr_fail(e, "%s: the config must be a JSON object of option names", path);
    }
    const char *key;
    json_t *val;
    int rc = 0;
    json_object_foreach(root, key, val) {
        char buf[2048];
        if (!strcmp(key, "models") || !strcmp(key, "model")) {
            json_t *arr = json_is_array(val) ? val : NULL;
            size_t n = arr ? json_array_size(arr) : 1;
            for (size_t i = 0; i < n && !rc; i++) {
                json_t *m = arr ? json_array_get(arr, i) : val;
                if (json_is_string(m)) {
                    snprintf(buf, sizeof buf, "%s", json_string_value(m));
                } else if (json_is_object(m) && json_is_string(json_object_get(m, "path"))) {
                    json_t *nm = json_object_get(m, "name");
                    if (nm && !json_is_string(nm)) {
                        rc = qr_fail(e, "%s: models[%zu].name must be a string", path, i);
                        break;
                    }
                    snprintf(buf, sizeof buf, "%s%s%s", nm ? json_string_value(nm) : "", nm ? "=" : "",
                             json_string_value(json_object_get(m, "path")));
                } else {
                    rc = qr_fail(e, "%s: models[%zu] must be a path or {\"name\", \"path\"}", path, i);
                    break;
                }
                if (qr_plan_set(p, "model", buf, e)) rc = -1;
            }
        } else {
            size_t len = 0;
            buf[0] = 0;
            json_t *items = json_is_array(val) ? val : NULL;
            size_t n = items ? json_array_size(items) : 1;
            for (size_t i = 0; i < n && !rc; i++) {
                json_t *it = items ? json_array_get(items, i) : val;
                int w;
                if (json_is_string(it)) w = snprintf(buf + len, sizeof buf - len, "%s%s", i ? "," : "", json_string_value(it));
                else if (json_is_integer(it)) w = snprintf(buf + len, sizeof buf - len, "%s%lld", i ? "," : "", (long long)json_integer_value(it));
                else if (json_is_real(it)) w = snprintf(buf + len, sizeof buf - len, "%s%.17g", i ? "," : "", json_real_value(it));
                else {
                    rc = qr_fail(e, "%s: \"%s\" must be a string, a number or a list of them", path, key);
                    break;
                }
                if (w < 0 || (size_t)w >= sizeof buf - len) {
                    rc = qr_fail(e, "%s: \"%s\" is too long", path, key);
                    break;
                }
                len += (size_t)w;
            }
            if (!rc && qr_plan_set(p, key, buf, e)) rc = -1;
        }
        if (rc) break;
    }
    json_decref(root);
    if (rc && !strstr(e->msg, path)) qr_err_prefix(e, "%s", path);
    return rc;
}

int qr_prec_is_quantized(const char *prec) { return !strcmp(prec, "int8") || !strcmp(prec, "nf4"); }
int qr_cond_is_noise(const QrCond *c) { return c->kind == QR_COND_GAUSSIAN || c->kind == QR_COND_UNIFORM; }
int qr_cond_is_prompt_attack(const QrCond *c) {
    return c->kind == QR_COND_CHAR || c->kind == QR_COND_WORD || c->kind == QR_COND_SENTENCE;
}

void qr_cond_make_id(const QrPlan *p, QrCond *c) {
    switch (c->kind) {
    case QR_COND_CLEAN: snprintf(c->id, sizeof c->id, "clean"); break;
    case QR_COND_CHAR: snprintf(c->id, sizeof c->id, "char(p=%g,cap=%d)", p->char_p, p->char_cap); break;
    case QR_COND_WORD: snprintf(c->id, sizeof c->id, "word(p=%g,k=%d)", p->word_p, p->word_k); break;
    case QR_COND_SENTENCE: snprintf(c->id, sizeof c->id, "sentence(engine=%s)", p->sentence_engine); break;
    case QR_COND_GAUSSIAN:
    case QR_COND_UNIFORM:
        snprintf(c->id, sizeof c->id, "%s(level=%g,target=%s)", c->kind == QR_COND_GAUSSIAN ? "gaussian" : "uniform",
                 c->level, c->target);
        break;
    }
}

int qr_cond_parse(const QrPlan *defaults, const char *s, QrCond *c, QrErr *e) {
    memset(c, 0, sizeof *c);
    snprintf(c->target, sizeof c->target, "all");
    char kind[32] = "";
    size_t k = strcspn(s, ":(");
    if (k == 0 || k >= sizeof kind) return qr_fail(e, "condition '%s': expected clean, char, word, sentence, gaussian:LEVEL[:TARGET] or uniform:LEVEL[:TARGET]", s);
    memcpy(kind, s, k);
    int ki = in_list(kind, ATTACKS, COUNT(ATTACKS));
    if (ki < 0) return qr_fail(e, "condition '%s': unknown kind '%s'", s, kind);
    c->kind = (QrCondKind)ki;
    const char *rest = s + k;
    if (qr_cond_is_noise(c)) {
        char lv[64] = "", tg[32] = "";
        if (*rest == ':') {
            if (sscanf(rest + 1, "%63[^:]:%31s", lv, tg) < 1) return qr_fail(e, "condition '%s': missing noise level", s);
        } else if (*rest == '(') {
            if (sscanf(rest, "(level=%63[^,)],target=%31[^)])", lv, tg) < 1)
                return qr_fail(e, "condition '%s': expected %s(level=L,target=T)", s, kind);
        } else {
            return qr_fail(e, "condition '%s': noise needs a level, e.g. %s:0.001", s, kind);
        }
        char *end;
        c->level = strtod(lv, &end);
        if (end == lv || *end || !(c->level > 0) || !isfinite(c->level))
            return qr_fail(e, "condition '%s': '%s' is not a positive noise level", s, lv);
        if (tg[0]) {
            if (in_list(tg, TARGETS, COUNT(TARGETS)) < 0) return qr_fail(e, "condition '%s': unknown noise target '%s'", s, tg);
            snprintf(c->target, sizeof c->target, "%.23s", tg);
        }
        qr_cond_make_id(defaults, c);
    } else if (*rest == '(') {
        // A canonical id written by qrobust: keep its parameters as written.
        if (strlen(s) >= sizeof c->id) return qr_fail(e, "condition '%s': too long", s);
        snprintf(c->id, sizeof c->id, "%s", s);
    } else if (*rest) {
        return qr_fail(e, "condition '%s': unexpected '%s'", s, rest);
    } else {
        qr_cond_make_id(defaults, c);
    }
    return 0;
}

const char *qr_genset_base(const char *g) { return !strcmp(g, "humaneval") ? "humaneval" : "mbpp"; }
const char *qr_genset_plus(const char *g) { return !strcmp(g, "humaneval") ? "humaneval+" : "mbpp+"; }

// Checksum of what identifies a model's architecture: config.json for a
// Hugging Face directory, the header (first MiB: metadata + tensor infos) of
// a GGUF file, the name itself for a fake model.
static int model_checksum(QrPlan *p, QrModelSpec *m, QrErr *e) {
    if (!strcmp(p->backend, "fake")) {
        qr_sha256_hex(m->path, strlen(m->path), m->config_sha256);
        return 0;
    }
    char *buf = NULL;
    size_t len = 0;
    if (qr_is_dir(m->path)) {
        char cfg[1100];
        snprintf(cfg, sizeof cfg, "%s/config.json", m->path);
        if (qr_read_file(cfg, &buf, &len, e)) return qr_fail(e, "model '%s': %s has no readable config.json", m->name, m->path);
    } else {
        QrMap map;
        if (qr_map_file(&map, m->path, e)) return qr_fail(e, "model '%s': cannot read %s (%s)", m->name, m->path, e->msg);
        len = map.size < (1u << 20) ? map.size : (1u << 20);
        buf = malloc(len + 1);
        if (!buf) { qr_unmap(&map); return qr_fail(e, "out of memory"); }
        if (len) memcpy(buf, map.data, len);
        qr_unmap(&map);
    }
    qr_sha256_hex(buf, len, m->config_sha256);
    free(buf);
    return 0;
}

static int has_attack(const QrPlan *p, const char *a) {
    for (int i = 0; i < p->n_attacks; i++)
        if (!strcmp(p->attacks[i], a)) return 1;
    return 0;
}

int qr_plan_finalize(QrPlan *p, QrErr *e) {
    if (p->n_models == 0) return qr_fail(e, "no model given (--model PATH, or \"models\" in --config)");
    if (p->n_samples > 1 && p->temperature == 0)
        return qr_fail(e, "--n-samples %d with greedy decoding gives %d identical samples: set --temperature > 0", p->n_samples, p->n_samples);
    for (int i = 0; i < p->n_models; i++) {
        QrModelSpec *m = &p->models[i];
        if (strcmp(p->backend, "fake") && !qr_file_exists(m->path) && !qr_is_dir(m->path))
            return qr_fail(e, "model '%s': %s does not exist", m->name, m->path);
        if (model_checksum(p, m, e)) return -1;
        char id[sizeof m->id];
        snprintf(id, sizeof id, "%s@%.12s", m->name, m->config_sha256);
        memcpy(m->id, id, sizeof id);
    }
    if (!strcmp(p->sentence_engine, "mbart") && !p->translator[0] && !strcmp(p->backend, "real") &&
        has_attack(p, "sentence"))
                return qr_fail(e, "the sentence attack with --sentence-engine mbart needs --translator DIR (an mBART-50 checkpoint), "
                                  "or use --sentence-engine apertium, or leave 'sentence' out of --attacks");
    if (!strcmp(p->device, "cuda")) {
#ifndef QR_CUDA
        return qr_fail(e, "--device cuda: this build has no CUDA backend (build it with make CUDA=1)");
#endif
        if (strcmp(p->backend, "real")) return qr_fail(e, "--device cuda needs the real backend, not --backend %s", p->backend);
    }
    if (p->translator[0] && !qr_is_dir(p->translator))
        return qr_fail(e, "--translator: %s is not a directory", p->translator);
    // Conditions in canonical order.
    p->n_conds = 0;
    const QrCondKind order[] = {QR_COND_CLEAN, QR_COND_CHAR, QR_COND_WORD, QR_COND_SENTENCE, QR_COND_GAUSSIAN, QR_COND_UNIFORM};
    for (int o = 0; o < 6; o++) {
        if (!has_attack(p, ATTACKS[order[o]])) continue;
        QrCond c = {.kind = order[o]};
        if (order[o] == QR_COND_GAUSSIAN || order[o] == QR_COND_UNIFORM) {
            for (int t = 0; t < p->n_targets; t++)
                for (int l = 0; l < p->n_levels; l++) {
                    if (p->n_conds >= QR_MAX_CONDS) return qr_fail(e, "too many conditions (max %d)", QR_MAX_CONDS);
                    c.level = p->levels[l];
                    snprintf(c.target, sizeof c.target, "%s", p->targets[t]);
                    qr_cond_make_id(p, &c);
                    p->conds[p->n_conds++] = c;
                }
        } else {
            snprintf(c.target, sizeof c.target, "all");
            qr_cond_make_id(p, &c);
            p->conds[p->n_conds++] = c;
        }
    }
    if (p->n_conds == 0) return qr_fail(e, "--attacks: nothing to run");
    if (p->temperature == 0)
        snprintf(p->gen_id, sizeof p->gen_id, "greedy,max=%d,seed=%llu", p->max_new_tokens, (unsigned long long)p->seed);
    else
        snprintf(p->gen_id, sizeof p->gen_id, "sample(t=%g,top_p=%g,n=%d),max=%d,seed=%llu", p->temperature, p->top_p,
                 p->n_samples, p->max_new_tokens, (unsigned long long)p->seed);
    // The mode changes the prompt the model sees and the program judged, so it
    // is part of every key; raw adds nothing, so directories written before
    // the mode existed (raw, in effect) resume under --postprocess raw.
    if (!strcmp(p->postprocess, "evalplus")) {
        size_t l = strlen(p->gen_id);
        snprintf(p->gen_id + l, sizeof p->gen_id - l, ",post=evalplus");
    }
    p->finalized = 1;
    return 0;
}

int qr_plan_units(const QrPlan *p, QrUnit **units, int *n, QrErr *e) {
    size_t cap = (size_t)p->n_models * p->n_prec * p->n_conds * p->n_gensets;
    QrUnit *u = calloc(cap ? cap : 1, sizeof *u);
    if (!u) return qr_fail(e, "out of memory");
    int k = 0;
    for (int m = 0; m < p->n_models; m++)
        for (int pr = 0; pr < p->n_prec; pr++)
            for (int c = 0; c < p->n_conds; c++) {
                const QrCond *cd = &p->conds[c];
                if (qr_cond_is_noise(cd) && strcmp(cd->target, "all") && !qr_prec_is_quantized(p->precisions[pr])) continue;
                for (int g = 0; g < p->n_gensets; g++) {
                    QrUnit *x = &u[k];
                    x->model = m, x->prec = pr, x->cond = c, x->genset = g, x->index = k;
                    snprintf(x->id, sizeof x->id, "%s|%s|%s|%s|%s", p->models[m].id, p->precisions[pr], cd->id,
                             p->gensets[g], p->gen_id);
                    k++;
                }
            }
    *units = u;
    *n = k;
    return 0;
}

int qr_unit_in_shard(const QrPlan *p, const QrUnit *u) { return u->index % p->shard_n == p->shard_i; }

void qr_key(char *out, size_t n, const char *unit_id, const char *task_id, int sample) {
    snprintf(out, n, "%s|%s|%d", unit_id, task_id, sample);
}

uint64_t qr_sample_seed(const QrPlan *p, const char *task_id, int sample) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 8; i++) h = (h ^ ((p->seed >> (8 * i)) & 0xff)) * 1099511628211ull;
    for (const char *c = task_id; *c; c++) h = (h ^ (uint8_t)*c) * 1099511628211ull;
    for (int i = 0; i < 4; i++) h = (h ^ (((uint32_t)sample >> (8 * i)) & 0xff)) * 1099511628211ull;
    return h >> 1; // 63 bits: recorded as a JSON integer
}
