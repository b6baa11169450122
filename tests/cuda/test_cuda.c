// `make CUDA=1 test-cuda`: every CUDA kernel against the CPU backend, at the
// tolerances stated next to each check, odd shapes included; weight noise bit
// for bit; the tiny LLaMA fixtures greedy-decoded for 64 steps on both
// backends (single sequence and a batch of sequences stopping on their own).
//
// Without a CUDA device it prints "no CUDA device" and exits 77 (skipped).
// Run under `compute-sanitizer --tool memcheck` for the memory check.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attacks/noise.h"
#include "kernels/attention.h"
#include "kernels/cuda/backend.h"
#include "kernels/cuda/qcuda.h"
#include "kernels/gemm.h"
#include "kernels/int8_matmul.h"
#include "kernels/nf4_matmul.h"
#include "kernels/ops.h"
#include "quant/int8.h"
#include "quant/nf4.h"
#include "runtime/generate.h"
#include "runtime/model.h"
#include "runtime/sampler.h"

static int n_fail, n_pass;

#define CU QC_CHECK_OR_EXIT

static void check(int ok, const char *what, double got, double tol) {
    printf("  %-58s %s  (%.3g, tolerance %.3g)\n", what, ok ? "ok  " : "FAIL", got, tol);
    ok ? n_pass++ : n_fail++;
}

// max |a - b| / max(max |b|, tiny)
static double rel_err(const float *a, const float *b, size_t n) {
    double m = 0, d = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(b[i]) > m) m = fabs(b[i]);
        double x = fabs((double)a[i] - b[i]);
        if (!(x <= d)) d = x; // NaN propagates
    }
    return d / (m > 1e-30 ? m : 1e-30);
}

static uint64_t rs = 0x1234;
static float frand(void) {
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rs >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}
static float *rnd(size_t n, float scale) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = frand() * scale;
    return p;
}

static void *dput(const void *h, size_t bytes) {
    void *d;
    CU(cudaMalloc(&d, bytes ? bytes : 1));
    if (bytes) CU(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice));
    return d;
}
static void dget(void *h, const void *d, size_t bytes) {
    CU(cudaDeviceSynchronize());
    CU(cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost));
}

static QcScratch scratch(int max_n, int max_in, int max_out, size_t xh_bytes) {
    QcScratch s = {0};
    s.max_n = max_n, s.max_in = max_in, s.max_out = max_out;
    CU(cudaMalloc(&s.xh, xh_bytes));
    CU(cudaMalloc((void **)&s.xq, (size_t)max_n * max_in));
    CU(cudaMalloc((void **)&s.sca, (size_t)max_n * 4));
    CU(cudaMalloc((void **)&s.acc, (size_t)max_n * max_out * 4));
    CU(cudaMalloc((void **)&s.outl_idx, (size_t)(max_in + 1) * 4 + max_in));
    s.ws_bytes = 32u << 20;
    CU(cudaMalloc(&s.ws, s.ws_bytes));
    if (cublasLtCreate(&s.lt) != CUBLAS_STATUS_SUCCESS) exit(1);
    return s;
}

// ---- float linear layers: f32 / f16 / bf16, both paths ----
static void test_float_linear(QcScratch *s) {
    printf("float linear (vs qr_gemm_ref):\n");
    const int shapes[][3] = {{64, 64, 1}, {37, 100, 3}, {300, 512, 8}, {129, 72, 17}, {1000, 4096, 1}, {96, 200, 64}};
    const char *fn[] = {"f32", "f16", "bf16"};
    for (int f = 0; f < 3; f++)
        for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
            int out = shapes[k][0], in = shapes[k][1], n = shapes[k][2];
            float *w = rnd((size_t)out * in, 0.1f), *x = rnd((size_t)n * in, 1.0f);
            size_t es = f == 0 ? 4 : 2;
            void *ws = malloc((size_t)out * in * es);
            for (size_t i = 0; i < (size_t)out * in; i++)
                if (f == 0) ((float *)ws)[i] = w[i];
                else if (f == 1) ((uint16_t *)ws)[i] = qr_f32_to_f16(w[i]);
                else ((uint16_t *)ws)[i] = qr_f32_to_bf16(w[i]);
            QrDType dt = f == 0 ? QR_DT_F32 : f == 1 ? QR_DT_F16 : QR_DT_BF16;
            float *ref = malloc((size_t)n * out * 4), *got = malloc((size_t)n * out * 4);
            qr_gemm_ref(dt, ws, out, in, x, n, ref);
            QcLinear L = {.fmt = f, .out = out, .in = in, .w = dput(ws, (size_t)out * in * es)};
            float *dx = dput(x, (size_t)n * in * 4), *dy;
            CU(cudaMalloc((void **)&dy, (size_t)n * out * 4));
            for (int path = 0; path < 2; path++) {
                CU(qc_linear_path(&L, dx, n, dy, s, path, 0));
                dget(got, dy, (size_t)n * out * 4);
                // path 0: fp32 over the stored weights (summation order only): 1e-5.
                // path 1 with f16/bf16: cuBLASLt on activations rounded to the weight type: 1e-2.
                double tol = path == 0 || f == 0 ? 1e-5 : 1e-2, err = rel_err(got, ref, (size_t)n * out);
                char what[128];
                snprintf(what, sizeof what, "%s %dx%d n=%d path %d", fn[f], out, in, n, path);
                check(err <= tol, what, err, tol);
            }
            cudaFree((void *)L.w), cudaFree(dx), cudaFree(dy);
            free(w), free(x), free(ws), free(ref), free(got);
        }
}

// ---- NF4: fused GEMV, tiled matmul, dequantize + cuBLASLt; noise fused ----
static void upload_nf4(const QrNF4 *q, QcLinear *L) {
    memset(L, 0, sizeof *L);
    L->fmt = QC_NF4, L->out = (int)q->rows, L->in = (int)q->cols;
    L->w = dput(q->packed, (size_t)(q->rows * q->cols + 1) / 2);
    L->absmax_q = dput(q->absmax_q, (size_t)q->nblocks);
    L->absmax2 = dput(q->absmax2, (size_t)q->nblocks2 * 4);
    L->code = dput(q->code, sizeof q->code);
    L->code2 = dput(q->code2, sizeof q->code2);
    L->offset = q->offset;
}

static void test_nf4(QcScratch *s) {
    printf("NF4 (vs qr_nf4_matmul_ref, + qr_noise_matmul_acc for post-quant noise):\n");
    const int shapes[][3] = {{128, 256, 1}, {65, 192, 5}, {33, 100, 2}, {300, 1024, 8}, {70, 130, 40}, {256, 2048, 1}};
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++)
        for (int noise = 0; noise < 2; noise++)
            for (int ct = 0; ct < 3; ct++) {
                if (noise && ct) continue;
                int out = shapes[k][0], in = shapes[k][1], n = shapes[k][2];
                float *w = rnd((size_t)out * in, 0.05f), *x = rnd((size_t)n * in, 1.0f);
                QrNF4 q;
                QrErr e;
                if (qr_nf4_quantize(&q, w, out, in, &e)) {
                    printf("  quantize failed: %s\n", e.msg);
                    n_fail++;
                    continue;
                }
                float *ref = malloc((size_t)n * out * 4), *got = malloc((size_t)n * out * 4);
                qr_nf4_matmul_ref(&q, x, n, (QrComputeType)ct, ref);
                QrNoiseSpec spec = {QR_NOISE_GAUSSIAN, 1e-3f, 7, QR_NOISE_POST_QUANT};
                QrNoiseKey nk;
                qr_noise_key(&nk, &spec, "layer.weight");
                if (noise) qr_noise_matmul_acc(&nk, x, n, out, in, ref);
                QcLinear L;
                upload_nf4(&q, &L);
                L.compute = ct;
                if (noise) {
                    L.has_noise = 1;
                    L.noise = (QcNoise){{nk.key[0], nk.key[1]}, 0, nk.level};
                }
                float *dx = dput(x, (size_t)n * in * 4), *dy;
                CU(cudaMalloc((void **)&dy, (size_t)n * out * 4));
                QcScratch s2 = *s;
                CU(cudaMalloc(&s2.xh, ((size_t)out * in + (size_t)n * in) * 2));
                for (int path = 0; path < 3; path++) {
                    CU(qc_linear_path(&L, dx, n, dy, &s2, path, 0));
                    dget(got, dy, (size_t)n * out * 4);
                    // fp32 compute: 1e-5 of max |y| (issue 6's bound); 16-bit compute: 1e-2;
                    // path 2 (bf16 dequantize + bf16 activations): 1e-2.
                    double tol = path == 2 || ct ? 1e-2 : 1e-5, err = rel_err(got, ref, (size_t)n * out);
                    char what[128];
                    snprintf(what, sizeof what, "nf4 %dx%d n=%d compute %d%s path %d", out, in, n, ct,
                             noise ? " +noise" : "", path);
                    check(err <= tol, what, err, tol);
                }
                cudaFree(s2.xh);
                cudaFree((void *)L.w), cudaFree((void *)L.absmax_q), cudaFree((void *)L.absmax2);
                cudaFree((void *)L.code), cudaFree((void *)L.code2), cudaFree(dx), cudaFree(dy);
                qr_nf4_free(&q);
                free(w), free(x), free(ref), free(got);
            }
}

// ---- LLM.int8: the integer part is exact, the epilogue and outlier part use
// the CPU's operation order: bit-identical expected ----
static void test_int8(QcScratch *s) {
    printf("LLM.int8 (vs qr_int8_matmul_ref, bit for bit):\n");
    const int shapes[][3] = {{64, 128, 1}, {37, 100, 3}, {256, 512, 16}, {33, 66, 9}, {512, 1024, 8}, {128, 4096, 64}};
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++)
        for (int thr = 0; thr < 2; thr++) {
            int out = shapes[k][0], in = shapes[k][1], n = shapes[k][2];
            float *w = rnd((size_t)out * in, 0.05f), *x = rnd((size_t)n * in, 2.0f);
            for (int c = 3; c < in; c += 37) x[(size_t)(c % n) * in + c] = 9.5f; // outlier columns
            QrInt8 q;
            QrErr e;
            if (qr_int8_quantize(&q, w, out, in, &e)) {
                printf("  quantize failed: %s\n", e.msg);
                n_fail++;
                continue;
            }
            float threshold = thr ? 6.0f : 0.0f;
            float *ref = malloc((size_t)n * out * 4), *got = malloc((size_t)n * out * 4);
            qr_int8_matmul_ref(&q, x, n, threshold, ref);
            QcLinear L = {.fmt = QC_INT8, .out = out, .in = in, .threshold = threshold};
            L.w = dput(q.w, (size_t)out * in);
            L.scb = dput(q.scb, (size_t)out * 4);
            float *dx = dput(x, (size_t)n * in * 4), *dy;
            CU(cudaMalloc((void **)&dy, (size_t)n * out * 4));
            for (int path = 0; path < 2; path++) {
                CU(qc_linear_path(&L, dx, n, dy, s, path, 0));
                dget(got, dy, (size_t)n * out * 4);
                double err = rel_err(got, ref, (size_t)n * out);
                char what[128];
                snprintf(what, sizeof what, "int8 %dx%d n=%d threshold %g path %d", out, in, n, threshold, path);
                check(memcmp(got, ref, (size_t)n * out * 4) == 0, what, err, 0);
            }
            cudaFree((void *)L.w), cudaFree((void *)L.scb), cudaFree(dx), cudaFree(dy);
            qr_int8_free(&q);
            free(w), free(x), free(ref), free(got);
        }
}

// ---- norms, RoPE, activations, attention, argmax, embedding ----
static void test_ops(void) {
    printf("ops (vs kernels/ops.c, kernels/attention.c):\n");
    const int n = 5, dim = 771;
    float *x = rnd((size_t)n * dim, 3.0f), *w = rnd(dim, 1.0f), *b = rnd(dim, 1.0f);
    float *ref = malloc((size_t)n * dim * 4), *got = malloc((size_t)n * dim * 4);
    float *dx = dput(x, (size_t)n * dim * 4), *dw = dput(w, dim * 4), *db = dput(b, dim * 4), *dy;
    CU(cudaMalloc((void **)&dy, (size_t)n * dim * 4));
    qr_rmsnorm(ref, x, w, n, dim, 1e-5f);
    CU(qc_rmsnorm(dy, dx, dw, n, dim, 1e-5f, 0));
    dget(got, dy, (size_t)n * dim * 4);
    check(rel_err(got, ref, (size_t)n * dim) <= 1e-6, "rmsnorm 5x771", rel_err(got, ref, (size_t)n * dim), 1e-6);
    qr_layernorm(ref, x, w, b, n, dim, 1e-5f);
    CU(qc_layernorm(dy, dx, dw, db, n, dim, 1e-5f, 0));
    dget(got, dy, (size_t)n * dim * 4);
    check(rel_err(got, ref, (size_t)n * dim) <= 1e-6, "layernorm 5x771", rel_err(got, ref, (size_t)n * dim), 1e-6);

    // SiLU*mul and both GELUs: expf/tanhf/erff differ by a few ulp: 1e-6.
    float *y2 = rnd((size_t)n * dim, 1.0f), *dy2 = dput(y2, (size_t)n * dim * 4);
    memcpy(ref, x, (size_t)n * dim * 4);
    qr_silu_mul(ref, y2, (size_t)n * dim);
    CU(qc_silu_mul(dx, dy2, (size_t)n * dim, 0));
    dget(got, dx, (size_t)n * dim * 4);
    check(rel_err(got, ref, (size_t)n * dim) <= 1e-6, "silu_mul", rel_err(got, ref, (size_t)n * dim), 1e-6);
    for (int t = 0; t < 2; t++) {
        CU(cudaMemcpy(dx, x, (size_t)n * dim * 4, cudaMemcpyHostToDevice));
        memcpy(ref, x, (size_t)n * dim * 4);
        if (t) qr_gelu_tanh(ref, (size_t)n * dim);
        else qr_gelu(ref, (size_t)n * dim);
        CU(qc_gelu(dx, (size_t)n * dim, t, 0));
        dget(got, dx, (size_t)n * dim * 4);
        check(rel_err(got, ref, (size_t)n * dim) <= 1e-6, t ? "gelu_tanh" : "gelu (erf)",
              rel_err(got, ref, (size_t)n * dim), 1e-6);
    }

    // RoPE: 3 tokens, 5 heads of 48 (rope_dim 32 and 48), both pairings, llama3 frequencies.
    {
        int nh = 5, hd = 48, pos[3] = {0, 7, 3001};
        for (int rd = 32; rd <= 48; rd += 16)
            for (int il = 0; il < 2; il++) {
                float fr[32];
                qr_rope_freqs(fr, rd, 500000.0, 2, 8.0, 1.0, 4.0, 8192);
                float *q = rnd((size_t)3 * nh * hd, 1.0f);
                float *dq = dput(q, (size_t)3 * nh * hd * 4), *dfr = dput(fr, sizeof fr);
                int *dp = dput(pos, sizeof pos);
                float r[3 * 5 * 48], g[3 * 5 * 48];
                memcpy(r, q, sizeof r);
                qr_rope(r, 3, nh, hd, rd, pos, fr, il);
                CU(qc_rope(dq, 3, nh, hd, rd, dp, dfr, il, 0));
                dget(g, dq, sizeof g);
                // angles up to 3001 rad: cos/sin rounded from double vs glibc cosf: 1e-5.
                char what[96];
                snprintf(what, sizeof what, "rope rope_dim %d %s", rd, il ? "interleaved" : "rotate_half");
                check(rel_err(g, r, sizeof r / 4) <= 1e-5, what, rel_err(g, r, sizeof r / 4), 1e-5);
                cudaFree(dq), cudaFree(dfr), cudaFree(dp), free(q);
            }
    }

    // Attention: 2 slots, GQA 6 heads over 2 kv heads, head_dim 40, tokens at
    // various positions (a prefill of 4 tokens + 2 decode tokens), window 0 and 3.
    {
        int nh = 6, nkv = 2, hd = 40, kvd = nkv * hd, max_seq = 37, slots = 2, nt = 6;
        int pos[6] = {0, 1, 2, 3, 20, 36}, seq[6] = {0, 0, 0, 0, 1, 1};
        size_t cache = (size_t)slots * max_seq * kvd;
        float *kc = rnd(cache, 1.0f), *vc = rnd(cache, 1.0f), *q = rnd((size_t)nt * nh * hd, 1.0f);
        float *dkc = dput(kc, cache * 4), *dvc = dput(vc, cache * 4), *dq = dput(q, (size_t)nt * nh * hd * 4);
        float *dout, *dsc, *sc = malloc((size_t)max_seq * 4);
        int *dpos = dput(pos, sizeof pos), *dseq = dput(seq, sizeof seq);
        CU(cudaMalloc((void **)&dout, (size_t)nt * nh * hd * 4));
        CU(cudaMalloc((void **)&dsc, (size_t)nt * nh * max_seq * 4));
        float *r = malloc((size_t)nt * nh * hd * 4), *g = malloc((size_t)nt * nh * hd * 4);
        for (int win = 0; win <= 3; win += 3) {
            QrKVLayer kv = {kc, vc, max_seq, kvd, (size_t)hd, (size_t)kvd}; // the device's [pos][kv_dim] rows
            qr_attention(q, r, nt, nh, nkv, hd, 0.158f, &kv, pos, seq, win, sc, 1);
            CU(qc_attention(dq, dout, nt, nh, nkv, hd, 0.158f, dkc, dvc, max_seq, kvd, dpos, dseq, win, dsc, 0));
            dget(g, dout, (size_t)nt * nh * hd * 4);
            char what[64];
            snprintf(what, sizeof what, "attention GQA 6/2 heads, window %d", win);
            check(rel_err(g, r, (size_t)nt * nh * hd) <= 1e-5, what, rel_err(g, r, (size_t)nt * nh * hd), 1e-5);
        }
        // KV store
        float *k = rnd((size_t)nt * kvd, 1.0f), *v = rnd((size_t)nt * kvd, 1.0f);
        float *dk = dput(k, (size_t)nt * kvd * 4), *dv = dput(v, (size_t)nt * kvd * 4);
        CU(qc_kv_store(dkc, dvc, dk, dv, nt, dpos, dseq, max_seq, kvd, 0));
        float *gk = malloc(cache * 4);
        dget(gk, dkc, cache * 4);
        int ok = 1;
        for (int i = 0; i < nt; i++)
            ok &= !memcmp(gk + ((size_t)seq[i] * max_seq + pos[i]) * kvd, k + (size_t)i * kvd, (size_t)kvd * 4);
        check(ok, "kv_store rows in place", 0, 0);
        free(kc), free(vc), free(q), free(sc), free(r), free(g), free(k), free(v), free(gk);
        cudaFree(dkc), cudaFree(dvc), cudaFree(dq), cudaFree(dout), cudaFree(dsc), cudaFree(dpos), cudaFree(dseq);
        cudaFree(dk), cudaFree(dv);
    }

    // argmax with ties (lowest id wins), odd vocab.
    {
        int V = 32003, rows = 3, ids[3];
        float *lg = rnd((size_t)rows * V, 1.0f);
        lg[5] = lg[900] = lg[32002] = 7.0f;                  // row 0: tie -> 5
        lg[V + 32002] = 9.0f;                                // row 1: last id
        lg[2 * V + 0] = 3.0f, lg[2 * V + 31999] = 3.0f;      // row 2: tie -> 0
        float *d = dput(lg, (size_t)rows * V * 4);
        int *di;
        CU(cudaMalloc((void **)&di, sizeof ids));
        CU(qc_argmax(d, rows, V, di, 0));
        dget(ids, di, sizeof ids);
        int ok = 1;
        for (int r = 0; r < rows; r++) ok &= ids[r] == qr_argmax(lg + (size_t)r * V, V);
        check(ok && ids[0] == 5 && ids[2] == 0, "argmax (ties to lowest id) = qr_argmax", 0, 0);
        cudaFree(d), cudaFree(di), free(lg);
    }

    // embedding rows from a bf16 table
    {
        int V = 50, D = 33, toks[4] = {49, 0, 7, 7};
        uint16_t tab[50 * 33];
        for (int i = 0; i < V * D; i++) tab[i] = qr_f32_to_bf16(frand());
        void *dt = dput(tab, sizeof tab);
        int *dtk = dput(toks, sizeof toks);
        float *de, g[4 * 33];
        CU(cudaMalloc((void **)&de, sizeof g));
        CU(qc_embed(QC_BF16, dt, dtk, 4, D, de, 0));
        dget(g, de, sizeof g);
        int ok = 1;
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < D; j++) ok &= g[i * D + j] == qr_bf16_to_f32(tab[toks[i] * D + j]);
        check(ok, "embedding rows (bf16), exact", 0, 0);
        cudaFree(dt), cudaFree(dtk), cudaFree(de);
    }
    cudaFree(dx), cudaFree(dw), cudaFree(db), cudaFree(dy), cudaFree(dy2);
    free(x), free(w), free(b), free(ref), free(got), free(y2);
}

// ---- weight noise: bit-identical to the CPU ----
static void test_noise(void) {
    printf("weight noise (vs attacks/noise.c, bit for bit):\n");
    const size_t N = 1000003;
    for (int dist = 0; dist < 2; dist++) {
        QrNoiseSpec spec = {(QrNoiseDist)dist, 3e-3f, 42, QR_NOISE_ALL};
        QrNoiseKey k;
        qr_noise_key(&k, &spec, "model.layers.3.mlp.down_proj.weight");
        QcNoise qk = {{k.key[0], k.key[1]}, dist, k.level};
        const uint64_t starts[] = {0, 3, (1ull << 34) - 5}; // unaligned, and across a 2^32-block boundary
        for (size_t si = 0; si < 3; si++) {
            float *ref = malloc(N * 4), *got = malloc(N * 4), *d;
            qr_noise_fill(&k, starts[si], N, ref);
            CU(cudaMalloc((void **)&d, N * 4));
            CU(qc_noise_fill(&qk, starts[si], N, d, 0));
            dget(got, d, N * 4);
            size_t bad = 0;
            for (size_t i = 0; i < N; i++) bad += memcmp(&got[i], &ref[i], 4) != 0;
            char what[96];
            snprintf(what, sizeof what, "%s fill, start %llu: elements differing", dist ? "uniform" : "gaussian",
                     (unsigned long long)starts[si]);
            check(bad == 0, what, (double)bad, 0);
            cudaFree(d), free(ref), free(got);
        }
        // in place on f32 / f16 / bf16 buffers, then undone
        for (int f = 0; f < 3; f++) {
            size_t n = 100001, es = f ? 2 : 4;
            float *src = rnd(n, 0.1f);
            void *h = malloc(n * es), *g = malloc(n * es), *d;
            for (size_t i = 0; i < n; i++)
                if (f == 0) ((float *)h)[i] = src[i];
                else if (f == 1) ((uint16_t *)h)[i] = qr_f32_to_f16(src[i]);
                else ((uint16_t *)h)[i] = qr_f32_to_bf16(src[i]);
            d = dput(h, n * es);
            QrDType dt = f == 0 ? QR_DT_F32 : f == 1 ? QR_DT_F16 : QR_DT_BF16;
            for (int sign = 1; sign >= -1; sign -= 2) {
                qr_noise_add(&k, 11, h, dt, n, sign);
                CU(qc_noise_add(&qk, 11, d, f, n, sign, 0));
                dget(g, d, n * es);
                char what[96];
                snprintf(what, sizeof what, "%s in place on %s, sign %+d", dist ? "uniform" : "gaussian",
                         f == 0 ? "f32" : f == 1 ? "f16" : "bf16", sign);
                check(!memcmp(g, h, n * es), what, 0, 0);
            }
            cudaFree(d), free(h), free(g), free(src);
        }
        // post-quant term y += x N^T (fp32 accumulation vs the CPU's double): 1e-5.
        int m = 3, rows = 77, cols = 300;
        float *x = rnd((size_t)m * cols, 1.0f), *y = calloc((size_t)m * rows, 4), *g = malloc((size_t)m * rows * 4);
        qr_noise_matmul_acc(&k, x, m, rows, cols, y);
        float *dx = dput(x, (size_t)m * cols * 4), *dy;
        CU(cudaMalloc((void **)&dy, (size_t)m * rows * 4));
        CU(cudaMemset(dy, 0, (size_t)m * rows * 4));
        CU(qc_noise_matmul_acc(&qk, dx, m, rows, cols, dy, 0));
        dget(g, dy, (size_t)m * rows * 4);
        check(rel_err(g, y, (size_t)m * rows) <= 1e-5, dist ? "uniform noise matmul term" : "gaussian noise matmul term",
              rel_err(g, y, (size_t)m * rows), 1e-5);
        cudaFree(dx), cudaFree(dy), free(x), free(y), free(g);
    }
}

// ---- model level: greedy tokens over 64 steps, CPU vs CUDA ----
static int load(QrModel **m, const char *path, QrDevice dev, QrWeightFormat q) {
    QrLoadOpts o = {0};
    o.device = dev;
    o.quant.fmt = q;
    QrErr e;
    if (qr_model_load(m, path, &o, &e)) {
        printf("  %s: %s\n", path, e.msg);
        return -1;
    }
    return 0;
}

static void test_model(const char *path, QrWeightFormat q, int require_same) {
    QrModel *mc, *mg;
    if (load(&mc, path, QR_DEVICE_CPU, q) || load(&mg, path, QR_DEVICE_CUDA, q)) {
        n_fail++;
        return;
    }
    QrErr e;
    const int steps = 64, V = mc->cfg.vocab_size;
    int32_t prompt[5] = {1, 5, 9, 2, 7};
    for (int i = 0; i < 5; i++) prompt[i] %= V;
    if (qr_model_reserve(mc, 1, 80, 8, &e) || qr_model_reserve(mg, 1, 80, 8, &e)) {
        printf("  reserve: %s\n", e.msg);
        n_fail++;
        return;
    }
    float *lc = malloc((size_t)V * 4), *lg = malloc((size_t)V * 4);
    int pos[80], seq[80] = {0}, toks_c[80], toks_g[80], diverged = -1;
    double worst = 0, gap = 0;
    for (int i = 0; i < 80; i++) pos[i] = i;
    memcpy(toks_c, prompt, sizeof prompt);
    memcpy(toks_g, prompt, sizeof prompt);
    QrBatch b = {5, toks_c, pos, seq, NULL};
    QrBatch bg = {5, toks_g, pos, seq, NULL};
    if (qr_model_forward(mc, &b, lc, &e) || qr_model_forward(mg, &bg, lg, &e)) {
        printf("  forward: %s\n", e.msg);
        n_fail++;
        return;
    }
    for (int s = 0; s < steps; s++) {
        double err = rel_err(lg, lc, (size_t)V);
        if (err > worst) worst = err;
        int tc = qr_argmax(lc, V), tg = qr_argmax(lg, V);
        if (tc != tg && diverged < 0) {
            diverged = s;
            gap = lc[tc] - lc[tg];
        }
        toks_c[5 + s] = tc, toks_g[5 + s] = tg;
        if (s == steps - 1) break;
        QrBatch d = {1, toks_c + 5 + s, pos + 5 + s, seq, NULL}, dg = {1, toks_g + 5 + s, pos + 5 + s, seq, NULL};
        if (qr_model_forward(mc, &d, lc, &e) || qr_model_forward(mg, &dg, lg, &e)) {
            printf("  forward: %s\n", e.msg);
            n_fail++;
            return;
        }
    }
    char what[160];
    snprintf(what, sizeof what, "%s %s: greedy 64 steps, worst logit rel err", path + strlen("tests/fixtures/"),
             qr_wf_name(q));
    if (diverged >= 0)
        printf("  first divergence at step %d, CPU logit gap between the two choices %.3g\n", diverged, gap);
    // Decode runs the matrix-vector kernels (fp32 compute over the stored
    // weights, as the CPU): same tokens and logits within 1e-4 required.
    check(!require_same || (diverged < 0 && worst <= 1e-4), what, worst, require_same ? 1e-4 : INFINITY);

    // Batched: 4 sequences of different prompt lengths, generated together,
    // stopping on their own (max_new_tokens, plus EOS when the model emits it).
    int32_t p0[3] = {1, 2, 3}, p1[6] = {4, 4, 4, 4, 4, 4}, p2[1] = {9}, p3[4] = {7, 3, 5, 1};
    const int32_t *ps[4] = {p0, p1, p2, p3};
    int np[4] = {3, 6, 1, 4};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < np[i]; j++) ((int32_t *)ps[i])[j] %= V;
    QrGenParams gp = {.max_new_tokens = 40, .temperature = 0, .top_p = 1};
    QrCompletion cc[4], cg[4];
    if (qr_generate(mc, NULL, ps, np, 4, &gp, cc, &e) || qr_generate(mg, NULL, ps, np, 4, &gp, cg, &e)) {
        printf("  generate: %s\n", e.msg);
        n_fail++;
        return;
    }
    int same = 1;
    for (int i = 0; i < 4; i++) {
        same &= cc[i].n_tokens == cg[i].n_tokens && !memcmp(cc[i].tokens, cg[i].tokens, (size_t)cc[i].n_tokens * 4);
        qr_completion_free(&cc[i]), qr_completion_free(&cg[i]);
    }
    snprintf(what, sizeof what, "%s %s: 4 sequences batched, same tokens", path + strlen("tests/fixtures/"),
             qr_wf_name(q));
    // The batched prefill (14 tokens > 8) goes through cuBLASLt: exact in fp32
    // up to summation order, but fp16/bf16 weights then multiply activations
    // rounded to that type, so only the f32 fixtures must give the same tokens.
    int exact = require_same && strstr(path, "-f32") != NULL;
    check(same || !exact, what, same ? 0 : 1, 0);
    free(lc), free(lg);
    qr_model_free(mc), qr_model_free(mg);
}

int main(void) {
    int nd = 0;
    cudaError_t r = cudaGetDeviceCount(&nd);
    if (r != cudaSuccess || nd < 1) {
        printf("no CUDA device (%s): CUDA tests skipped\n", r != cudaSuccess ? cudaGetErrorString(r) : "0 devices");
        return 77;
    }
    struct cudaDeviceProp pr;
    CU(cudaGetDeviceProperties(&pr, 0));
    printf("device: %s (sm_%d%d, %.1f GiB)\n", pr.name, pr.major, pr.minor, pr.totalGlobalMem / 1073741824.0);
    QcScratch s = scratch(64, 4096, 4096, (size_t)64 * 4096 * 2);
    test_float_linear(&s);
    test_nf4(&s);
    test_int8(&s);
    test_ops();
    test_noise();
    printf("model level (tests/fixtures/llama-tiny):\n");
    const char *fx[] = {"tests/fixtures/llama-tiny/untied-f32", "tests/fixtures/llama-tiny/tied-f32",
                        "tests/fixtures/llama-tiny/linear-f32", "tests/fixtures/llama-tiny/untied-bf16"};
    for (size_t i = 0; i < sizeof fx / sizeof *fx; i++) test_model(fx[i], QR_WF_F32, 1);
    // Quantized: reported (logit drift, first divergence), not required identical:
    // the GPU sums in another order and greedy ties can flip.
    test_model("tests/fixtures/llama-tiny/untied-f32", QR_WF_NF4, 0);
    test_model("tests/fixtures/llama-tiny/untied-f32", QR_WF_INT8, 0);
    printf("%d checks passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
