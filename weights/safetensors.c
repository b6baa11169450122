#include "weights/safetensors.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

// Largest header the reference implementation accepts (safetensors' MAX_HEADER_SIZE).
#define ST_MAX_HEADER (100u * 1000u * 1000u)

typedef struct {
    uint64_t begin, end;
    int idx;
} Span;

static int cmp_span(const void *a, const void *b) {
    const Span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

// Reads a JSON integer that must be a non-negative value.
static int get_u64(const json_t *j, uint64_t *out) {
    if (!json_is_integer(j)) return -1;
    json_int_t v = json_integer_value(j);
    if (v < 0) return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_entry(QrSafetensors *st, const char *name, const json_t *v, uint64_t data_len, QrTensor *t,
                       Span *sp, QrErr *e) {
    const char *P = st->path;
    if (!json_is_object(v)) return qr_fail(e, "%s: tensor '%s': header entry is not an object", P, name);
    const json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"),
                 *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd)) return qr_fail(e, "%s: tensor '%s': missing or non-string dtype", P, name);
    if (qr_dtype_from_name(json_string_value(jd), &t->dtype))
        return qr_fail(e, "%s: tensor '%s': unknown dtype '%s'", P, name, json_string_value(jd));
    if (!json_is_array(js)) return qr_fail(e, "%s: tensor '%s': missing or non-array shape", P, name);
    size_t nd = json_array_size(js);
    if (nd > QR_MAX_DIMS) return qr_fail(e, "%s: tensor '%s': %zu dimensions (at most %d)", P, name, nd, QR_MAX_DIMS);
    t->ndim = (int)nd;
    // numel x size must not overflow; every dimension is bounded by the file size anyway
    // unless another is 0, so track the product with an overflow check.
    unsigned __int128 bytes = qr_dtype_size(t->dtype);
    for (size_t i = 0; i < nd; i++) {
        uint64_t d;
        if (get_u64(json_array_get(js, i), &d))
            return qr_fail(e, "%s: tensor '%s': shape[%zu] is not a non-negative integer", P, name, i);
        t->shape[i] = (int64_t)d;
        bytes *= d;
        if (bytes > (unsigned __int128)UINT64_MAX) bytes = (unsigned __int128)UINT64_MAX; // saturate
    }
    if (!json_is_array(jo) || json_array_size(jo) != 2)
        return qr_fail(e, "%s: tensor '%s': data_offsets must be [begin, end]", P, name);
    uint64_t b, en;
    if (get_u64(json_array_get(jo, 0), &b) || get_u64(json_array_get(jo, 1), &en))
        return qr_fail(e, "%s: tensor '%s': data_offsets are not non-negative integers", P, name);
    if (b > en) return qr_fail(e, "%s: tensor '%s': data_offsets begin %llu > end %llu", P, name,
                               (unsigned long long)b, (unsigned long long)en);
    if (en > data_len)
        return qr_fail(e, "%s: tensor '%s': data_offsets end %llu past the data section (%llu bytes; file truncated?)",
                       P, name, (unsigned long long)en, (unsigned long long)data_len);
    if ((unsigned __int128)(en - b) != bytes) {
        char sh[128];
        return qr_fail(e, "%s: tensor '%s': %llu bytes but dtype %s x shape %s needs %llu", P, name,
                       (unsigned long long)(en - b), qr_dtype_name(t->dtype), qr_shape_str(t, sh, sizeof sh),
                       (unsigned long long)bytes);
    }
    t->nbytes = (size_t)(en - b);
    sp->begin = b;
    sp->end = en;
    return 0;
}

int qr_st_parse(QrSafetensors *st, const uint8_t *buf, size_t len, const char *path, QrErr *e) {
    memset(st, 0, sizeof *st);
    st->map.fd = -1;
    st->path = strdup(path ? path : "?");
    if (!st->path) return qr_fail(e, "out of memory");
    const char *P = st->path;
    if (len < 8) {
        qr_fail(e, "%s: truncated: %zu bytes, a safetensors file starts with an 8-byte header length", P, len);
        goto fail;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | buf[i];
    if (n > len - 8) {
        qr_fail(e, "%s: header length %llu past the end of the file (%zu bytes)", P, (unsigned long long)n, len);
        goto fail;
    }
    if (n < 2 || n > ST_MAX_HEADER) {
        qr_fail(e, "%s: implausible header length %llu", P, (unsigned long long)n);
        goto fail;
    }
    json_error_t je;
    json_t *h = json_loadb((const char *)buf + 8, (size_t)n, JSON_REJECT_DUPLICATES, &je);
    if (!h) {
        qr_fail(e, "%s: invalid JSON header: %s (line %d column %d)", P, je.text, je.line, je.column);
        goto fail;
    }
    if (!json_is_object(h)) {
        json_decref(h);
        qr_fail(e, "%s: JSON header is not an object", P);
        goto fail;
    }
    size_t cap = json_object_size(h);
    st->tensors = calloc(cap ? cap : 1, sizeof *st->tensors);
    Span *spans = calloc(cap ? cap : 1, sizeof *spans);
    if (!st->tensors || !spans) {
        free(spans);
        json_decref(h);
        qr_fail(e, "%s: out of memory", P);
        goto fail;
    }
    const uint8_t *data = buf + 8 + n;
    uint64_t data_len = len - 8 - n;
    const char *key;
    json_t *val;
    int rc = 0;
    json_object_foreach(h, key, val) {
        if (!strcmp(key, "__metadata__")) {
            if (!json_is_object(val)) {
                rc = qr_fail(e, "%s: __metadata__ is not an object", P);
                break;
            }
            continue;
        }
        QrTensor *t = &st->tensors[st->n];
        if ((rc = parse_entry(st, key, val, data_len, t, &spans[st->n], e))) break;
        t->name = strdup(key);
        if (!t->name) {
            rc = qr_fail(e, "%s: out of memory", P);
            break;
        }
        t->data = data + spans[st->n].begin;
        t->file = st->path;
        spans[st->n].idx = st->n;
        st->n++;
    }
    json_decref(h);
    if (!rc) {
        // Overlap check: sorted by begin, each tensor must start at or after the
        // previous one's end (empty tensors occupy nothing).
        qsort(spans, (size_t)st->n, sizeof *spans, cmp_span);
        uint64_t prev_begin = 0, prev_end = 0;
        int prev = -1;
        for (int i = 0; i < st->n; i++) {
            if (spans[i].begin == spans[i].end) continue;
            if (prev >= 0 && spans[i].begin < prev_end) {
                rc = qr_fail(e, "%s: tensors '%s' and '%s' overlap (bytes %llu..%llu and %llu..%llu)", P,
                             st->tensors[prev].name, st->tensors[spans[i].idx].name,
                             (unsigned long long)prev_begin, (unsigned long long)prev_end,
                             (unsigned long long)spans[i].begin, (unsigned long long)spans[i].end);
                break;
            }
            prev_begin = spans[i].begin;
            prev_end = spans[i].end;
            prev = spans[i].idx;
        }
    }
    free(spans);
    if (rc) goto fail;
    return 0;
fail:
    qr_st_close(st);
    return -1;
}

int qr_st_open(QrSafetensors *st, const char *path, QrErr *e) {
    QrMap m;
    if (qr_map_file(&m, path, e)) {
        memset(st, 0, sizeof *st);
        st->map.fd = -1;
        return -1;
    }
    if (qr_st_parse(st, m.data, m.size, path, e)) {
        qr_unmap(&m);
        return -1;
    }
    st->map = m;
    return 0;
}

void qr_st_close(QrSafetensors *st) {
    if (st->tensors)
        for (int i = 0; i < st->n; i++) free((char *)st->tensors[i].name);
    free(st->tensors);
    free(st->path);
    if (st->map.data || st->map.fd >= 0) qr_unmap(&st->map);
    memset(st, 0, sizeof *st);
    st->map.fd = -1;
}
