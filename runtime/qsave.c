// See runtime/qsave.h. Tensor names and layout: runtime/qlinear.h.
#include "runtime/qsave.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "runtime/qlinear.h"
#include "util/fileio.h"
#include "util/sbuf.h"
#include "weights/st_write.h"

// Output tensors plus the small buffers and names they point to.
typedef struct {
    QrTensor *t;
    int n, cap;
    void **own;
    int nown, capown;
} Out;

static void *keep(Out *o, void *p) {
    if (!p) return NULL;
    if (o->nown == o->capown) {
        int c = o->capown ? 2 * o->capown : 64;
        void **np = realloc(o->own, sizeof *np * (size_t)c);
        if (!np) {
            free(p);
            return NULL;
        }
        o->own = np;
        o->capown = c;
    }
    return o->own[o->nown++] = p;
}

static int add(Out *o, const char *name, QrDType dt, int ndim, int64_t d0, int64_t d1, const void *data,
               size_t nbytes, QrErr *e) {
    if (o->n == o->cap) {
        int c = o->cap ? 2 * o->cap : 256;
        QrTensor *nt = realloc(o->t, sizeof *nt * (size_t)c);
        if (!nt) return qr_fail(e, "out of memory");
        o->t = nt;
        o->cap = c;
    }
    char *nm = keep(o, strdup(name));
    if (!nm) return qr_fail(e, "out of memory");
    QrTensor *t = &o->t[o->n++];
    memset(t, 0, sizeof *t);
    t->name = nm;
    t->dtype = dt;
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->data = data;
    t->nbytes = nbytes;
    return 0;
}

static const char *torch_dtype(QrDType d) {
    return d == QR_DT_BF16 ? "bfloat16" : d == QR_DT_F16 ? "float16" : "float32";
}

// The six tensors of an NF4 weight; `src` is the float tensor it came from.
static int add_nf4(Out *o, const QrTensor *src, const QrQLinear *q, QrErr *e) {
    const QrNF4 *w = &q->nf4;
    const int64_t n = w->rows * w->cols;
    char nm[300];
    // bitsandbytes QuantState.as_dict(packed=True) -> json.dumps of the non-tensor items.
    QrSbuf js;
    qr_sb_init(&js);
    qr_sb_printf(&js,
                 "{\"quant_type\": \"nf4\", \"blocksize\": %d, \"dtype\": \"%s\", \"shape\": [%lld, %lld], "
                 "\"nested_blocksize\": %d, \"nested_dtype\": \"float32\", \"nested_offset\": ",
                 QR_NF4_BLOCK, torch_dtype(src->dtype), (long long)w->rows, (long long)w->cols, QR_NF4_BLOCK2);
    qr_sb_put_pyfloat(&js, (double)w->offset, 1);
    qr_sb_putc(&js, '}');
    const size_t jl = js.len;
    char *jsb = keep(o, qr_sb_take(&js));
    float *maps = keep(o, malloc(sizeof w->code + sizeof w->code2));
    if (!jsb || !maps) return qr_fail(e, "out of memory");
    memcpy(maps, w->code, sizeof w->code);
    memcpy(maps + 16, w->code2, sizeof w->code2);
#define NM(suffix) (snprintf(nm, sizeof nm, "%s%s", src->name, suffix), nm)
    if (add(o, src->name, QR_DT_U8, 2, (n + 1) / 2, 1, w->packed, (size_t)(n + 1) / 2, e) ||
        add(o, NM(".absmax"), QR_DT_U8, 1, w->nblocks, 0, w->absmax_q, (size_t)w->nblocks, e) ||
        add(o, NM(".quant_map"), QR_DT_F32, 1, 16, 0, maps, sizeof w->code, e) ||
        add(o, NM(".nested_absmax"), QR_DT_F32, 1, w->nblocks2, 0, w->absmax2, 4 * (size_t)w->nblocks2, e) ||
        add(o, NM(".nested_quant_map"), QR_DT_F32, 1, 256, 0, maps + 16, sizeof w->code2, e) ||
        add(o, NM(".quant_state.bitsandbytes__nf4"), QR_DT_U8, 1, (int64_t)jl, 0, jsb, jl, e))
        return -1;
#undef NM
    return 0;
}

// weight I8 [out, in], <m>.SCB F32 [out], <m>.weight_format U8 [] = 0 (row-major).
static int add_int8(Out *o, const QrTensor *src, const QrQLinear *q, QrErr *e) {
    static const uint8_t row_major = 0;
    const QrInt8 *w = &q->int8;
    char base[300], nm[320];
    snprintf(base, sizeof base, "%s", src->name);
    char *dot = strrchr(base, '.');
    if (!dot || strcmp(dot, ".weight")) return qr_fail(e, "%s: a quantized tensor must be a '.weight'", src->name);
    dot[1] = 0;
    if (add(o, src->name, QR_DT_I8, 2, w->rows, w->cols, w->w, (size_t)(w->rows * w->cols), e)) return -1;
    snprintf(nm, sizeof nm, "%sSCB", base);
    if (add(o, nm, QR_DT_F32, 1, w->rows, 0, w->scb, 4 * (size_t)w->rows, e)) return -1;
    snprintf(nm, sizeof nm, "%sweight_format", base);
    return add(o, nm, QR_DT_U8, 0, 0, 0, &row_major, 1, e);
}

// quantization_config as transformers' BitsAndBytesConfig.to_dict() writes it.
static json_t *bnb_config_json(QrWeightFormat f, float threshold, QrComputeType ct) {
    const int b4 = f == QR_WF_NF4;
    const char *cd = ct == QR_COMPUTE_F16 ? "float16" : ct == QR_COMPUTE_BF16 ? "bfloat16" : "float32";
    return json_pack("{s:b, s:b, s:s, s:s, s:s, s:b, s:b, s:b, s:n, s:f, s:b, s:b, s:s}", "_load_in_4bit", b4,
                     "_load_in_8bit", !b4, "bnb_4bit_compute_dtype", b4 ? cd : "float32", "bnb_4bit_quant_storage",
                     "uint8", "bnb_4bit_quant_type", b4 ? "nf4" : "fp4", "bnb_4bit_use_double_quant", b4,
                     "llm_int8_enable_fp32_cpu_offload", 0, "llm_int8_has_fp16_weight", 0, "llm_int8_skip_modules",
                     "llm_int8_threshold", (double)threshold, "load_in_4bit", b4, "load_in_8bit", !b4, "quant_method",
                     "bitsandbytes");
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

// Files of the source directory that describe the model but are not weights.
static int copy_side_files(const char *src_dir, const char *dst_dir, QrErr *e) {
    DIR *d = opendir(src_dir);
    if (!d) return qr_fail(e, "%s: cannot list: %s", src_dir, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        const char *f = de->d_name;
        if (f[0] == '.' || !strcmp(f, "config.json") || ends_with(f, ".safetensors") ||
            !strcmp(f, "model.safetensors.index.json") || ends_with(f, ".bin") || ends_with(f, ".pt") ||
            ends_with(f, ".pth") || ends_with(f, ".gguf") || ends_with(f, ".bin.index.json"))
            continue;
        char sp[4096], dp[4096];
        if ((size_t)snprintf(sp, sizeof sp, "%s/%s", src_dir, f) >= sizeof sp ||
            (size_t)snprintf(dp, sizeof dp, "%s/%s", dst_dir, f) >= sizeof dp) {
            rc = qr_fail(e, "%s/%s: path too long", dst_dir, f);
            break;
        }
        struct stat st;
        if (stat(sp, &st) || !S_ISREG(st.st_mode)) continue;
        QrMap m;
        if (qr_map_file(&m, sp, e)) {
            rc = -1;
            break;
        }
        rc = qr_write_file_atomic(dp, m.data ? (const void *)m.data : "", m.size, e);
        qr_unmap(&m);
    }
    closedir(d);
    return rc;
}

int qr_model_save_quantized(const QrModel *m, const char *dir, int force, QrErr *e) {
    const QrCheckpoint *ck = &m->ckpt;
    if (ck->kind != QR_CKPT_HF || !ck->config_path)
        return qr_fail(e, "%s: quantize writes the Hugging Face + bitsandbytes layout; give a Hugging Face "
                          "checkpoint directory", ck->path);
    const QrWeightFormat fmt = qr_model_quant_format(m);
    if (fmt != QR_WF_NF4 && fmt != QR_WF_INT8) return qr_fail(e, "%s: the model is not quantized", ck->path);
    char cfgp[4096], stp[4096];
    snprintf(cfgp, sizeof cfgp, "%s/config.json", dir);
    snprintf(stp, sizeof stp, "%s/model.safetensors", dir);
    if (!qr_is_dir(dir) && mkdir(dir, 0755) != 0) return qr_fail(e, "%s: cannot create directory: %s", dir, strerror(errno));
    if (!force && (qr_file_exists(cfgp) || qr_file_exists(stp)))
        return qr_fail(e, "%s: already holds a model (config.json / model.safetensors); use --force to replace it", dir);

    Out o = {0};
    int rc = -1;
    const QrQLinear *any = NULL;
    for (int i = 0; i < ck->n_tensors; i++) {
        const QrTensor *t = &ck->tensors[i];
        const QrLinear *L = NULL;
        for (int k = 0; k < m->n_params && !L; k++)
            if (m->params[k].lin && !strcmp(m->params[k].name, t->name)) L = m->params[k].lin;
        if (L && L->q) {
            if (t->dtype == QR_DT_U8 || t->dtype == QR_DT_I8) {
                qr_fail(e, "%s: the checkpoint is already quantized (tensor '%s')", ck->path, t->name);
                goto out;
            }
            any = L->q;
            if ((L->fmt == QR_WF_NF4 ? add_nf4 : add_int8)(&o, t, L->q, e)) goto out;
        } else if (add(&o, t->name, t->dtype, t->ndim, t->shape[0], t->shape[1], t->data, t->nbytes, e)) {
            goto out;
        } else {
            memcpy(o.t[o.n - 1].shape, t->shape, sizeof t->shape); // any rank
        }
    }
    json_t *meta = json_pack("{s:s}", "format", "pt");
    rc = qr_st_write(stp, o.t, o.n, meta, e);
    json_decref(meta);
    if (rc) goto out;
    json_t *cfg = json_deep_copy(ck->config);
    json_object_set_new(cfg, "quantization_config", bnb_config_json(fmt, any->threshold, any->compute));
    char *txt = json_dumps(cfg, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(cfg);
    if (!txt) {
        rc = qr_fail(e, "out of memory");
        goto out;
    }
    QrSbuf b;
    qr_sb_init(&b);
    qr_sb_puts(&b, txt);
    qr_sb_putc(&b, '\n');
    free(txt);
    rc = qr_write_file_atomic(cfgp, b.s, b.len, e);
    qr_sb_free(&b);
    if (rc) goto out;
    char srcdir[4096];
    snprintf(srcdir, sizeof srcdir, "%s", ck->config_path);
    char *slash = strrchr(srcdir, '/');
    if (slash) *slash = 0;
    else snprintf(srcdir, sizeof srcdir, ".");
    rc = copy_side_files(srcdir, dir, e);
out:
    for (int i = 0; i < o.nown; i++) free(o.own[i]);
    free(o.own);
    free(o.t);
    return rc;
}
