// Linear layers on the device, y[n, out] = x[n, in] W^T (+ b), for every
// stored weight format. CPU counterparts: kernels/gemm.c (float formats),
// kernels/nf4_matmul.c (NF4 + double quant), kernels/int8_matmul.c (LLM.int8).
//
// Decode (n <= 8): one warp per output row streams the weight row once with
// 16-byte loads and keeps up to 8 activation rows' sums in registers, so the
// weight is read once per step whatever the batch: these kernels are what
// sets batch-1 tokens/s (memory-bandwidth bound).
// Prefill / large batches: cuBLASLt (float formats, LLM.int8's int8 product on
// IMMA tensor cores) or the tiled NF4 kernel (dequantization in shared memory).
#include <float.h>
#include "kernels/cuda/common.cuh"

#define QC_INT8_DEQUANT_CONST 6.200012e-05f // quant/int8.h QR_INT8_DEQUANT_CONST
#define QC_INT8_INV127 7.874015718698502e-3f // quant/int8.h QR_INT8_INV127

static cudaError_t lt_fail(cublasStatus_t s) {
    return s == CUBLAS_STATUS_SUCCESS ? cudaSuccess
           : s == CUBLAS_STATUS_ALLOC_FAILED ? cudaErrorMemoryAllocation
                                             : cudaErrorNotSupported;
}

__global__ void k_bias(float *y, const float *b, int n, int out) {
    size_t total = (size_t)n * out;
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < total; j += (size_t)gridDim.x * blockDim.x)
        y[j] += b[j % out];
}
static cudaError_t add_bias(float *y, const float *b, int n, int out, cudaStream_t st) {
    if (!b) return cudaSuccess;
    size_t g = ((size_t)n * out + 255) / 256;
    k_bias<<<(unsigned)(g > 65535 ? 65535 : g), 256, 0, st>>>(y, b, n, out);
    return QC_LAUNCHED();
}

// ---- float formats: matrix-vector ----
template <int FMT, int NB>
__global__ void k_gemv(const void *W, int out, int in, const float *x, int n, float *y, const float *bias) {
    int r = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (r >= out) return;
    float acc[NB];
#pragma unroll
    for (int i = 0; i < NB; i++) acc[i] = 0;
    const size_t row = (size_t)r * in;
    const int V = FMT == QC_F32 ? 4 : 8; // elements per 16-byte load
    int c = 0;
    if (in % V == 0) {
        for (c = lane * V; c < in; c += 32 * V) {
            float w[8];
            uint4 u = *(const uint4 *)((const char *)W + (row + c) * (FMT == QC_F32 ? 4 : 2));
            if (FMT == QC_F32) {
                w[0] = __uint_as_float(u.x), w[1] = __uint_as_float(u.y), w[2] = __uint_as_float(u.z),
                w[3] = __uint_as_float(u.w);
            } else {
                uint32_t p[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    w[2 * j] = FMT == QC_BF16 ? qc_bf16_f32((uint16_t)p[j]) : qc_f16_f32((uint16_t)p[j]);
                    w[2 * j + 1] = FMT == QC_BF16 ? qc_bf16_f32((uint16_t)(p[j] >> 16)) : qc_f16_f32((uint16_t)(p[j] >> 16));
                }
            }
#pragma unroll
            for (int i = 0; i < NB; i++)
                if (i < n) {
                    const float *xi = x + (size_t)i * in + c;
#pragma unroll
                    for (int j = 0; j < V; j++) acc[i] = fmaf(w[j], xi[j], acc[i]);
                }
        }
    } else {
        for (c = lane; c < in; c += 32) {
            float w = qc_load_w<FMT>(W, row + c);
#pragma unroll
            for (int i = 0; i < NB; i++)
                if (i < n) acc[i] = fmaf(w, x[(size_t)i * in + c], acc[i]);
        }
    }
#pragma unroll
    for (int i = 0; i < NB; i++)
        if (i < n) {
            float s = qc_warp_sum(acc[i]);
            if (lane == 0) y[(size_t)i * out + r] = bias ? s + bias[r] : s;
        }
}

template <int FMT>
static void launch_gemv(const QcLinear *L, const float *x, int n, float *y, cudaStream_t st) {
    unsigned g = qc_blocks((size_t)L->out, 8);
    if (n <= 1) k_gemv<FMT, 1><<<g, 256, 0, st>>>(L->w, L->out, L->in, x, n, y, L->bias);
    else if (n <= 2) k_gemv<FMT, 2><<<g, 256, 0, st>>>(L->w, L->out, L->in, x, n, y, L->bias);
    else if (n <= 4) k_gemv<FMT, 4><<<g, 256, 0, st>>>(L->w, L->out, L->in, x, n, y, L->bias);
    else k_gemv<FMT, 8><<<g, 256, 0, st>>>(L->w, L->out, L->in, x, n, y, L->bias);
}

// ---- cuBLASLt: y (col-major [out, n]) = W^T-view (A: [in, out], ld in, op T) x (B: [in, n], ld in) ----
static cudaError_t lt_matmul(QcScratch *s, cudaDataType_t at, const void *A, cudaDataType_t bt, const void *B,
                             cudaDataType_t ct, void *C, int out, int n, int in, cublasComputeType_t comp,
                             cudaDataType_t scale_t, cudaStream_t st) {
    cublasLtMatmulDesc_t op = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    cublasStatus_t r;
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    int32_t ialpha = 1, ibeta = 0;
    float falpha = 1.0f, fbeta = 0.0f;
    const void *alpha = scale_t == CUDA_R_32I ? (const void *)&ialpha : (const void *)&falpha;
    const void *beta = scale_t == CUDA_R_32I ? (const void *)&ibeta : (const void *)&fbeta;
    cublasLtMatmulHeuristicResult_t heur;
    int nres = 0;
    if ((r = cublasLtMatmulDescCreate(&op, comp, scale_t)) ||
        (r = cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta)) ||
        (r = cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb)) ||
        (r = cublasLtMatrixLayoutCreate(&la, at, in, out, in)) || (r = cublasLtMatrixLayoutCreate(&lb, bt, in, n, in)) ||
        (r = cublasLtMatrixLayoutCreate(&lc, ct, out, n, out)) || (r = cublasLtMatmulPreferenceCreate(&pref)) ||
        (r = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &s->ws_bytes,
                                                  sizeof s->ws_bytes)) ||
        (r = cublasLtMatmulAlgoGetHeuristic(s->lt, op, la, lb, lc, lc, pref, 1, &heur, &nres)))
        goto done;
    if (nres < 1) {
        r = CUBLAS_STATUS_NOT_SUPPORTED;
        goto done;
    }
    r = cublasLtMatmul(s->lt, op, alpha, A, la, B, lb, beta, C, lc, C, lc, &heur.algo, s->ws, s->ws_bytes, st);
done:
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (lc) cublasLtMatrixLayoutDestroy(lc);
    if (lb) cublasLtMatrixLayoutDestroy(lb);
    if (la) cublasLtMatrixLayoutDestroy(la);
    if (op) cublasLtMatmulDescDestroy(op);
    return lt_fail(r);
}

static cudaError_t float_matmul(const QcLinear *L, const float *x, int n, float *y, QcScratch *s, cudaStream_t st) {
    cudaError_t r;
    if (L->fmt == QC_F32) {
        r = lt_matmul(s, CUDA_R_32F, L->w, CUDA_R_32F, x, CUDA_R_32F, y, L->out, n, L->in, CUBLAS_COMPUTE_32F,
                      CUDA_R_32F, st);
    } else {
        if (n > s->max_n || L->in > s->max_in) return cudaErrorInvalidValue;
        if ((r = qc_convert_f32(x, s->xh, L->fmt, (size_t)n * L->in, st))) return r;
        cudaDataType_t t = L->fmt == QC_F16 ? CUDA_R_16F : CUDA_R_16BF;
        r = lt_matmul(s, t, L->w, t, s->xh, CUDA_R_32F, y, L->out, n, L->in, CUBLAS_COMPUTE_32F, CUDA_R_32F, st);
    }
    if (r) return r;
    return add_bias(y, L->bias, n, L->out, st);
}

// ---- NF4 ----
// Dequantized weight (r, c) exactly as the CPU: scale = code2[q] * absmax2 +
// offset (two roundings), w = code * scale; post-quant noise added to w; for
// a 16-bit compute type w is rounded to it.
__device__ __forceinline__ float nf4_scale(const QcLinear &L, const float *code2, int64_t blk) {
    return __fadd_rn(__fmul_rn(code2[L.absmax_q[blk]], L.absmax2[blk >> 8]), L.offset);
}
__device__ __forceinline__ float nf4_w(const QcLinear &L, const float *code, const float *code2, int64_t r,
                                       int64_t c) {
    int64_t g = r * L.in + c;
    uint8_t byte = ((const uint8_t *)L.w)[g >> 1];
    int q = (g & 1) ? (byte & 15) : (byte >> 4);
    float w = __fmul_rn(code[q], nf4_scale(L, code2, g >> 6));
    if (L.has_noise) w = __fadd_rn(w, qc_noise_at(L.noise, (uint64_t)g));
    if (L.compute == QC_COMPUTE_F16) w = qc_round_half(w);
    else if (L.compute == QC_COMPUTE_BF16) w = qc_round_bf16(w);
    return w;
}
__device__ __forceinline__ float round_ct(int ct, float v) {
    return ct == QC_COMPUTE_F16 ? qc_round_half(v) : ct == QC_COMPUTE_BF16 ? qc_round_bf16(v) : v;
}

// The block's shared copies of the NF4 levels and the nested dynamic map
// (the caller synchronizes before use).
__device__ __forceinline__ void nf4_tables(const QcLinear &L, float *code, float *code2) {
    for (int j = threadIdx.x; j < 256; j += blockDim.x) {
        code2[j] = L.code2[j];
        if (j < 16) code[j] = L.code[j];
    }
}

// Fast matrix-vector: in % 64 == 0, fp32 compute. Each lane takes 32
// consecutive elements (16 bytes of codes, inside one 64-block): the block's
// sum of code * x is formed first and multiplied by the block scale once.
template <int NB, bool NOISE>
__global__ void k_nf4_gemv(QcLinear L, const float *x, int n, float *y) {
    __shared__ float code[16], code2[256];
    nf4_tables(L, code, code2);
    __syncthreads();
    int r = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (r >= L.out) return;
    float acc[NB];
#pragma unroll
    for (int i = 0; i < NB; i++) acc[i] = 0;
    const int64_t row = (int64_t)r * L.in;
    for (int c = lane * 32; c < L.in; c += 1024) {
        int64_t g = row + c;
        uint4 u = *(const uint4 *)((const uint8_t *)L.w + (g >> 1));
        float sc = nf4_scale(L, code2, g >> 6);
        float w[32];
        uint32_t p[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
        for (int b = 0; b < 16; b++) {
            uint32_t byte = (p[b >> 2] >> (8 * (b & 3))) & 0xff;
            w[2 * b] = code[byte >> 4];
            w[2 * b + 1] = code[byte & 15];
        }
        float nz[32];
        if (NOISE) {
#pragma unroll
            for (int b = 0; b < 8; b++) qc_noise_block(L.noise, (uint64_t)(g >> 2) + b, nz + 4 * b);
        }
#pragma unroll
        for (int i = 0; i < NB; i++)
            if (i < n) {
                const float4 *xi = (const float4 *)(x + (size_t)i * L.in + c);
                float s = 0, sn = 0;
#pragma unroll
                for (int j = 0; j < 8; j++) {
                    float4 v = xi[j];
                    s = fmaf(w[4 * j], v.x, s);
                    s = fmaf(w[4 * j + 1], v.y, s);
                    s = fmaf(w[4 * j + 2], v.z, s);
                    s = fmaf(w[4 * j + 3], v.w, s);
                    if (NOISE) {
                        sn = fmaf(nz[4 * j], v.x, sn);
                        sn = fmaf(nz[4 * j + 1], v.y, sn);
                        sn = fmaf(nz[4 * j + 2], v.z, sn);
                        sn = fmaf(nz[4 * j + 3], v.w, sn);
                    }
                }
                acc[i] = fmaf(s, sc, acc[i]) + sn;
            }
    }
#pragma unroll
    for (int i = 0; i < NB; i++)
        if (i < n) {
            float s = qc_warp_sum(acc[i]);
            if (lane == 0) y[(size_t)i * L.out + r] = L.bias ? s + L.bias[r] : s;
        }
}

// Any shape, any compute type: element by element (blocks may straddle rows).
template <int NB> __global__ void k_nf4_gemv_any(QcLinear L, const float *x, int n, float *y) {
    __shared__ float code[16], code2[256];
    nf4_tables(L, code, code2);
    __syncthreads();
    int r = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (r >= L.out) return;
    float acc[NB];
#pragma unroll
    for (int i = 0; i < NB; i++) acc[i] = 0;
    for (int c = lane; c < L.in; c += 32) {
        float w = nf4_w(L, code, code2, r, c);
#pragma unroll
        for (int i = 0; i < NB; i++)
            if (i < n) acc[i] = fmaf(w, round_ct(L.compute, x[(size_t)i * L.in + c]), acc[i]);
    }
#pragma unroll
    for (int i = 0; i < NB; i++)
        if (i < n) {
            float s = round_ct(L.compute, qc_warp_sum(acc[i]));
            if (lane == 0) y[(size_t)i * L.out + r] = L.bias ? s + L.bias[r] : s;
        }
}

// Prefill: 64 x 64 output tiles, K in steps of 32, the weight tile
// dequantized into shared memory; 256 threads, 4 x 4 outputs each.
#define NT 64
#define KT 32
__global__ void k_nf4_matmul(QcLinear L, const float *x, int n, float *y) {
    __shared__ float code[16], code2[256];
    __shared__ float Ws[NT][KT + 1], Xs[NT][KT + 1];
    nf4_tables(L, code, code2); // synchronized at the top of the K loop
    int o0 = blockIdx.x * NT, i0 = blockIdx.y * NT;
    int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    float acc[4][4] = {{0}};
    for (int k0 = 0; k0 < L.in; k0 += KT) {
        __syncthreads();
        for (int e = threadIdx.x; e < NT * KT; e += blockDim.x) {
            int rr = e / KT, kk = e % KT, o = o0 + rr, i = i0 + rr, c = k0 + kk;
            Ws[rr][kk] = (o < L.out && c < L.in) ? nf4_w(L, code, code2, o, c) : 0.0f;
            Xs[rr][kk] = (i < n && c < L.in) ? round_ct(L.compute, x[(size_t)i * L.in + c]) : 0.0f;
        }
        __syncthreads();
        for (int kk = 0; kk < KT; kk++) {
            float wv[4], xv[4];
#pragma unroll
            for (int a = 0; a < 4; a++) wv[a] = Ws[tx + 16 * a][kk], xv[a] = Xs[ty + 16 * a][kk];
#pragma unroll
            for (int a = 0; a < 4; a++)
#pragma unroll
                for (int b = 0; b < 4; b++) acc[b][a] = fmaf(wv[a], xv[b], acc[b][a]);
        }
    }
#pragma unroll
    for (int b = 0; b < 4; b++)
#pragma unroll
        for (int a = 0; a < 4; a++) {
            int o = o0 + tx + 16 * a, i = i0 + ty + 16 * b;
            if (o < L.out && i < n) {
                float s = round_ct(L.compute, acc[b][a]);
                y[(size_t)i * L.out + o] = L.bias ? s + L.bias[o] : s;
            }
        }
}

__global__ void k_nf4_dequant_bf16(QcLinear L, uint16_t *out) {
    __shared__ float code[16], code2[256];
    nf4_tables(L, code, code2);
    __syncthreads();
    size_t total = (size_t)L.out * L.in;
    for (size_t g = blockIdx.x * (size_t)blockDim.x + threadIdx.x; g < total; g += (size_t)gridDim.x * blockDim.x)
        out[g] = qc_f32_bf16(nf4_w(L, code, code2, (int64_t)(g / L.in), (int64_t)(g % L.in)));
}

extern "C" cudaError_t qc_nf4_dequant_bf16(const QcLinear *L, uint16_t *out, cudaStream_t st) {
    size_t g = ((size_t)L->out * L->in + 255) / 256;
    k_nf4_dequant_bf16<<<(unsigned)(g > 65535 ? 65535 : g), 256, 0, st>>>(*L, out);
    return QC_LAUNCHED();
}

template <int NB> static void launch_nf4_gemv(const QcLinear *L, const float *x, int n, float *y, cudaStream_t st) {
    unsigned g = qc_blocks((size_t)L->out, 8);
    if (L->in % 64 == 0 && L->compute == QC_COMPUTE_F32) {
        if (L->has_noise) k_nf4_gemv<NB, true><<<g, 256, 0, st>>>(*L, x, n, y);
        else k_nf4_gemv<NB, false><<<g, 256, 0, st>>>(*L, x, n, y);
    } else {
        k_nf4_gemv_any<NB><<<g, 256, 0, st>>>(*L, x, n, y);
    }
}

static cudaError_t nf4_forward(const QcLinear *L, const float *x, int n, float *y, int path, QcScratch *s,
                               cudaStream_t st) {
    if (path == 0) {
        for (int i0 = 0; i0 < n; i0 += 8) {
            int m = n - i0 < 8 ? n - i0 : 8;
            const float *xi = x + (size_t)i0 * L->in;
            float *yi = y + (size_t)i0 * L->out;
            if (m == 1) launch_nf4_gemv<1>(L, xi, m, yi, st);
            else if (m == 2) launch_nf4_gemv<2>(L, xi, m, yi, st);
            else if (m <= 4) launch_nf4_gemv<4>(L, xi, m, yi, st);
            else launch_nf4_gemv<8>(L, xi, m, yi, st);
        }
        return QC_LAUNCHED();
    }
    if (path == 1) {
        dim3 grid(qc_blocks((size_t)L->out, NT), qc_blocks((size_t)n, NT));
        k_nf4_matmul<<<grid, 256, 0, st>>>(*L, x, n, y);
        return QC_LAUNCHED();
    }
    // path 2: dequantize to bf16 (into the caller's scratch xh, which must hold
    // out*in + n*in halves), then cuBLASLt: the bitsandbytes-style baseline.
    cudaError_t r;
    uint16_t *wd = (uint16_t *)s->xh, *xh = wd + (size_t)L->out * L->in;
    if ((r = qc_nf4_dequant_bf16(L, wd, st)) || (r = qc_convert_f32(x, xh, QC_BF16, (size_t)n * L->in, st)) ||
        (r = lt_matmul(s, CUDA_R_16BF, wd, CUDA_R_16BF, xh, CUDA_R_32F, y, L->out, n, L->in, CUBLAS_COMPUTE_32F,
                       CUDA_R_32F, st)))
        return r;
    return add_bias(y, L->bias, n, L->out, st);
}

// ---- LLM.int8 ----
// Outlier columns of x (any row with |float16(x)| >= float16(threshold)),
// compacted in column order: idx[0..count), idx[cols] = count; flags[c] = 1.
__global__ void k_int8_outliers(const float *x, int n, int cols, float thr, int *idx, uint8_t *flag) {
    __shared__ int cnt[1024];
    int per = (cols + blockDim.x - 1) / blockDim.x, c0 = threadIdx.x * per, c1 = min(cols, c0 + per), k = 0;
    for (int c = c0; c < c1; c++) {
        uint8_t f = 0;
        if (thr > 0.0f)
            for (int i = 0; i < n && !f; i++) f = fabsf(qc_round_half(x[(size_t)i * cols + c])) >= thr;
        flag[c] = f;
        k += f;
    }
    cnt[threadIdx.x] = k;
    __syncthreads();
    if (threadIdx.x == 0) {
        int s = 0;
        for (int t = 0; t < (int)blockDim.x; t++) {
            int v = cnt[t];
            cnt[t] = s;
            s += v;
        }
        idx[cols] = s;
    }
    __syncthreads();
    int w = cnt[threadIdx.x];
    for (int c = c0; c < c1; c++)
        if (flag[c]) idx[w++] = c;
}

// Row absmax of float16(x) with outlier ELEMENTS left out, int8 codes with the
// outlier COLUMNS zeroed (quant/int8.c qr_int8_quantize_act).
__global__ void k_int8_quant_act(const float *x, int cols, float thr, const uint8_t *flag, int8_t *q, float *sca) {
    __shared__ float red[32];
    const float *xr = x + (size_t)blockIdx.x * cols;
    float m = 0.0f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float a = fabsf(qc_round_half(xr[c]));
        if (!(thr > 0.0f && a >= thr)) m = fmaxf(m, a);
    }
    m = qc_warp_max(m);
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = m;
    __syncthreads();
    if (threadIdx.x == 0) {
        float v = 0.0f;
        for (int w = 0; w < (int)(blockDim.x >> 5); w++) v = fmaxf(v, red[w]);
        red[0] = v;
        sca[blockIdx.x] = v;
    }
    __syncthreads();
    float scale = __fmul_rn(__fdiv_rn(1.0f, red[0]), 127.0f);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float p = __fmul_rn(qc_round_half(xr[c]), scale);
        int8_t v = (thr > 0.0f && flag[c]) || isnan(p) ? 0 : (int8_t)__float2int_rn(p);
        q[(size_t)blockIdx.x * cols + c] = v;
    }
}

// The float epilogue and the fp16 outlier part, in the CPU's order (lane 0
// walks the outlier columns in order), so y matches qr_int8_matmul_ref bit
// for bit.
__device__ __forceinline__ float int8_finish(const QcLinear &L, int32_t acc, float sa, int o, const float *xi,
                                             const int *idx) {
    const float sb = L.scb[o];
    float v = __fmul_rn(__fmul_rn(__fmul_rn((float)acc, sa), sb), QC_INT8_DEQUANT_CONST);
    float s = 0.0f;
    const int no = idx[L.in];
    const int8_t *wr = (const int8_t *)L.w + (size_t)o * L.in;
    for (int k = 0; k < no; k++) {
        int c = idx[k];
        float wo = qc_round_half(__fmul_rn(__fmul_rn((float)wr[c], sb), QC_INT8_INV127));
        s = __fadd_rn(s, __fmul_rn(qc_round_half(xi[c]), wo));
    }
    v = __fadd_rn(v, s);
    return L.bias ? v + L.bias[o] : v;
}

template <int NB>
__global__ void k_int8_gemv(QcLinear L, const float *x, const int8_t *xq, const float *sca, int n, const int *idx,
                            float *y) {
    int o = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (o >= L.out) return;
    int32_t acc[NB];
#pragma unroll
    for (int i = 0; i < NB; i++) acc[i] = 0;
    const int8_t *wr = (const int8_t *)L.w + (size_t)o * L.in;
    if (L.in % 16 == 0) {
        for (int c = lane * 16; c < L.in; c += 512) {
            int4 w = *(const int4 *)(wr + c);
#pragma unroll
            for (int i = 0; i < NB; i++)
                if (i < n) {
                    int4 a = *(const int4 *)(xq + (size_t)i * L.in + c);
                    acc[i] = __dp4a(w.x, a.x, acc[i]);
                    acc[i] = __dp4a(w.y, a.y, acc[i]);
                    acc[i] = __dp4a(w.z, a.z, acc[i]);
                    acc[i] = __dp4a(w.w, a.w, acc[i]);
                }
        }
    } else {
        for (int c = lane; c < L.in; c += 32)
#pragma unroll
            for (int i = 0; i < NB; i++)
                if (i < n) acc[i] += (int32_t)wr[c] * (int32_t)xq[(size_t)i * L.in + c];
    }
#pragma unroll
    for (int i = 0; i < NB; i++)
        if (i < n) {
            int32_t a = acc[i];
            for (int off = 16; off > 0; off >>= 1) a += __shfl_xor_sync(0xffffffffu, a, off);
            if (lane == 0) y[(size_t)i * L.out + o] = int8_finish(L, a, sca[i], o, x + (size_t)i * L.in, idx);
        }
}

__global__ void k_int8_epilogue(QcLinear L, const int32_t *acc, const float *x, const float *sca, int n,
                                const int *idx, float *y) {
    size_t total = (size_t)n * L.out;
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < total; j += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(j / L.out), o = (int)(j % L.out);
        y[j] = int8_finish(L, acc[j], sca[i], o, x + (size_t)i * L.in, idx);
    }
}

static cudaError_t int8_forward(const QcLinear *L, const float *x, int n, float *y, int path, QcScratch *s,
                                cudaStream_t st) {
    if (n > s->max_n || L->in > s->max_in) return cudaErrorInvalidValue;
    float thr = L->threshold > 0.0f ? __half2float(__float2half_rn(L->threshold)) : 0.0f;
    uint8_t *flag = (uint8_t *)(s->outl_idx + s->max_in + 1);
    k_int8_outliers<<<1, 1024, 0, st>>>(x, n, L->in, thr, s->outl_idx, flag);
    k_int8_quant_act<<<n, 256, 0, st>>>(x, L->in, thr, flag, s->xq, s->sca);
    cudaError_t r = QC_LAUNCHED();
    if (r) return r;
    if (path == 1 && L->in % 4 == 0 && L->out % 4 == 0 && L->out <= s->max_out) {
        // int8 x int8 -> int32 on the tensor cores (cuBLASLt IMMA), then the epilogue.
        if ((r = lt_matmul(s, CUDA_R_8I, L->w, CUDA_R_8I, s->xq, CUDA_R_32I, s->acc, L->out, n, L->in,
                           CUBLAS_COMPUTE_32I, CUDA_R_32I, st)))
            return r;
        size_t g = ((size_t)n * L->out + 255) / 256;
        k_int8_epilogue<<<(unsigned)(g > 65535 ? 65535 : g), 256, 0, st>>>(*L, s->acc, x, s->sca, n, s->outl_idx, y);
    } else {
        unsigned g = qc_blocks((size_t)L->out, 8);
        for (int i0 = 0; i0 < n; i0 += 8) {
            int m = n - i0 < 8 ? n - i0 : 8;
            const float *xi = x + (size_t)i0 * L->in;
            const int8_t *qi = s->xq + (size_t)i0 * L->in;
            float *yi = y + (size_t)i0 * L->out;
            if (m <= 1) k_int8_gemv<1><<<g, 256, 0, st>>>(*L, xi, qi, s->sca + i0, m, s->outl_idx, yi);
            else if (m <= 2) k_int8_gemv<2><<<g, 256, 0, st>>>(*L, xi, qi, s->sca + i0, m, s->outl_idx, yi);
            else if (m <= 4) k_int8_gemv<4><<<g, 256, 0, st>>>(*L, xi, qi, s->sca + i0, m, s->outl_idx, yi);
            else k_int8_gemv<8><<<g, 256, 0, st>>>(*L, xi, qi, s->sca + i0, m, s->outl_idx, yi);
        }
    }
    if ((r = QC_LAUNCHED())) return r;
    if (L->has_noise) return qc_noise_matmul_acc(&L->noise, x, n, L->out, L->in, y, st);
    return cudaSuccess;
}

// ---- dispatch ----
extern "C" cudaError_t qc_linear_path(const QcLinear *L, const float *x, int n, float *y, QcScratch *s, int path,
                                      cudaStream_t st) {
    if (n <= 0) return cudaSuccess;
    switch (L->fmt) {
    case QC_F32:
    case QC_F16:
    case QC_BF16:
        if (path == 0) {
            for (int i0 = 0; i0 < n; i0 += 8) {
                int m = n - i0 < 8 ? n - i0 : 8;
                const float *xi = x + (size_t)i0 * L->in;
                float *yi = y + (size_t)i0 * L->out;
                if (L->fmt == QC_F32) launch_gemv<QC_F32>(L, xi, m, yi, st);
                else if (L->fmt == QC_F16) launch_gemv<QC_F16>(L, xi, m, yi, st);
                else launch_gemv<QC_BF16>(L, xi, m, yi, st);
            }
            return QC_LAUNCHED();
        }
        return float_matmul(L, x, n, y, s, st);
    case QC_NF4: return nf4_forward(L, x, n, y, path, s, st);
    case QC_INT8: return int8_forward(L, x, n, y, path, s, st);
    }
    return cudaErrorInvalidValue;
}

extern "C" cudaError_t qc_linear(const QcLinear *L, const float *x, int n, float *y, QcScratch *s, cudaStream_t st) {
    return qc_linear_path(L, x, n, y, s, n <= 8 ? 0 : 1, st);
}
