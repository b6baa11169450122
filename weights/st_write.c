// See weights/st_write.h.
#include "weights/st_write.h"
#include <stdlib.h>
#include <string.h>
#include "util/fileio.h"

// The rank of each dtype in the safetensors crate's Dtype enum (BOOL, U8, I8,
// F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64): the
// library lays tensors out by descending rank, then by name.
static int dtype_rank(QrDType t) {
    switch (t) {
    case QR_DT_BOOL: return 0;
    case QR_DT_U8: return 1;
    case QR_DT_I8: return 2;
    case QR_DT_F8_E5M2: return 3;
    case QR_DT_F8_E4M3: return 4;
    case QR_DT_I16: return 5;
    case QR_DT_U16: return 6;
    case QR_DT_F16: return 7;
    case QR_DT_BF16: return 8;
    case QR_DT_I32: return 9;
    case QR_DT_U32: return 10;
    case QR_DT_F32: return 11;
    case QR_DT_F64: return 12;
    case QR_DT_I64: return 13;
    case QR_DT_U64: return 14;
    default: return -1;
    }
}

static int cmp_layout(const void *a, const void *b) {
    const QrTensor *x = *(const QrTensor *const *)a, *y = *(const QrTensor *const *)b;
    const int rx = dtype_rank(x->dtype), ry = dtype_rank(y->dtype);
    if (rx != ry) return rx > ry ? -1 : 1;
    return strcmp(x->name, y->name);
}

int qr_st_write(const char *path, const QrTensor *t, int n, const json_t *metadata, QrErr *e) {
    const QrTensor **order = malloc(sizeof *order * (size_t)(n > 0 ? n : 1));
    json_t *hdr = json_object();
    char *js = NULL;
    int rc = -1;
    if (!order || !hdr) {
        qr_fail(e, "%s: out of memory", path);
        goto out;
    }
    for (int i = 0; i < n; i++) order[i] = &t[i];
    qsort(order, (size_t)n, sizeof *order, cmp_layout);
    if (metadata) json_object_set(hdr, "__metadata__", (json_t *)metadata);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        const QrTensor *x = order[i];
        if (i && !strcmp(x->name, order[i - 1]->name)) {
            qr_fail(e, "%s: tensor '%s' given twice", path, x->name);
            goto out;
        }
        if ((size_t)qr_tensor_numel(x) * qr_dtype_size(x->dtype) != x->nbytes) {
            qr_fail(e, "%s: tensor '%s': %zu bytes for %lld elements of %s", path, x->name, x->nbytes,
                    (long long)qr_tensor_numel(x), qr_dtype_name(x->dtype));
            goto out;
        }
        json_t *shape = json_array();
        for (int d = 0; d < x->ndim; d++) json_array_append_new(shape, json_integer(x->shape[d]));
        json_t *o = json_object();
        json_object_set_new(o, "dtype", json_string(qr_dtype_name(x->dtype)));
        json_object_set_new(o, "shape", shape);
        json_object_set_new(o, "data_offsets", json_pack("[II]", (json_int_t)off, (json_int_t)(off + x->nbytes)));
        if (json_object_set_new(hdr, x->name, o)) {
            qr_fail(e, "%s: out of memory", path);
            goto out;
        }
        off += x->nbytes;
    }
    js = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!js) {
        qr_fail(e, "%s: out of memory", path);
        goto out;
    }
    const size_t jl = strlen(js), padded = (jl + 7) / 8 * 8;
    uint8_t len8[8];
    for (int k = 0; k < 8; k++) len8[k] = (uint8_t)((uint64_t)padded >> (8 * k));
    QrAtomicFile f;
    if (qr_atomic_open(&f, path, e)) goto out;
    static const char spaces[8] = "        ";
    if (qr_atomic_write(&f, len8, 8, e) || qr_atomic_write(&f, js, jl, e) ||
        qr_atomic_write(&f, spaces, padded - jl, e)) {
        qr_atomic_abort(&f);
        goto out;
    }
    for (int i = 0; i < n; i++)
        if (qr_atomic_write(&f, order[i]->data, order[i]->nbytes, e)) {
            qr_atomic_abort(&f);
            goto out;
        }
    rc = qr_atomic_commit(&f, e);
out:
    free(js);
    json_decref(hdr);
    free(order);
    return rc;
}
