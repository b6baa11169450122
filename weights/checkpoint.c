#include "weights/checkpoint.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "util/fileio.h"

static int cmp_tensor(const void *a, const void *b) {
    return strcmp(((const QrTensor *)a)->name, ((const QrTensor *)b)->name);
}

const QrTensor *qr_ckpt_find(const QrCheckpoint *c, const char *name) {
    QrTensor key = {.name = name};
    return bsearch(&key, c->tensors, (size_t)c->n_tensors, sizeof key, cmp_tensor);
}

static int sort_and_check(QrCheckpoint *c, QrErr *e) {
    qsort(c->tensors, (size_t)c->n_tensors, sizeof *c->tensors, cmp_tensor);
    for (int i = 1; i < c->n_tensors; i++)
        if (!strcmp(c->tensors[i].name, c->tensors[i - 1].name))
            return qr_fail(e, "%s: tensor '%s' appears twice (in %s and %s)", c->path, c->tensors[i].name,
                           c->tensors[i - 1].file, c->tensors[i].file);
    return 0;
}

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

// ---- GGUF ----
static int gguf_dtype(uint32_t g, QrDType *t) {
    switch (g) {
    case GGML_F32: *t = QR_DT_F32; return 0;
    case GGML_F16: *t = QR_DT_F16; return 0;
    case GGML_BF16: *t = QR_DT_BF16; return 0;
    case GGML_F64: *t = QR_DT_F64; return 0;
    case GGML_I8: *t = QR_DT_I8; return 0;
    case GGML_I16: *t = QR_DT_I16; return 0;
    case GGML_I32: *t = QR_DT_I32; return 0;
    case GGML_I64: *t = QR_DT_I64; return 0;
    default: return -1;
    }
}

static int open_gguf(QrCheckpoint *c, QrErr *e) {
    c->kind = QR_CKPT_GGUF;
    c->gguf = calloc(1, sizeof *c->gguf);
    if (!c->gguf) return qr_fail(e, "%s: out of memory", c->path);
    if (gguf_open(c->gguf, c->path, e)) {
        gguf_close(c->gguf); // frees what a failed parse allocated
        free(c->gguf);
        c->gguf = NULL;
        return -1;
    }
    GgufFile *g = c->gguf;
    c->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *c->tensors);
    if (!c->tensors) return qr_fail(e, "%s: out of memory", c->path);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const GgufTensor *gt = &g->tensors[i];
        QrTensor *t = &c->tensors[i];
        if (gguf_dtype(gt->ggml_type, &t->dtype))
            return qr_fail(e, "%s: tensor '%s' has ggml type %s; qrobust reads F32/F16/BF16 GGUF tensors", c->path,
                           gt->name, gguf_type_name(gt->ggml_type));
        t->name = gt->name;
        t->ndim = (int)gt->n_dims;
        for (uint32_t d = 0; d < gt->n_dims; d++) t->shape[d] = (int64_t)gt->ne[gt->n_dims - 1 - d];
        t->data = gt->data;
        t->nbytes = (size_t)gt->nbytes;
        t->file = c->path;
        c->n_tensors++;
    }
    return sort_and_check(c, e);
}

// ---- Hugging Face directory ----
static int add_shard_tensors(QrCheckpoint *c, const QrSafetensors *st, QrErr *e) {
    QrTensor *nt = realloc(c->tensors, (size_t)(c->n_tensors + st->n + 1) * sizeof *nt);
    if (!nt) return qr_fail(e, "%s: out of memory", st->path);
    c->tensors = nt;
    memcpy(c->tensors + c->n_tensors, st->tensors, (size_t)st->n * sizeof *nt);
    c->n_tensors += st->n;
    return 0;
}

static int open_shard(QrCheckpoint *c, const char *file, QrErr *e) {
    QrSafetensors *ns = realloc(c->shards, (size_t)(c->n_shards + 1) * sizeof *ns);
    if (!ns) return qr_fail(e, "%s: out of memory", file);
    c->shards = ns;
    if (qr_st_open(&c->shards[c->n_shards], file, e)) return -1;
    c->n_shards++;
    return add_shard_tensors(c, &c->shards[c->n_shards - 1], e);
}

// The index maps every tensor name to a shard file name in the same directory.
// Each listed shard is opened once; the index and the shards must agree exactly.
static int open_index(QrCheckpoint *c, const char *dir, const char *index_path, QrErr *e) {
    char *txt;
    size_t len;
    if (qr_read_file(index_path, &txt, &len, e)) return -1;
    json_error_t je;
    json_t *idx = json_loadb(txt, len, JSON_REJECT_DUPLICATES, &je);
    free(txt);
    if (!idx) return qr_fail(e, "%s: invalid JSON: %s (line %d column %d)", index_path, je.text, je.line, je.column);
    int rc = 0;
    json_t *wm = json_object_get(idx, "weight_map");
    if (!json_is_object(idx) || !json_is_object(wm)) {
        rc = qr_fail(e, "%s: no \"weight_map\" object", index_path);
        goto out;
    }
    const char *name;
    json_t *v;
    json_object_foreach(wm, name, v) {
        if (!json_is_string(v)) {
            rc = qr_fail(e, "%s: weight_map entry '%s' is not a file name", index_path, name);
            goto out;
        }
        const char *f = json_string_value(v);
        if (!*f || strchr(f, '/') || !strcmp(f, "..")) {
            rc = qr_fail(e, "%s: weight_map entry '%s' names '%s', not a file in the checkpoint directory",
                         index_path, name, f);
            goto out;
        }
        int seen = 0;
        for (int s = 0; s < c->n_shards && !seen; s++) {
            const char *base = strrchr(c->shards[s].path, '/');
            seen = !strcmp(base ? base + 1 : c->shards[s].path, f);
        }
        if (seen) continue;
        char *p = join(dir, f);
        if (!p) {
            rc = qr_fail(e, "out of memory");
            goto out;
        }
        rc = open_shard(c, p, e);
        free(p);
        if (rc) goto out;
    }
    if ((rc = sort_and_check(c, e))) goto out;
    // Every indexed tensor lives in the shard the index names, and every shard
    // tensor is indexed.
    json_object_foreach(wm, name, v) {
        const QrTensor *t = qr_ckpt_find(c, name);
        const char *f = json_string_value(v);
        if (!t) {
            rc = qr_fail(e, "%s: tensor '%s' is indexed in %s but that file does not hold it", index_path, name, f);
            goto out;
        }
        const char *base = strrchr(t->file, '/');
        if (strcmp(base ? base + 1 : t->file, f)) {
            rc = qr_fail(e, "%s: tensor '%s' is indexed in %s but found in %s", index_path, name, f, t->file);
            goto out;
        }
    }
    for (int i = 0; i < c->n_tensors; i++)
        if (!json_object_get(wm, c->tensors[i].name)) {
            rc = qr_fail(e, "%s: tensor '%s' of %s is missing from the index", index_path, c->tensors[i].name,
                         c->tensors[i].file);
            goto out;
        }
out:
    json_decref(idx);
    return rc;
}

static int load_config(QrCheckpoint *c, const char *dir, QrErr *e) {
    c->config_path = join(dir, "config.json");
    if (!c->config_path) return qr_fail(e, "out of memory");
    if (!qr_file_exists(c->config_path))
        return qr_fail(e, "%s: no config.json (a Hugging Face checkpoint directory needs one)", c->config_path);
    char *txt;
    size_t len;
    if (qr_read_file(c->config_path, &txt, &len, e)) return -1;
    json_error_t je;
    c->config = json_loadb(txt, len, JSON_REJECT_DUPLICATES, &je);
    free(txt);
    if (!c->config)
        return qr_fail(e, "%s: invalid JSON: %s (line %d column %d)", c->config_path, je.text, je.line, je.column);
    if (!json_is_object(c->config)) return qr_fail(e, "%s: not a JSON object", c->config_path);
    return 0;
}

static int open_hf(QrCheckpoint *c, const char *dir, const char *single, QrErr *e) {
    c->kind = QR_CKPT_HF;
    if (load_config(c, dir, e)) return -1;
    if (single) {
        if (open_shard(c, single, e)) return -1;
        return sort_and_check(c, e);
    }
    char *idx = join(dir, "model.safetensors.index.json"), *one = join(dir, "model.safetensors");
    int rc;
    if (!idx || !one) rc = qr_fail(e, "out of memory");
    else if (qr_file_exists(idx)) rc = open_index(c, dir, idx, e);
    else if (qr_file_exists(one)) rc = open_shard(c, one, e) || sort_and_check(c, e) ? -1 : 0;
    else {
        char *bin = join(dir, "pytorch_model.bin");
        int has_bin = bin && qr_file_exists(bin);
        free(bin);
        rc = qr_fail(e, "%s: no model.safetensors or model.safetensors.index.json%s", dir,
                     has_bin ? " (pytorch_model.bin is not read: convert it to safetensors)" : "");
    }
    free(idx);
    free(one);
    return rc;
}

static int has_gguf_magic(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char m[4] = {0};
    size_t n = fread(m, 1, 4, f);
    fclose(f);
    return n == 4 && !memcmp(m, "GGUF", 4);
}

int qr_ckpt_open(QrCheckpoint *c, const char *path, QrErr *e) {
    memset(c, 0, sizeof *c);
    c->path = strdup(path);
    if (!c->path) return qr_fail(e, "out of memory");
    int rc;
    size_t n = strlen(path);
    if (qr_is_dir(path)) {
        rc = open_hf(c, path, NULL, e);
    } else if (!qr_file_exists(path)) {
        rc = qr_fail(e, "%s: no such file or directory", path);
    } else if (has_gguf_magic(path)) {
        rc = open_gguf(c, e);
    } else if (n > 12 && !strcmp(path + n - 12, ".safetensors")) {
        char *dir = strdup(path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (!dir) rc = qr_fail(e, "out of memory");
        else {
            if (slash) *slash = 0;
            rc = open_hf(c, slash ? dir : ".", path, e);
        }
        free(dir);
    } else {
        rc = qr_fail(e, "%s: not a checkpoint directory, a .safetensors file or a GGUF file", path);
    }
    if (rc) qr_ckpt_close(c);
    return rc;
}

void qr_ckpt_init_memory(QrCheckpoint *c, json_t *config, const char *label) {
    memset(c, 0, sizeof *c);
    c->kind = QR_CKPT_MEMORY;
    c->path = strdup(label ? label : "(memory)");
    c->config = json_incref(config);
}

int qr_ckpt_add(QrCheckpoint *c, const char *name, QrDType dt, int ndim, const int64_t *shape, void *data,
                QrErr *e) {
    QrTensor *nt = realloc(c->tensors, (size_t)(c->n_tensors + 1) * sizeof *nt);
    void **no = realloc(c->owned, (size_t)(c->n_owned + 2) * sizeof *no);
    if (nt) c->tensors = nt;
    if (no) c->owned = no;
    char *nm = strdup(name);
    if (!nt || !no || !nm || ndim > QR_MAX_DIMS) {
        free(nm);
        free(data);
        return qr_fail(e, "%s: cannot add tensor '%s'", c->path, name);
    }
    c->owned[c->n_owned++] = data;
    c->owned[c->n_owned++] = nm;
    QrTensor *t = &c->tensors[c->n_tensors++];
    memset(t, 0, sizeof *t);
    t->name = nm;
    t->dtype = dt;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->data = data;
    t->nbytes = (size_t)qr_tensor_numel(t) * qr_dtype_size(dt);
    t->file = c->path;
    return 0;
}

int qr_ckpt_finish(QrCheckpoint *c, QrErr *e) { return sort_and_check(c, e); }

void qr_ckpt_close(QrCheckpoint *c) {
    for (int i = 0; i < c->n_shards; i++) qr_st_close(&c->shards[i]);
    free(c->shards);
    if (c->gguf) {
        gguf_close(c->gguf);
        free(c->gguf);
    }
    for (int i = 0; i < c->n_owned; i++) free(c->owned[i]);
    free(c->owned);
    free(c->tensors);
    if (c->config) json_decref(c->config);
    free(c->config_path);
    free(c->path);
    memset(c, 0, sizeof *c);
}

// ---- config.json fields ----
int qr_json_int(const json_t *o, const char *key, int required, long long def, long long lo, long long hi,
                long long *out, const char *file, QrErr *e) {
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (required) return qr_fail(e, "%s: missing \"%s\"", file, key);
        *out = def;
        return 0;
    }
    if (!json_is_integer(v)) return qr_fail(e, "%s: \"%s\" is not an integer", file, key);
    long long x = json_integer_value(v);
    if (x < lo || x > hi) return qr_fail(e, "%s: \"%s\" = %lld outside [%lld, %lld]", file, key, x, lo, hi);
    *out = x;
    return 0;
}

int qr_json_num(const json_t *o, const char *key, int required, double def, double *out, const char *file,
                QrErr *e) {
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (required) return qr_fail(e, "%s: missing \"%s\"", file, key);
        *out = def;
        return 0;
    }
    if (!json_is_number(v)) return qr_fail(e, "%s: \"%s\" is not a number", file, key);
    *out = json_number_value(v);
    return 0;
}

int qr_json_str(const json_t *o, const char *key, const char **out, const char *file, QrErr *e) {
    const json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return qr_fail(e, "%s: \"%s\" is not a string", file, key);
    *out = json_string_value(v);
    return 0;
}

const QrTensor *qr_ckpt_need(const QrCheckpoint *c, const char *name, QrErr *e) {
    const QrTensor *t = qr_ckpt_find(c, name);
    if (!t) qr_fail(e, "%s: tensor '%s' is missing", c->path, name);
    return t;
}

float *qr_ckpt_vec(const QrCheckpoint *c, const char *name, int64_t n, QrErr *e) {
    const QrTensor *t = qr_ckpt_need(c, name, e);
    if (!t) return NULL;
    char sh[96];
    if (!((t->ndim == 1 && t->shape[0] == n) || (t->ndim == 2 && t->shape[0] == 1 && t->shape[1] == n))) {
        qr_fail(e, "%s: tensor '%s' has shape %s, the config implies [%lld]", t->file, name,
                qr_shape_str(t, sh, sizeof sh), (long long)n);
        return NULL;
    }
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        qr_fail(e, "out of memory");
        return NULL;
    }
    if (qr_to_f32(t->dtype, t->data, v, (size_t)n)) {
        qr_fail(e, "%s: tensor '%s' has dtype %s (F32, F16 or BF16 expected)", t->file, name, qr_dtype_name(t->dtype));
        free(v);
        return NULL;
    }
    return v;
}
