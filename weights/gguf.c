// GGUF v3 reader: see gguf.h for the layout. Every read goes through Cur, which
// checks the remaining length first.
#include "weights/gguf.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *p;
    size_t pos, size;
    const char *name;
    QrErr *e;
} Cur;

static int need(Cur *c, uint64_t n, const char *what) {
    if (n > c->size - c->pos)
        return qr_fail(c->e, "%s: truncated: %s needs %" PRIu64 " bytes at offset %zu, file has %zu", c->name, what,
                       n, c->pos, c->size);
    return 0;
}
static int rd(Cur *c, void *dst, size_t n, const char *what) {
    if (need(c, n, what)) return -1;
    memcpy(dst, c->p + c->pos, n);
    c->pos += n;
    return 0;
}
static int rd_u32(Cur *c, uint32_t *v, const char *what) { return rd(c, v, 4, what); }
static int rd_u64(Cur *c, uint64_t *v, const char *what) { return rd(c, v, 8, what); }
static int rd_str(Cur *c, GgufStr *s, const char *what) {
    uint64_t n;
    if (rd_u64(c, &n, what) || need(c, n, what)) return -1;
    s->ptr = (const char *)c->p + c->pos;
    s->len = n;
    c->pos += n;
    return 0;
}
static char *dup_str(GgufStr s) {
    char *r = malloc(s.len + 1);
    if (!r) return NULL;
    memcpy(r, s.ptr, s.len);
    r[s.len] = 0;
    return r;
}

// Size in bytes of a scalar value type, 0 for STRING/ARRAY/unknown.
static size_t scalar_size(uint32_t t) {
    switch (t) {
    case GGUF_UINT8: case GGUF_INT8: case GGUF_BOOL: return 1;
    case GGUF_UINT16: case GGUF_INT16: return 2;
    case GGUF_UINT32: case GGUF_INT32: case GGUF_FLOAT32: return 4;
    case GGUF_UINT64: case GGUF_INT64: case GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

// Decodes a scalar at p of type t into the KV's union.
static void decode_scalar(GgufKV *kv, uint32_t t, const uint8_t *p) {
    switch (t) {
    case GGUF_UINT8: kv->v.u = p[0]; break;
    case GGUF_INT8: kv->v.i = (int8_t)p[0]; break;
    case GGUF_BOOL: kv->v.b = p[0] != 0; break;
    case GGUF_UINT16: { uint16_t x; memcpy(&x, p, 2); kv->v.u = x; break; }
    case GGUF_INT16: { int16_t x; memcpy(&x, p, 2); kv->v.i = x; break; }
    case GGUF_UINT32: { uint32_t x; memcpy(&x, p, 4); kv->v.u = x; break; }
    case GGUF_INT32: { int32_t x; memcpy(&x, p, 4); kv->v.i = x; break; }
    case GGUF_FLOAT32: { float x; memcpy(&x, p, 4); kv->v.f = x; break; }
    case GGUF_UINT64: { uint64_t x; memcpy(&x, p, 8); kv->v.u = x; break; }
    case GGUF_INT64: { int64_t x; memcpy(&x, p, 8); kv->v.i = x; break; }
    case GGUF_FLOAT64: { double x; memcpy(&x, p, 8); kv->v.f = x; break; }
    }
}

static int read_kv(Cur *c, GgufKV *kv) {
    GgufStr key;
    if (rd_str(c, &key, "metadata key")) return -1;
    if (!(kv->key = dup_str(key))) return qr_fail(c->e, "%s: out of memory", c->name);
    if (rd_u32(c, &kv->type, "metadata value type")) return -1;
    if (kv->type == GGUF_STRING) return rd_str(c, &kv->v.s, kv->key);
    if (kv->type == GGUF_ARRAY) {
        if (rd_u32(c, &kv->arr_type, kv->key) || rd_u64(c, &kv->arr_n, kv->key)) return -1;
        if (kv->arr_type == GGUF_STRING) {
            // Each string needs at least its 8-byte length: bound the count first.
            if (kv->arr_n > (c->size - c->pos) / 8)
                return qr_fail(c->e, "%s: metadata '%s': string array count %" PRIu64 " exceeds the file", c->name,
                               kv->key, kv->arr_n);
            kv->arr_strs = malloc((kv->arr_n ? kv->arr_n : 1) * sizeof(GgufStr));
            if (!kv->arr_strs) return qr_fail(c->e, "%s: out of memory", c->name);
            for (uint64_t i = 0; i < kv->arr_n; i++)
                if (rd_str(c, &kv->arr_strs[i], kv->key)) return -1;
            return 0;
        }
        size_t es = scalar_size(kv->arr_type);
        if (!es)
            return qr_fail(c->e, "%s: metadata '%s': unsupported array element type %u", c->name, kv->key,
                           kv->arr_type);
        if (kv->arr_n > (c->size - c->pos) / es)
            return qr_fail(c->e, "%s: metadata '%s': array of %" PRIu64 " elements exceeds the file", c->name,
                           kv->key, kv->arr_n);
        kv->arr_data = c->p + c->pos;
        c->pos += kv->arr_n * es;
        return 0;
    }
    size_t sz = scalar_size(kv->type);
    if (!sz) return qr_fail(c->e, "%s: metadata '%s': unknown value type %u", c->name, kv->key, kv->type);
    if (need(c, sz, kv->key)) return -1;
    decode_scalar(kv, kv->type, c->p + c->pos);
    c->pos += sz;
    return 0;
}

// Elements per block and bytes per block for the ggml types we can size.
static int type_block(uint32_t t, uint64_t *blk, uint64_t *bytes) {
    switch (t) {
    case GGML_F32: *blk = 1; *bytes = 4; return 0;
    case GGML_F16: case GGML_BF16: case GGML_I16: *blk = 1; *bytes = 2; return 0;
    case GGML_I8: *blk = 1; *bytes = 1; return 0;
    case GGML_I32: *blk = 1; *bytes = 4; return 0;
    case GGML_I64: case GGML_F64: *blk = 1; *bytes = 8; return 0;
    case GGML_Q4_0: *blk = 32; *bytes = 18; return 0; // ggml block_q4_0: fp16 d + 16 bytes
    case GGML_Q4_1: *blk = 32; *bytes = 20; return 0; // fp16 d, m + 16 bytes
    case GGML_Q5_0: *blk = 32; *bytes = 22; return 0; // fp16 d + 4 bytes qh + 16 bytes
    case GGML_Q5_1: *blk = 32; *bytes = 24; return 0;
    case GGML_Q8_0: *blk = 32; *bytes = 34; return 0; // fp16 d + 32 int8
    default: return -1;
    }
}

const char *gguf_type_name(uint32_t t) {
    switch (t) {
    case GGML_F32: return "F32";
    case GGML_F16: return "F16";
    case GGML_BF16: return "BF16";
    case GGML_Q4_0: return "Q4_0";
    case GGML_Q4_1: return "Q4_1";
    case GGML_Q5_0: return "Q5_0";
    case GGML_Q5_1: return "Q5_1";
    case GGML_Q8_0: return "Q8_0";
    case GGML_I8: return "I8";
    case GGML_I16: return "I16";
    case GGML_I32: return "I32";
    case GGML_I64: return "I64";
    case GGML_F64: return "F64";
    default: return "unknown";
    }
}

static int read_tensor_info(Cur *c, GgufTensor *t) {
    GgufStr name;
    if (rd_str(c, &name, "tensor name")) return -1;
    if (!(t->name = dup_str(name))) return qr_fail(c->e, "%s: out of memory", c->name);
    if (rd_u32(c, &t->n_dims, t->name)) return -1;
    if (t->n_dims < 1 || t->n_dims > 4)
        return qr_fail(c->e, "%s: tensor '%s': %u dimensions (1..4 supported)", c->name, t->name, t->n_dims);
    uint64_t n = 1;
    for (int d = 0; d < 4; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if (rd_u64(c, &t->ne[d], t->name)) return -1;
        if (t->ne[d] == 0 || t->ne[d] > (UINT64_C(1) << 40) / n)
            return qr_fail(c->e, "%s: tensor '%s': bad dimension %" PRIu64, c->name, t->name, t->ne[d]);
        n *= t->ne[d];
    }
    if (rd_u32(c, &t->ggml_type, t->name) || rd_u64(c, &t->offset, t->name)) return -1;
    uint64_t blk, bytes;
    if (type_block(t->ggml_type, &blk, &bytes))
        return qr_fail(c->e, "%s: tensor '%s': unsupported ggml type %u", c->name, t->name, t->ggml_type);
    if (t->ne[0] % blk)
        return qr_fail(c->e, "%s: tensor '%s': row of %" PRIu64 " not a multiple of the %s block (%" PRIu64 ")",
                       c->name, t->name, t->ne[0], gguf_type_name(t->ggml_type), blk);
    t->nbytes = n / blk * bytes;
    return 0;
}

static int cmp_offset(const void *a, const void *b) {
    const GgufTensor *x = *(GgufTensor *const *)a, *y = *(GgufTensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int gguf_parse(GgufFile *g, const uint8_t *data, size_t size, const char *name, QrErr *e) {
    memset(g, 0, sizeof *g);
    g->map.fd = -1;
    g->path = name;
    g->base = data;
    g->size = size;
    Cur c = {data, 0, size, name, e};
    uint32_t magic;
    if (size < 4 || (memcpy(&magic, data, 4), magic != 0x46554747u)) // "GGUF" little-endian
        return qr_fail(e, "%s: not a GGUF file (bad magic)", name);
    c.pos = 4;
    if (rd_u32(&c, &g->version, "version")) return -1;
    if (g->version != 2 && g->version != 3)
        return qr_fail(e, "%s: GGUF version %u not supported (2 or 3)", name, g->version);
    if (rd_u64(&c, &g->n_tensors, "tensor count") || rd_u64(&c, &g->n_kv, "metadata count")) return -1;
    // Minimal encoded sizes bound the counts before anything is allocated.
    if (g->n_kv > (size - c.pos) / 13) return qr_fail(e, "%s: metadata count %" PRIu64 " exceeds the file", name, g->n_kv);
    if (g->n_tensors > (size - c.pos) / 32)
        return qr_fail(e, "%s: tensor count %" PRIu64 " exceeds the file", name, g->n_tensors);
    g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof(GgufKV));
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof(GgufTensor));
    if (!g->kv || !g->tensors) return qr_fail(e, "%s: out of memory", name);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        if (read_kv(&c, &g->kv[i])) return -1;
        for (uint64_t j = 0; j < i; j++)
            if (!strcmp(g->kv[j].key, g->kv[i].key))
                return qr_fail(e, "%s: duplicate metadata key '%s'", name, g->kv[i].key);
    }
    g->alignment = 32;
    const GgufKV *al = gguf_find(g, "general.alignment");
    if (al) {
        if (al->type != GGUF_UINT32 || al->v.u == 0 || (al->v.u & (al->v.u - 1)))
            return qr_fail(e, "%s: general.alignment must be a power-of-two u32", name);
        g->alignment = (uint32_t)al->v.u;
    }
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (read_tensor_info(&c, &g->tensors[i])) return -1;
    uint64_t data_off = (c.pos + g->alignment - 1) / g->alignment * g->alignment;
    if (g->n_tensors && data_off > size) return qr_fail(e, "%s: truncated before the tensor data", name);
    g->data_offset = data_off;
    uint64_t data_size = g->n_tensors ? size - data_off : 0;
    GgufTensor **order = malloc((g->n_tensors ? g->n_tensors : 1) * sizeof *order);
    if (!order) return qr_fail(e, "%s: out of memory", name);
    for (uint64_t i = 0; i < g->n_tensors; i++) order[i] = &g->tensors[i];
    qsort(order, g->n_tensors, sizeof *order, cmp_offset);
    int rc = 0;
    for (uint64_t i = 0; i < g->n_tensors && !rc; i++) {
        GgufTensor *t = &g->tensors[i];
        if (t->offset % g->alignment)
            rc = qr_fail(e, "%s: tensor '%s': offset %" PRIu64 " not aligned to %u", name, t->name, t->offset,
                         g->alignment);
        else if (t->offset > data_size || t->nbytes > data_size - t->offset)
            rc = qr_fail(e, "%s: tensor '%s': data [%" PRIu64 ", +%" PRIu64 ") past the end of the file", name,
                         t->name, t->offset, t->nbytes);
        else
            t->data = data + data_off + t->offset;
    }
    for (uint64_t i = 0; i + 1 < g->n_tensors && !rc; i++)
        if (order[i]->offset + order[i]->nbytes > order[i + 1]->offset)
            rc = qr_fail(e, "%s: tensors '%s' and '%s' overlap", name, order[i]->name, order[i + 1]->name);
    free(order);
    if (rc) return rc;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        for (uint64_t j = 0; j < i; j++)
            if (!strcmp(g->tensors[i].name, g->tensors[j].name))
                return qr_fail(e, "%s: duplicate tensor '%s'", name, g->tensors[i].name);
    return 0;
}

int gguf_open(GgufFile *g, const char *path, QrErr *e) {
    QrMap m;
    if (qr_map_file(&m, path, e)) {
        memset(g, 0, sizeof *g);
        g->map.fd = -1;
        return -1;
    }
    int rc = gguf_parse(g, m.data, m.size, path, e);
    g->map = m; // owned even on failure, so gguf_close releases it
    return rc;
}

void gguf_close(GgufFile *g) {
    if (g->kv)
        for (uint64_t i = 0; i < g->n_kv; i++) {
            free(g->kv[i].key);
            free(g->kv[i].arr_strs);
        }
    if (g->tensors)
        for (uint64_t i = 0; i < g->n_tensors; i++) free(g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    if (g->map.fd >= 0 || g->map.data) qr_unmap(&g->map);
    memset(g, 0, sizeof *g);
    g->map.fd = -1;
}

const GgufKV *gguf_find(const GgufFile *g, const char *key) {
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key && !strcmp(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const GgufTensor *gguf_tensor(const GgufFile *g, const char *name) {
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].name && !strcmp(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

static int is_unsigned(uint32_t t) {
    return t == GGUF_UINT8 || t == GGUF_UINT16 || t == GGUF_UINT32 || t == GGUF_UINT64;
}
static int is_signed(uint32_t t) { return t == GGUF_INT8 || t == GGUF_INT16 || t == GGUF_INT32 || t == GGUF_INT64; }

int gguf_get_int(const GgufFile *g, const char *key, int64_t *out, QrErr *e) {
    const GgufKV *kv = gguf_find(g, key);
    if (!kv) return qr_fail(e, "%s: missing metadata '%s'", g->path, key);
    if (is_signed(kv->type)) { *out = kv->v.i; return 0; }
    if (is_unsigned(kv->type) && kv->v.u <= (uint64_t)INT64_MAX) { *out = (int64_t)kv->v.u; return 0; }
    if (kv->type == GGUF_BOOL) { *out = kv->v.b; return 0; }
    return qr_fail(e, "%s: metadata '%s' is not an integer", g->path, key);
}

int gguf_get_float(const GgufFile *g, const char *key, double *out, QrErr *e) {
    const GgufKV *kv = gguf_find(g, key);
    if (!kv) return qr_fail(e, "%s: missing metadata '%s'", g->path, key);
    if (kv->type == GGUF_FLOAT32 || kv->type == GGUF_FLOAT64) { *out = kv->v.f; return 0; }
    if (is_signed(kv->type)) { *out = (double)kv->v.i; return 0; }
    if (is_unsigned(kv->type)) { *out = (double)kv->v.u; return 0; }
    return qr_fail(e, "%s: metadata '%s' is not a number", g->path, key);
}

int gguf_get_str(const GgufFile *g, const char *key, GgufStr *out, QrErr *e) {
    const GgufKV *kv = gguf_find(g, key);
    if (!kv) return qr_fail(e, "%s: missing metadata '%s'", g->path, key);
    if (kv->type != GGUF_STRING) return qr_fail(e, "%s: metadata '%s' is not a string", g->path, key);
    *out = kv->v.s;
    return 0;
}

int gguf_get_arr(const GgufFile *g, const char *key, uint32_t elem_type, const GgufKV **out, QrErr *e) {
    const GgufKV *kv = gguf_find(g, key);
    if (!kv) return qr_fail(e, "%s: missing metadata '%s'", g->path, key);
    if (kv->type != GGUF_ARRAY || kv->arr_type != elem_type)
        return qr_fail(e, "%s: metadata '%s' is not an array of type %u", g->path, key, elem_type);
    *out = kv;
    return 0;
}

double gguf_arr_f(const GgufKV *kv, uint64_t i) {
    GgufKV tmp;
    decode_scalar(&tmp, kv->arr_type, kv->arr_data + i * scalar_size(kv->arr_type));
    if (kv->arr_type == GGUF_FLOAT32 || kv->arr_type == GGUF_FLOAT64) return tmp.v.f;
    if (is_signed(kv->arr_type)) return (double)tmp.v.i;
    if (kv->arr_type == GGUF_BOOL) return tmp.v.b;
    return (double)tmp.v.u;
}

int64_t gguf_arr_i(const GgufKV *kv, uint64_t i) {
    GgufKV tmp;
    decode_scalar(&tmp, kv->arr_type, kv->arr_data + i * scalar_size(kv->arr_type));
    if (kv->arr_type == GGUF_FLOAT32 || kv->arr_type == GGUF_FLOAT64) return (int64_t)tmp.v.f;
    if (is_signed(kv->arr_type)) return tmp.v.i;
    if (kv->arr_type == GGUF_BOOL) return tmp.v.b;
    return (int64_t)tmp.v.u;
}

int gguf_str_eq(GgufStr s, const char *lit) {
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}
