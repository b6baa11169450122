// CUDA kernels of the GPU backend (issue 9), callable from C.
//
// Every function here works on DEVICE pointers, enqueues on `st` and returns
// the cudaError_t of its launch (cudaGetLastError after the launch), so the
// caller (kernels/cuda/backend.c) checks each one with file and line. Shapes
// and semantics mirror the CPU kernels named next to each; the tolerances at
// which they agree are stated and checked in tests/cuda/test_cuda.c.
//
// Compiled only with `make CUDA=1` (nvcc, sm_90). The CPU build never sees it.
#pragma once
#include <cuda_runtime_api.h>
#include <stdint.h>
#include <cublasLt.h>

// For programs only (tests/cuda, bench/cuda), never for library code: a failed
// call prints file, line, call and message, and exits 1.
#define QC_CHECK_OR_EXIT(call)                                                                    \
    do {                                                                                          \
        cudaError_t qc_r_ = (call);                                                               \
        if (qc_r_ != cudaSuccess) {                                                               \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(qc_r_)); \
            exit(1);                                                                              \
        }                                                                                         \
    } while (0)

#ifdef __cplusplus
extern "C" {
#endif

// Weight formats (the values of QrWeightFormat in runtime/linear.h).
enum { QC_F32 = 0, QC_F16 = 1, QC_BF16 = 2, QC_NF4 = 3, QC_INT8 = 4 };
// NF4 compute types (QrComputeType in kernels/nf4_matmul.h).
enum { QC_COMPUTE_F32 = 0, QC_COMPUTE_F16 = 1, QC_COMPUTE_BF16 = 2 };

// Weight noise of one tensor (attacks/noise.h; QrNoiseKey): the same Philox
// key, distribution and level give the same bits as the CPU.
typedef struct {
    uint32_t key[2];
    int dist;    // 0 gaussian, 1 uniform (QrNoiseDist)
    float level;
} QcNoise;

// One linear layer on the device, y[n, out] = x[n, in] W^T (+ bias), W in its
// stored format (uploaded once by backend.c).
typedef struct QcLinear {
    int fmt;            // QC_F32 .. QC_INT8
    int out, in;
    const void *w;      // float formats: [out, in]; NF4: packed [ceil(out*in/2)]; INT8: int8 [out, in]
    const float *bias;  // [out] or NULL
    // NF4 (quant/nf4.h)
    const uint8_t *absmax_q; // [nblocks]
    const float *absmax2;    // [nblocks2]
    float offset;
    const float *code;       // [16]
    const float *code2;      // [256]
    int compute;             // QC_COMPUTE_*
    // LLM.int8 (quant/int8.h)
    const float *scb;        // [out]
    float threshold;         // 0: pure int8
    // post-quant weight noise fused into the kernel (NF4: into the dequantized
    // value; INT8: as the term y += x N^T); has_noise 0: none
    int has_noise;
    QcNoise noise;
} QcLinear;

// Scratch for one forward call of up to `max_n` activation rows of up to
// `max_in` columns (allocated by backend.c; qc_scratch_bytes says how much).
typedef struct {
    int max_n, max_in;
    void *xh;           // [max_n * max_in] half/bf16 copy of x for cuBLASLt
    int8_t *xq;         // [max_n * max_in] int8 activations (LLM.int8)
    float *sca;         // [max_n] activation row absmax
    int32_t *acc;       // [max_n * max_out] int32 products (cuBLASLt int8 path)
    int max_out;
    int *outl_idx;      // [max_in] outlier column indices; outl_idx[max_in] holds the count
    void *ws;           // cuBLASLt workspace
    size_t ws_bytes;
    cublasLtHandle_t lt;
} QcScratch;

// y = x W^T + b for any format; n rows. Small n (<= 8) take bandwidth-bound
// matrix-vector kernels (fp32 compute over the stored weights, as the CPU);
// larger n take cuBLASLt (float formats; fp16/bf16 weights then multiply
// fp16/bf16-rounded activations with fp32 accumulation), the tiled NF4 kernel,
// or int8 cuBLASLt (IMMA tensor cores) for LLM.int8.
cudaError_t qc_linear(const QcLinear *L, const float *x, int n, float *y, QcScratch *s, cudaStream_t st);
// The same with the path forced (tests, bench): 0 = matrix-vector kernels,
// 1 = the matrix-matrix path; 2 (NF4 only) = dequantize to bf16 then cuBLASLt.
cudaError_t qc_linear_path(const QcLinear *L, const float *x, int n, float *y, QcScratch *s, int path,
                           cudaStream_t st);
// Dequantizes an NF4 weight (with its fused noise, if any) to bf16 [out, in].
cudaError_t qc_nf4_dequant_bf16(const QcLinear *L, uint16_t *out, cudaStream_t st);

// ---- row / element-wise ops (kernels/ops.h) ----
cudaError_t qc_rmsnorm(float *out, const float *x, const float *w, int n, int dim, float eps, cudaStream_t st);
cudaError_t qc_layernorm(float *out, const float *x, const float *w, const float *b, int n, int dim, float eps,
                         cudaStream_t st);
// pos: device [n]
cudaError_t qc_rope(float *x, int n, int n_heads, int head_dim, int rope_dim, const int *pos, const float *inv_freq,
                    int interleaved, cudaStream_t st);
cudaError_t qc_silu_mul(float *a, const float *b, size_t n, cudaStream_t st);
cudaError_t qc_gelu(float *a, size_t n, int tanh_approx, cudaStream_t st);
cudaError_t qc_add(float *y, const float *x, size_t n, cudaStream_t st);
// out[i] = row tokens[i] of table [rows, dim] (fmt QC_F32/F16/BF16) as f32.
cudaError_t qc_embed(int fmt, const void *table, const int *tokens, int n, int dim, float *out, cudaStream_t st);
// out[j] = x[idx[j]] rows of dim (j < n).
cudaError_t qc_gather_rows(const float *x, const int *idx, int n, int dim, float *out, cudaStream_t st);

// ---- KV cache and attention (kernels/attention.h) ----
// One layer's cache kc/vc: [n_slots][max_seq][kv_dim] f32.
cudaError_t qc_kv_store(float *kc, float *vc, const float *k, const float *v, int n, const int *pos, const int *seq,
                        int max_seq, int kv_dim, cudaStream_t st);
// scratch: n * n_heads * max_seq floats.
cudaError_t qc_attention(const float *q, float *out, int n, int n_heads, int n_kv_heads, int head_dim, float scale,
                         const float *kc, const float *vc, int max_seq, int kv_dim, const int *pos, const int *seq,
                         int window, float *scratch, cudaStream_t st);

// ---- sampling ----
// ids[i] = argmax of logits row i (ties: the lowest id, as qr_argmax).
cudaError_t qc_argmax(const float *logits, int n, int vocab, int *ids, cudaStream_t st);

// ---- weight noise (attacks/noise.h), bit-identical to the CPU ----
// out[j] = noise of element start + j.
cudaError_t qc_noise_fill(const QcNoise *k, uint64_t start, size_t n, float *out, cudaStream_t st);
// w[j] = round_fmt(w[j] + sign * noise(start + j)), fmt QC_F32/F16/BF16.
cudaError_t qc_noise_add(const QcNoise *k, uint64_t start, void *w, int fmt, size_t n, int sign, cudaStream_t st);
// y[i, r] += sum_c x[i, c] * noise(r * cols + c) (post-quant term, fp32 accumulation).
cudaError_t qc_noise_matmul_acc(const QcNoise *k, const float *x, int m, int rows, int cols, float *y,
                                cudaStream_t st);

// ---- bench helpers ----
// Random bytes / values for synthetic weights (splitmix64 of seed and index).
cudaError_t qc_fill_random(void *p, size_t bytes, uint64_t seed, cudaStream_t st);
cudaError_t qc_fill_normal_f32(float *p, size_t n, float std, uint64_t seed, cudaStream_t st);
cudaError_t qc_convert_f32(const float *src, void *dst, int fmt, size_t n, cudaStream_t st);

#ifdef __cplusplus
}
#endif
