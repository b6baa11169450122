// See runtime/qlinear.h.
#include "runtime/qlinear.h"
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/int8_matmul.h"
#include "runtime/model.h"

static int is_quant(QrWeightFormat f) { return f == QR_WF_NF4 || f == QR_WF_INT8; }

static void qlinear_free(void *p) {
    QrQLinear *q = p;
    if (!q) return;
    qr_nf4_free(&q->nf4);
    qr_int8_free(&q->int8);
    free(q->owned_aux);
    free(q);
}

static void apply_opts(QrQLinear *q, const QrQuantOpts *o) {
    if (o->set_threshold) q->threshold = o->int8_threshold;
    if (o->set_compute) q->compute = o->compute;
}

static QrQLinear *qlinear_new(const QrQuantOpts *o, QrErr *e) {
    QrQLinear *q = calloc(1, sizeof *q);
    if (!q) {
        qr_fail(e, "out of memory");
        return NULL;
    }
    q->threshold = QR_INT8_THRESHOLD_DEFAULT;
    q->compute = QR_COMPUTE_F32;
    apply_opts(q, o);
    return q;
}

static void attach(QrLinear *L, QrQLinear *q, QrWeightFormat fmt) {
    if (L->owned) free(L->w);
    L->w = NULL;
    L->owned = 0;
    L->fmt = fmt;
    L->q = q;
    L->q_free = qlinear_free;
}

int qr_linear_quantize(QrLinear *L, const QrQuantOpts *o, QrErr *e) {
    const QrDType dt = qr_wf_dtype(L->fmt);
    if (dt == QR_DT_COUNT) return qr_fail(e, "%s: already quantized (%s)", L->name, qr_wf_name(L->fmt));
    if (!is_quant(o->fmt)) return qr_fail(e, "%s: %s is not a quantized format", L->name, qr_wf_name(o->fmt));
    const size_t n = (size_t)L->out * L->in;
    float *w = malloc(n * sizeof *w);
    QrQLinear *q = qlinear_new(o, e);
    if (!w || !q) {
        free(w);
        qlinear_free(q);
        return qr_fail(e, "%s: out of memory quantizing [%d, %d]", L->name, L->out, L->in);
    }
    qr_to_f32(dt, L->w, w, n); // exact: bitsandbytes quantizes the values as loaded
    int rc = o->fmt == QR_WF_NF4 ? qr_nf4_quantize(&q->nf4, w, L->out, L->in, e)
                                 : qr_int8_quantize(&q->int8, w, L->out, L->in, e);
    free(w);
    if (rc) {
        qr_err_prefix(e, "%s", L->name);
        qlinear_free(q);
        return -1;
    }
    attach(L, q, o->fmt);
    return 0;
}

void qr_qlinear_forward(const QrLinear *L, const float *x, int n, float *y) {
    const QrQLinear *q = L->q;
    if (L->fmt == QR_WF_NF4) qr_nf4_matmul(&q->nf4, x, n, q->compute, y);
    else qr_int8_matmul(&q->int8, x, n, q->threshold, y);
    if (q->extra) q->extra(q->extra_ctx, x, n, L->out, L->in, y);
}

int qr_qlinear_forward_multi(const QrLinear *const *L, int k, const float *x, int n, float *const *y) {
    const QrNF4 *w[4];
    if (k < 1 || k > 4) return -1;
    const QrComputeType ct = ((const QrQLinear *)L[0]->q)->compute;
    for (int i = 0; i < k; i++) {
        const QrQLinear *q = L[i]->q;
        if (L[i]->fmt != QR_WF_NF4 || q->compute != ct) return -1;
        w[i] = &q->nf4;
    }
    qr_nf4_matmul_multi(w, k, x, n, ct, y);
    for (int i = 0; i < k; i++) {
        const QrQLinear *q = L[i]->q;
        if (q->extra) q->extra(q->extra_ctx, x, n, L[i]->out, L[i]->in, y[i]);
    }
    return 0;
}

size_t qr_qlinear_bytes(const QrLinear *L) {
    const QrQLinear *q = L->q;
    if (L->fmt == QR_WF_NF4)
        return (size_t)(q->nf4.rows * q->nf4.cols + 1) / 2 + (size_t)q->nf4.nblocks + 4 * (size_t)q->nf4.nblocks2 +
               sizeof q->nf4.code + sizeof q->nf4.code2;
    return (size_t)(q->int8.rows * q->int8.cols) + 4 * (size_t)q->int8.rows;
}

void qr_qlinear_set_opts(QrLinear *L, const QrQuantOpts *o) { apply_opts(L->q, o); }

// ---- checkpoints saved by transformers + bitsandbytes ------------------------------
static int is_true(const json_t *o, const char *key) { return json_is_true(json_object_get(o, key)); }

int qr_bnb_config(const QrCheckpoint *ck, QrQuantOpts *o, QrErr *e) {
    memset(o, 0, sizeof *o);
    const json_t *qc = ck->config ? json_object_get(ck->config, "quantization_config") : NULL;
    if (!qc || json_is_null(qc)) return 0;
    const char *file = ck->config_path ? ck->config_path : ck->path;
    const char *s;
    if (!json_is_object(qc)) return qr_fail(e, "%s: \"quantization_config\" is not an object", file);
    o->set_threshold = o->set_compute = 1;
    if (qr_json_str(qc, "quant_method", &s, file, e)) return -1;
    if (!s || strcmp(s, "bitsandbytes"))
        return qr_fail(e, "%s: quantization_config.quant_method '%s' is not supported (only bitsandbytes)", file,
                       s ? s : "(none)");
    double thr;
    if (qr_json_num(qc, "llm_int8_threshold", 0, QR_INT8_THRESHOLD_DEFAULT, &thr, file, e)) return -1;
    if (!(thr >= 0)) return qr_fail(e, "%s: quantization_config.llm_int8_threshold %g is negative", file, thr);
    o->int8_threshold = (float)thr;
    const int b4 = is_true(qc, "load_in_4bit") || is_true(qc, "_load_in_4bit");
    const int b8 = is_true(qc, "load_in_8bit") || is_true(qc, "_load_in_8bit");
    if (b4 == b8) return qr_fail(e, "%s: quantization_config sets neither or both of load_in_4bit and load_in_8bit", file);
    if (b8) {
        if (is_true(qc, "llm_int8_has_fp16_weight"))
            return qr_fail(e, "%s: quantization_config.llm_int8_has_fp16_weight is not supported", file);
        o->fmt = QR_WF_INT8;
        return 0;
    }
    if (qr_json_str(qc, "bnb_4bit_quant_type", &s, file, e)) return -1;
    if (!s || strcmp(s, "nf4"))
        return qr_fail(e, "%s: quantization_config.bnb_4bit_quant_type '%s' is not supported (only nf4)", file,
                       s ? s : "fp4");
    if (!is_true(qc, "bnb_4bit_use_double_quant"))
        return qr_fail(e, "%s: NF4 without bnb_4bit_use_double_quant is not supported", file);
    if (qr_json_str(qc, "bnb_4bit_compute_dtype", &s, file, e)) return -1;
    if (!s || !strcmp(s, "float32")) o->compute = QR_COMPUTE_F32;
    else if (!strcmp(s, "float16")) o->compute = QR_COMPUTE_F16;
    else if (!strcmp(s, "bfloat16")) o->compute = QR_COMPUTE_BF16;
    else return qr_fail(e, "%s: quantization_config.bnb_4bit_compute_dtype '%s' is not supported", file, s);
    o->fmt = QR_WF_NF4;
    return 0;
}

// A companion tensor `<base><suffix>` of the expected dtype and element count.
static const QrTensor *aux(const QrCheckpoint *ck, const char *base, const char *suffix, QrDType dt, int64_t numel,
                           QrErr *e) {
    char name[256];
    snprintf(name, sizeof name, "%s%s", base, suffix);
    const QrTensor *t = qr_ckpt_find(ck, name);
    if (!t) {
        qr_fail(e, "%s: tensor '%s' is missing (bitsandbytes quantization state)", ck->path, name);
        return NULL;
    }
    if (t->dtype != dt) {
        qr_fail(e, "%s: tensor '%s' has dtype %s, expected %s", t->file, name, qr_dtype_name(t->dtype),
                qr_dtype_name(dt));
        return NULL;
    }
    if (numel >= 0 && qr_tensor_numel(t) != numel) {
        qr_fail(e, "%s: tensor '%s' has %lld elements, expected %lld", t->file, name, (long long)qr_tensor_numel(t),
                (long long)numel);
        return NULL;
    }
    return t;
}

static int all_finite(const float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

static int load_nf4(QrQLinear *q, const QrCheckpoint *ck, const QrTensor *t, int out, int in, QrErr *e) {
    const int64_t n = (int64_t)out * in;
    QrNF4 *w = &q->nf4;
    w->rows = out;
    w->cols = in;
    w->nblocks = (n + QR_NF4_BLOCK - 1) / QR_NF4_BLOCK;
    w->nblocks2 = (w->nblocks + QR_NF4_BLOCK2 - 1) / QR_NF4_BLOCK2;
    if (qr_tensor_numel(t) != (n + 1) / 2)
        return qr_fail(e, "%s: tensor '%s' holds %lld bytes, NF4 [%d, %d] packs into %lld", t->file, t->name,
                       (long long)qr_tensor_numel(t), out, in, (long long)((n + 1) / 2));
    const char *base = t->name;
    char nm[256];
    snprintf(nm, sizeof nm, "%s.absmax", base);
    const QrTensor *ta = qr_ckpt_find(ck, nm);
    if (ta && ta->dtype == QR_DT_F32)
        return qr_fail(e, "%s: tensor '%s' is F32: NF4 without double quantization is not supported", ta->file, nm);
    const QrTensor *tqs = aux(ck, base, ".quant_state.bitsandbytes__nf4", QR_DT_U8, -1, e);
    if (!tqs) {
        snprintf(nm, sizeof nm, "%s.quant_state.bitsandbytes__fp4", base);
        if (qr_ckpt_find(ck, nm)) return qr_fail(e, "%s: tensor '%s': FP4 is not supported (only NF4)", ck->path, nm);
        return -1;
    }
    if (!(ta = aux(ck, base, ".absmax", QR_DT_U8, w->nblocks, e))) return -1;
    const QrTensor *tm = aux(ck, base, ".quant_map", QR_DT_F32, 16, e);
    const QrTensor *tn = tm ? aux(ck, base, ".nested_absmax", QR_DT_F32, w->nblocks2, e) : NULL;
    const QrTensor *tn2 = tn ? aux(ck, base, ".nested_quant_map", QR_DT_F32, 256, e) : NULL;
    if (!tn2) return -1;
    // The quantization state's JSON (bitsandbytes QuantState.as_dict(packed=True)).
    json_error_t je;
    json_t *js = json_loadb(tqs->data, tqs->nbytes, 0, &je);
    if (!js || !json_is_object(js)) {
        json_decref(js);
        return qr_fail(e, "%s: tensor '%s' is not a JSON object (%s)", tqs->file, tqs->name, je.text);
    }
    const json_t *sh = json_object_get(js, "shape");
    const char *qt = json_string_value(json_object_get(js, "quant_type"));
    const json_t *off = json_object_get(js, "nested_offset");
    const char *bad = !qt || strcmp(qt, "nf4") ? "quant_type is not \"nf4\""
                      : json_integer_value(json_object_get(js, "blocksize")) != QR_NF4_BLOCK ? "blocksize is not 64"
                      : json_integer_value(json_object_get(js, "nested_blocksize")) != QR_NF4_BLOCK2
                          ? "nested_blocksize is not 256"
                      : !json_is_number(off) || !isfinite(json_number_value(off)) ? "nested_offset is not a number"
                      : json_array_size(sh) != 2 || json_integer_value(json_array_get(sh, 0)) != out ||
                              json_integer_value(json_array_get(sh, 1)) != in
                          ? "shape differs from the layer's"
                          : NULL;
    if (!bad) w->offset = (float)json_number_value(off); // the JSON holds the float exactly (Python repr)
    json_decref(js);
    if (bad) return qr_fail(e, "%s: tensor '%s': %s ([%d, %d] expected)", tqs->file, tqs->name, bad, out, in);
    memcpy(w->code, tm->data, sizeof w->code);
    memcpy(w->code2, tn2->data, sizeof w->code2);
    float *a2 = malloc(tn->nbytes); // aligned copy of the small nested absmax array
    if (!a2) return qr_fail(e, "out of memory");
    memcpy(a2, tn->data, tn->nbytes);
    q->owned_aux = a2;
    if (!all_finite(w->code, 16) || !all_finite(w->code2, 256) || !all_finite(a2, w->nblocks2))
        return qr_fail(e, "%s: the quantization maps or nested absmax of '%s' hold non-finite values", ck->path, base);
    w->packed = t->data;
    w->absmax_q = ta->data;
    w->absmax2 = a2;
    return 0;
}

static int load_int8(QrQLinear *q, const QrCheckpoint *ck, const QrTensor *t, int out, int in, QrErr *e) {
    char sh[96];
    if (t->ndim != 2 || t->shape[0] != out || t->shape[1] != in)
        return qr_fail(e, "%s: tensor '%s' has shape %s, the config implies [%d, %d]", t->file, t->name,
                       qr_shape_str(t, sh, sizeof sh), out, in);
    // <m>.weight -> <m>.SCB, <m>.weight_format
    char base[256];
    snprintf(base, sizeof base, "%s", t->name);
    char *dot = strrchr(base, '.');
    if (!dot || strcmp(dot, ".weight")) return qr_fail(e, "%s: int8 tensor '%s' is not a '.weight'", t->file, t->name);
    dot[1] = 0;
    const QrTensor *ts = aux(ck, base, "SCB", QR_DT_F32, out, e);
    if (!ts) return -1;
    char nm[300];
    snprintf(nm, sizeof nm, "%sweight_format", base);
    const QrTensor *tf = qr_ckpt_find(ck, nm);
    if (tf && (tf->dtype != QR_DT_U8 || tf->nbytes != 1 || *(const uint8_t *)tf->data != 0))
        return qr_fail(e, "%s: tensor '%s': only weight_format 0 (row-major) is supported", tf->file, nm);
    float *scb = malloc(ts->nbytes);
    if (!scb) return qr_fail(e, "out of memory");
    memcpy(scb, ts->data, ts->nbytes);
    q->owned_aux = scb;
    q->int8.rows = out;
    q->int8.cols = in;
    q->int8.w = t->data;
    q->int8.scb = scb;
    if (qr_int8_validate(&q->int8, e)) {
        qr_err_prefix(e, "%s: %s", t->file, t->name);
        return -1;
    }
    return 0;
}

int qr_linear_load(QrLinear *L, const QrCheckpoint *ck, const QrTensor *t, int out, int in, QrErr *e) {
    if (t->dtype != QR_DT_U8 && t->dtype != QR_DT_I8) return qr_linear_from_tensor(L, t, out, in, 0, QR_WF_F32, e);
    QrQuantOpts o;
    if (qr_bnb_config(ck, &o, e)) return -1;
    const QrWeightFormat f = t->dtype == QR_DT_U8 ? QR_WF_NF4 : QR_WF_INT8;
    if (o.fmt != f)
        return qr_fail(e, "%s: tensor '%s' is %s but %s declares %s", t->file, t->name, qr_dtype_name(t->dtype),
                       ck->config_path ? ck->config_path : "the config",
                       o.fmt == QR_WF_F32 ? "no bitsandbytes quantization" : qr_wf_name(o.fmt));
    memset(L, 0, sizeof *L);
    snprintf(L->name, sizeof L->name, "%s", t->name);
    L->out = out;
    L->in = in;
    QrQLinear *q = qlinear_new(&o, e);
    if (!q) return -1;
    if ((f == QR_WF_NF4 ? load_nf4 : load_int8)(q, ck, t, out, in, e)) {
        qlinear_free(q);
        return -1;
    }
    attach(L, q, f);
    return 0;
}

// ---- whole models ------------------------------------------------------------------
QrWeightFormat qr_model_quant_format(const QrModel *m) {
    for (int i = 0; i < m->n_params; i++)
        if (m->params[i].block_linear && m->params[i].lin && is_quant(m->params[i].lin->fmt))
            return m->params[i].lin->fmt;
    return QR_WF_F32;
}

int qr_model_quantize(QrModel *m, const QrQuantOpts *o, QrErr *e) {
    if (!is_quant(o->fmt)) return 0;
    const QrWeightFormat cur = qr_model_quant_format(m);
    if (is_quant(cur) && cur != o->fmt)
        return qr_fail(e, "%s: the checkpoint is already quantized as %s; it cannot be used as %s", m->ckpt.path,
                       qr_wf_name(cur), qr_wf_name(o->fmt));
    for (int i = 0; i < m->n_params; i++) {
        QrParam *p = &m->params[i];
        if (!p->block_linear || !p->lin) continue;
        if (is_quant(p->lin->fmt)) qr_qlinear_set_opts(p->lin, o);
        else if (qr_linear_quantize(p->lin, o, e)) return -1;
    }
    return 0;
}
