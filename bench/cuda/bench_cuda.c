// `make CUDA=1 bench-cuda`: the GPU figures of issue 9, all in one run.
//
//   1. device-to-device copy bandwidth (cudaMemcpy of 1 GiB; counts the bytes
//      read + written), the yardstick for everything below;
//   2. batch-1 decode tokens/s of random-weight models at real shapes
//      (deepseek-coder-1.3b-base, Llama-3.1-8B; runtime/presets.c) with the
//      block linears in bf16, LLM.int8 and NF4 (embedding and head bf16), the
//      weight bytes read per token and the achieved bandwidth as a share of (1);
//   3. NF4 matrix-vector (fused dequantization) vs dequantize-to-bf16 then
//      cuBLASLt, and the bf16 kernel vs cuBLASLt, on the Llama-3.1-8B shapes;
//   4. batched throughput: 164 prompts of 128 tokens, 512 new tokens each,
//      decoded together (CUDA graph per step).
//
// The weights are generated on the GPU (no host copy, no download). Usage:
//   bench_cuda [--model NAME]... [--quick]
// (--quick: 32 decode steps and a 16 x 64 batch, for a smoke run).
// Exit 77 when there is no CUDA device.
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/cuda/backend.h"
#include "kernels/cuda/qcuda.h"
#include "runtime/presets.h"
#include "util/timer.h"

#define CU QC_CHECK_OR_EXIT

static const char *FMT_NAME[] = {"f32", "f16", "bf16", "nf4", "int8"};

static int preset_config(const char *name, QrConfig *c) {
    const QrPreset *p = qr_preset_find(name);
    if (!p) {
        fprintf(stderr, "unknown preset %s\n", name);
        return -1;
    }
    json_error_t je;
    json_t *j = json_loads(p->config, 0, &je);
    QrCheckpoint ck;
    QrErr e;
    const QrArch *arch;
    qr_ckpt_init_memory(&ck, j, p->name);
    int rc = qr_config_read(&ck, &arch, c, &e);
    if (rc) fprintf(stderr, "%s: %s\n", name, e.msg);
    qr_ckpt_close(&ck);
    return rc;
}

// Device-to-device copy bandwidth in bytes/s (read + write).
static double d2d_bandwidth(void) {
    size_t bytes = 1u << 30;
    void *a, *b;
    CU(cudaMalloc(&a, bytes));
    CU(cudaMalloc(&b, bytes));
    CU(cudaMemset(a, 1, bytes));
    cudaEvent_t t0, t1;
    CU(cudaEventCreate(&t0));
    CU(cudaEventCreate(&t1));
    CU(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice));
    const int it = 20;
    CU(cudaEventRecord(t0, 0));
    for (int i = 0; i < it; i++) CU(cudaMemcpyAsync(i & 1 ? a : b, i & 1 ? b : a, bytes, cudaMemcpyDeviceToDevice, 0));
    CU(cudaEventRecord(t1, 0));
    CU(cudaEventSynchronize(t1));
    float ms;
    CU(cudaEventElapsedTime(&ms, t0, t1));
    cudaFree(a), cudaFree(b);
    cudaEventDestroy(t0), cudaEventDestroy(t1);
    return 2.0 * bytes * it / (ms * 1e-3);
}

// Prefills `plen` tokens in each of `nseq` slots (chunks of at most B tokens),
// then decodes `steps` tokens for all of them together. Returns decode seconds.
static double run_decode(QrCuda *g, int vocab, int nseq, int plen, int steps, int B, QrErr *e) {
    int total = nseq * plen;
    int *tok = malloc((size_t)(total > nseq ? total : nseq) * sizeof(int)), *pos = malloc((size_t)(total > nseq ? total : nseq) * sizeof(int));
    int *seq = malloc((size_t)(total > nseq ? total : nseq) * sizeof(int)), *ids = malloc((size_t)(B > nseq ? B : nseq) * sizeof(int));
    uint8_t *want = calloc((size_t)(total > nseq ? total : nseq), 1);
    double t = -1;
    if (!tok || !pos || !seq || !ids || !want) goto out;
    for (int s = 0; s < nseq; s++)
        for (int i = 0; i < plen; i++) {
            int k = s * plen + i;
            tok[k] = (int)((k * 2654435761u) % (unsigned)vocab), pos[k] = i, seq[k] = s, want[k] = i == plen - 1;
        }
    for (int k0 = 0; k0 < total; k0 += B) {
        QrBatch b = {total - k0 < B ? total - k0 : B, tok + k0, pos + k0, seq + k0, want + k0};
        if (qr_cuda_step(g, &b, ids, e)) goto out;
    }
    for (int s = 0; s < nseq; s++) tok[s] = ids[0] % vocab, seq[s] = s, want[s] = 1;
    double t0 = 0;
    for (int st = 0; st < steps + 2; st++) {
        if (st == 2) t0 = qr_now(); // two warm-up steps (graph capture)
        for (int s = 0; s < nseq; s++) pos[s] = plen + st;
        QrBatch b = {nseq, tok, pos, seq, want};
        if (qr_cuda_step(g, &b, ids, e)) goto out;
        memcpy(tok, ids, (size_t)nseq * sizeof(int));
    }
    t = qr_now() - t0;
out:
    free(tok), free(pos), free(seq), free(ids), free(want);
    return t;
}

static double time_linear(const QcLinear *L, const float *x, float *y, QcScratch *s, int path, int it) {
    cudaEvent_t t0, t1;
    CU(cudaEventCreate(&t0));
    CU(cudaEventCreate(&t1));
    CU(qc_linear_path(L, x, 1, y, s, path, 0));
    CU(cudaEventRecord(t0, 0));
    for (int i = 0; i < it; i++) CU(qc_linear_path(L, x, 1, y, s, path, 0));
    CU(cudaEventRecord(t1, 0));
    CU(cudaEventSynchronize(t1));
    float ms;
    CU(cudaEventElapsedTime(&ms, t0, t1));
    cudaEventDestroy(t0), cudaEventDestroy(t1);
    return ms * 1e-3 / it;
}

int main(int argc, char **argv) {
    const char *models[8];
    int n_models = 0, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc && n_models < 8) models[n_models++] = argv[++i];
        else if (!strcmp(argv[i], "--quick")) quick = 1;
        else {
            fprintf(stderr, "usage: bench_cuda [--model PRESET]... [--quick]\n");
            return 2;
        }
    }
    if (!n_models) models[n_models++] = "deepseek-coder-1.3b-base", models[n_models++] = "llama-3.1-8b";
    int nd = 0;
    cudaError_t r = cudaGetDeviceCount(&nd);
    if (r != cudaSuccess || nd < 1) {
        printf("no CUDA device (%s): GPU bench skipped\n", r ? cudaGetErrorString(r) : "0 devices");
        return 77;
    }
    struct cudaDeviceProp pr;
    CU(cudaGetDeviceProperties(&pr, 0));
    printf("device: %s, %.1f GiB\n", pr.name, pr.totalGlobalMem / 1073741824.0);
    double bw = d2d_bandwidth();
    printf("device-to-device copy bandwidth: %.1f GB/s (bytes read + written)\n\n", bw / 1e9);
    const int steps = quick ? 32 : 256, bseq = quick ? 16 : 164, bnew = quick ? 64 : 512, bplen = quick ? 32 : 128;
    const int fmts[3] = {QC_BF16, QC_INT8, QC_NF4};
    QrErr e;
    for (int mi = 0; mi < n_models; mi++) {
        QrConfig c;
        if (preset_config(models[mi], &c)) return 1;
        printf("== %s (dim %d, %d layers, ffn %d, vocab %d)\n", models[mi], c.dim, c.n_layers, c.ffn_dim, c.vocab_size);
        printf("%-6s %10s %12s %10s %9s %16s\n", "format", "tok/s", "MB/token", "GB/s", "share", "batched tok/s");
        for (int fi = 0; fi < 3; fi++) {
            QrCuda *g;
            if (qr_cuda_random_model(&g, &c, fmts[fi], 1, &e)) {
                printf("%-6s %s\n", FMT_NAME[fmts[fi]], e.msg);
                qr_cuda_destroy(g);
                continue;
            }
            double tps = 0, btps = 0;
            size_t bpt = qr_cuda_bytes_per_token(g);
            if (!qr_cuda_alloc_state(g, 1, 128 + steps + 2, 128, &e)) {
                double t = run_decode(g, c.vocab_size, 1, 128, steps, 128, &e);
                if (t > 0) tps = steps / t;
            }
            if (tps == 0) printf("%-6s batch 1: %s\n", FMT_NAME[fmts[fi]], e.msg);
            if (!qr_cuda_alloc_state(g, bseq, bplen + bnew + 2, 1024, &e)) {
                double t = run_decode(g, c.vocab_size, bseq, bplen, bnew, 1024, &e);
                if (t > 0) btps = (double)bseq * bnew / t;
            }
            if (btps == 0) printf("%-6s batched: %s\n", FMT_NAME[fmts[fi]], e.msg);
            printf("%-6s %10.1f %12.1f %10.1f %8.1f%% %16.0f\n", FMT_NAME[fmts[fi]], tps, bpt / 1e6, tps * bpt / 1e9,
                   100.0 * tps * bpt / (bw / 2), btps);
            // NF4 GEMV vs dequantize + cuBLASLt; bf16 kernel vs cuBLASLt (layer 0 shapes).
            if (fmts[fi] != QC_INT8) {
                QcScratch s = {0};
                size_t maxw = (size_t)c.ffn_dim * c.dim;
                s.max_n = 1, s.max_in = c.ffn_dim > c.dim ? c.ffn_dim : c.dim, s.max_out = s.max_in;
                CU(cudaMalloc(&s.xh, (maxw + (size_t)s.max_in) * 2));
                s.ws_bytes = 32u << 20;
                CU(cudaMalloc(&s.ws, s.ws_bytes));
                cublasLtCreate(&s.lt);
                float *x, *y;
                CU(cudaMalloc((void **)&x, (size_t)s.max_in * 4));
                CU(cudaMalloc((void **)&y, (size_t)s.max_in * 4));
                CU(qc_fill_normal_f32(x, (size_t)s.max_in, 1.0f, 3, 0));
                const char *wn[] = {"q", "k", "v", "o", "gate", "up", "down"};
                for (int w = 0; w < 7; w++) {
                    if (w == 1 || w == 2 || w == 5) continue; // same shapes as q / gate
                    const QcLinear *L = qr_cuda_layer_linear(g, 0, w);
                    double tk = time_linear(L, x, y, &s, 0, 200), tb = time_linear(L, x, y, &s, fmts[fi] == QC_NF4 ? 2 : 1, 200);
                    double wb = fmts[fi] == QC_NF4 ? (double)L->out * L->in / 2 : (double)L->out * L->in * 2;
                    printf("   %-4s %5d x %5d: kernel %7.1f us (%6.1f GB/s)  %s %7.1f us  -> %.2fx\n", wn[w], L->out,
                           L->in, tk * 1e6, wb / tk / 1e9,
                           fmts[fi] == QC_NF4 ? "dequant+cuBLASLt" : "cuBLASLt", tb * 1e6, tb / tk);
                }
                cudaFree(x), cudaFree(y), cudaFree(s.xh), cudaFree(s.ws);
                cublasLtDestroy(s.lt);
            }
            qr_cuda_destroy(g);
        }
        printf("(batch 1: 128-token prompt, %d decode steps; batched: %d prompts x %d tokens, %d new tokens each;\n"
               " share = weight bytes per token x tok/s / (copy bandwidth / 2), i.e. of the read bandwidth)\n\n",
               steps, bseq, bplen, bnew);
    }
    return 0;
}
