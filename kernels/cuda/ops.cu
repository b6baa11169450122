// Row-wise and element-wise ops, KV cache, attention, argmax and weight noise
// on the device. CPU counterparts: kernels/ops.c, kernels/attention.c,
// runtime/sampler.c (qr_argmax), attacks/noise.c.
#include <float.h>
#include "kernels/cuda/common.cuh"

// ---- norms: one block of 256 threads per row; moments in double (as the CPU) ----
template <int LN>
__global__ void k_norm(float *out, const float *x, const float *w, const float *b, int dim, float eps) {
    __shared__ double red[2][8];
    const float *xr = x + (size_t)blockIdx.x * dim;
    float *o = out + (size_t)blockIdx.x * dim;
    double s = 0, ss = 0;
    for (int j = threadIdx.x; j < dim; j += blockDim.x) {
        double v = xr[j];
        s += v;
        ss += v * v;
    }
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    s = qc_warp_sum_d(s);
    ss = qc_warp_sum_d(ss);
    if (lane == 0) red[0][wid] = s, red[1][wid] = ss;
    __syncthreads();
    if (threadIdx.x == 0) {
        double a = 0, c = 0;
        for (int i = 0; i < (int)(blockDim.x >> 5); i++) a += red[0][i], c += red[1][i];
        red[0][0] = a, red[1][0] = c;
    }
    __syncthreads();
    s = red[0][0];
    ss = red[1][0];
    if (!LN) {
        float var = (float)(ss / dim);
        float inv = 1.0f / sqrtf(var + eps);
        for (int j = threadIdx.x; j < dim; j += blockDim.x) o[j] = w[j] * (xr[j] * inv);
    } else {
        // Variance as the CPU: sum of squared deviations from the mean (a second pass).
        double mean = s / dim, sd = 0;
        for (int j = threadIdx.x; j < dim; j += blockDim.x) sd += (xr[j] - mean) * (xr[j] - mean);
        sd = qc_warp_sum_d(sd);
        __syncthreads();
        if (lane == 0) red[1][wid] = sd;
        __syncthreads();
        if (threadIdx.x == 0) {
            double c = 0;
            for (int i = 0; i < (int)(blockDim.x >> 5); i++) c += red[1][i];
            red[1][0] = c;
        }
        __syncthreads();
        float m = (float)mean, inv = (float)(1.0 / sqrt(red[1][0] / dim + eps));
        for (int j = threadIdx.x; j < dim; j += blockDim.x) o[j] = (xr[j] - m) * inv * w[j] + b[j];
    }
}

extern "C" cudaError_t qc_rmsnorm(float *out, const float *x, const float *w, int n, int dim, float eps,
                                  cudaStream_t st) {
    if (n > 0) k_norm<0><<<n, 256, 0, st>>>(out, x, w, NULL, dim, eps);
    return QC_LAUNCHED();
}

extern "C" cudaError_t qc_layernorm(float *out, const float *x, const float *w, const float *b, int n, int dim,
                                    float eps, cudaStream_t st) {
    if (n > 0) k_norm<1><<<n, 256, 0, st>>>(out, x, w, b, dim, eps);
    return QC_LAUNCHED();
}

// ---- RoPE: one block per token, threads over (head, pair). cos/sin in double
// then rounded, which is what glibc's correctly rounded cosf/sinf return in
// all but rare cases. ----
__global__ void k_rope(float *x, int n_heads, int head_dim, int rope_dim, const int *pos, const float *inv_freq,
                       int interleaved) {
    int r = blockIdx.x, half = rope_dim / 2;
    for (int t = threadIdx.x; t < n_heads * half; t += blockDim.x) {
        int h = t / half, j = t % half;
        float ang = (float)pos[r] * inv_freq[j];
        float c = (float)cos((double)ang), s = (float)sin((double)ang);
        float *v = x + ((size_t)r * n_heads + h) * head_dim;
        if (interleaved) {
            float a = v[2 * j], b = v[2 * j + 1];
            v[2 * j] = __fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s));
            v[2 * j + 1] = __fadd_rn(__fmul_rn(a, s), __fmul_rn(b, c));
        } else {
            float a = v[j], b = v[j + half];
            v[j] = __fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s));
            v[j + half] = __fadd_rn(__fmul_rn(b, c), __fmul_rn(a, s));
        }
    }
}

extern "C" cudaError_t qc_rope(float *x, int n, int n_heads, int head_dim, int rope_dim, const int *pos,
                               const float *inv_freq, int interleaved, cudaStream_t st) {
    if (n > 0 && rope_dim >= 2) k_rope<<<n, 256, 0, st>>>(x, n_heads, head_dim, rope_dim, pos, inv_freq, interleaved);
    return QC_LAUNCHED();
}

// ---- element-wise ----
__global__ void k_silu_mul(float *a, const float *b, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float v = a[i];
        a[i] = v / (1.0f + expf(-v)) * b[i];
    }
}
__global__ void k_gelu(float *a, size_t n, int tanh_approx) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float v = a[i];
        if (tanh_approx)
            a[i] = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
        else
            a[i] = 0.5f * v * (1.0f + erff(v * 0.7071067811865476f));
    }
}
__global__ void k_add(float *y, const float *x, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] += x[i];
}

static unsigned grid_for(size_t n) {
    size_t g = (n + 255) / 256;
    return (unsigned)(g > 65535 ? 65535 : g ? g : 1);
}

extern "C" cudaError_t qc_silu_mul(float *a, const float *b, size_t n, cudaStream_t st) {
    if (n) k_silu_mul<<<grid_for(n), 256, 0, st>>>(a, b, n);
    return QC_LAUNCHED();
}
extern "C" cudaError_t qc_gelu(float *a, size_t n, int tanh_approx, cudaStream_t st) {
    if (n) k_gelu<<<grid_for(n), 256, 0, st>>>(a, n, tanh_approx);
    return QC_LAUNCHED();
}
extern "C" cudaError_t qc_add(float *y, const float *x, size_t n, cudaStream_t st) {
    if (n) k_add<<<grid_for(n), 256, 0, st>>>(y, x, n);
    return QC_LAUNCHED();
}

template <int FMT> __global__ void k_embed(const void *table, const int *tokens, int dim, float *out) {
    size_t row = (size_t)tokens[blockIdx.x] * dim;
    for (int j = threadIdx.x; j < dim; j += blockDim.x) out[(size_t)blockIdx.x * dim + j] = qc_load_w<FMT>(table, row + j);
}

extern "C" cudaError_t qc_embed(int fmt, const void *table, const int *tokens, int n, int dim, float *out,
                                cudaStream_t st) {
    if (n <= 0) return cudaSuccess;
    if (fmt == QC_F32) k_embed<QC_F32><<<n, 256, 0, st>>>(table, tokens, dim, out);
    else if (fmt == QC_F16) k_embed<QC_F16><<<n, 256, 0, st>>>(table, tokens, dim, out);
    else if (fmt == QC_BF16) k_embed<QC_BF16><<<n, 256, 0, st>>>(table, tokens, dim, out);
    else return cudaErrorInvalidValue;
    return QC_LAUNCHED();
}

__global__ void k_gather(const float *x, const int *idx, int dim, float *out) {
    const float *src = x + (size_t)idx[blockIdx.x] * dim;
    for (int j = threadIdx.x; j < dim; j += blockDim.x) out[(size_t)blockIdx.x * dim + j] = src[j];
}
extern "C" cudaError_t qc_gather_rows(const float *x, const int *idx, int n, int dim, float *out, cudaStream_t st) {
    if (n > 0) k_gather<<<n, 256, 0, st>>>(x, idx, dim, out);
    return QC_LAUNCHED();
}

// ---- KV cache ----
__global__ void k_kv_store(float *kc, float *vc, const float *k, const float *v, const int *pos, const int *seq,
                           int max_seq, int kv_dim) {
    int i = blockIdx.x;
    size_t off = ((size_t)seq[i] * max_seq + pos[i]) * kv_dim;
    for (int j = threadIdx.x; j < kv_dim; j += blockDim.x) {
        kc[off + j] = k[(size_t)i * kv_dim + j];
        vc[off + j] = v[(size_t)i * kv_dim + j];
    }
}
extern "C" cudaError_t qc_kv_store(float *kc, float *vc, const float *k, const float *v, int n, const int *pos,
                                   const int *seq, int max_seq, int kv_dim, cudaStream_t st) {
    if (n > 0) k_kv_store<<<n, 128, 0, st>>>(kc, vc, k, v, pos, seq, max_seq, kv_dim);
    return QC_LAUNCHED();
}

// ---- attention: one block of 128 threads per (token, head). Scores go to a
// global scratch row (max_seq floats); the softmax max and sum are block
// reductions; the weighted sum over t runs in increasing t per output dim. ----
__global__ void k_attention(const float *q, float *out, int n_heads, int n_kv_heads, int head_dim, float scale,
                            const float *kc, const float *vc, int max_seq, int kv_dim, const int *pos,
                            const int *seq, int window, float *scratch) {
    __shared__ float red[32];
    int i = blockIdx.x / n_heads, h = blockIdx.x % n_heads, kvh = h / (n_heads / n_kv_heads);
    const float *qh = q + (size_t)i * n_heads * head_dim + (size_t)h * head_dim;
    float *oh = out + (size_t)i * n_heads * head_dim + (size_t)h * head_dim;
    size_t slot = (size_t)seq[i] * max_seq * kv_dim + (size_t)kvh * head_dim;
    const float *kb = kc + slot, *vb = vc + slot;
    float *sc = scratch + (size_t)blockIdx.x * max_seq;
    int hi = pos[i], lo = window > 0 && hi - window + 1 > 0 ? hi - window + 1 : 0;
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    // Scores: one warp per position, lanes over head_dim.
    float mx = -FLT_MAX;
    for (int t = lo + wid; t <= hi; t += nw) {
        const float *kt = kb + (size_t)t * kv_dim;
        float d = 0;
        for (int j = lane; j < head_dim; j += 32) d = fmaf(qh[j], kt[j], d);
        d = qc_warp_sum(d) * scale;
        if (lane == 0) sc[t - lo] = d;
        mx = fmaxf(mx, d);
    }
    if (lane == 0) red[wid] = mx;
    __syncthreads();
    if (threadIdx.x == 0) {
        float m = red[0];
        for (int w = 1; w < nw; w++) m = fmaxf(m, red[w]);
        red[0] = m;
    }
    __syncthreads();
    mx = red[0];
    __syncthreads();
    float sum = 0;
    for (int t = lo + threadIdx.x; t <= hi; t += blockDim.x) {
        float e = expf(sc[t - lo] - mx);
        sc[t - lo] = e;
        sum += e;
    }
    sum = qc_warp_sum(sum);
    if (lane == 0) red[wid] = sum;
    __syncthreads();
    if (threadIdx.x == 0) {
        float s = 0;
        for (int w = 0; w < nw; w++) s += red[w];
        red[0] = s;
    }
    __syncthreads();
    float inv = 1.0f / red[0];
    for (int j = threadIdx.x; j < head_dim; j += blockDim.x) {
        float acc = 0;
        for (int t = lo; t <= hi; t++) acc = fmaf(sc[t - lo] * inv, vb[(size_t)t * kv_dim + j], acc);
        oh[j] = acc;
    }
}

extern "C" cudaError_t qc_attention(const float *q, float *out, int n, int n_heads, int n_kv_heads, int head_dim,
                                    float scale, const float *kc, const float *vc, int max_seq, int kv_dim,
                                    const int *pos, const int *seq, int window, float *scratch, cudaStream_t st) {
    if (n > 0)
        k_attention<<<n * n_heads, 128, 0, st>>>(q, out, n_heads, n_kv_heads, head_dim, scale, kc, vc, max_seq,
                                                 kv_dim, pos, seq, window, scratch);
    return QC_LAUNCHED();
}

// ---- argmax: one block per row; ties to the lowest id ----
__global__ void k_argmax(const float *logits, int vocab, int *ids) {
    __shared__ float bv[256];
    __shared__ int bi[256];
    const float *x = logits + (size_t)blockIdx.x * vocab;
    float v = -FLT_MAX;
    int b = 0x7fffffff;
    for (int j = threadIdx.x; j < vocab; j += blockDim.x)
        if (x[j] > v || b == 0x7fffffff) v = x[j], b = j;
    bv[threadIdx.x] = v;
    bi[threadIdx.x] = b;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) {
            float ov = bv[threadIdx.x + s];
            int oi = bi[threadIdx.x + s];
            if (ov > bv[threadIdx.x] || (ov == bv[threadIdx.x] && oi < bi[threadIdx.x]))
                bv[threadIdx.x] = ov, bi[threadIdx.x] = oi;
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) ids[blockIdx.x] = bi[0];
}
extern "C" cudaError_t qc_argmax(const float *logits, int n, int vocab, int *ids, cudaStream_t st) {
    if (n > 0) k_argmax<<<n, 256, 0, st>>>(logits, vocab, ids);
    return QC_LAUNCHED();
}

// ---- weight noise ----
__global__ void k_noise_fill(QcNoise k, uint64_t start, size_t n, float *out) {
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < n; j += (size_t)gridDim.x * blockDim.x)
        out[j] = qc_noise_at(k, start + j);
}
template <int FMT> __global__ void k_noise_add(QcNoise k, uint64_t start, void *w, size_t n, int sign) {
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < n; j += (size_t)gridDim.x * blockDim.x) {
        float z = qc_noise_at(k, start + j);
        if (sign < 0) z = -z;
        if (FMT == QC_F32) ((float *)w)[j] = __fadd_rn(((float *)w)[j], z);
        else if (FMT == QC_F16) ((uint16_t *)w)[j] = qc_f32_f16(__fadd_rn(qc_f16_f32(((uint16_t *)w)[j]), z));
        else ((uint16_t *)w)[j] = qc_f32_bf16(__fadd_rn(qc_bf16_f32(((uint16_t *)w)[j]), z));
    }
}

extern "C" cudaError_t qc_noise_fill(const QcNoise *k, uint64_t start, size_t n, float *out, cudaStream_t st) {
    if (n) k_noise_fill<<<grid_for(n), 256, 0, st>>>(*k, start, n, out);
    return QC_LAUNCHED();
}
extern "C" cudaError_t qc_noise_add(const QcNoise *k, uint64_t start, void *w, int fmt, size_t n, int sign,
                                    cudaStream_t st) {
    if (!n) return cudaSuccess;
    if (fmt == QC_F32) k_noise_add<QC_F32><<<grid_for(n), 256, 0, st>>>(*k, start, w, n, sign);
    else if (fmt == QC_F16) k_noise_add<QC_F16><<<grid_for(n), 256, 0, st>>>(*k, start, w, n, sign);
    else if (fmt == QC_BF16) k_noise_add<QC_BF16><<<grid_for(n), 256, 0, st>>>(*k, start, w, n, sign);
    else return cudaErrorInvalidValue;
    return QC_LAUNCHED();
}

// y[i, r] += sum_c x[i, c] noise(r * cols + c): one warp per output row r,
// the noise of the row generated once and reused for every activation row.
#define QC_NM_ROWS 8
__global__ void k_noise_matmul_acc(QcNoise k, const float *x, int m, int rows, int cols, float *y) {
    int r = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (r >= rows) return;
    for (int i0 = 0; i0 < m; i0 += QC_NM_ROWS) {
        float acc[QC_NM_ROWS] = {0};
        int ni = m - i0 < QC_NM_ROWS ? m - i0 : QC_NM_ROWS;
        for (int c0 = lane * 4; c0 < cols; c0 += 128) {
            // 4 consecutive elements: one Philox block when aligned.
            for (int u = 0; u < 4 && c0 + u < cols; u++) {
                float z = qc_noise_at(k, (uint64_t)r * cols + c0 + u);
                for (int ii = 0; ii < ni; ii++) acc[ii] = fmaf(x[(size_t)(i0 + ii) * cols + c0 + u], z, acc[ii]);
            }
        }
        for (int ii = 0; ii < ni; ii++) {
            float s = qc_warp_sum(acc[ii]);
            if (lane == 0) y[(size_t)(i0 + ii) * rows + r] += s;
        }
    }
}
extern "C" cudaError_t qc_noise_matmul_acc(const QcNoise *k, const float *x, int m, int rows, int cols, float *y,
                                           cudaStream_t st) {
    if (m > 0 && rows > 0) k_noise_matmul_acc<<<qc_blocks((size_t)rows, 8), 256, 0, st>>>(*k, x, m, rows, cols, y);
    return QC_LAUNCHED();
}

// ---- bench helpers ----
__device__ __forceinline__ uint64_t qc_splitmix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
__global__ void k_fill_random(uint64_t *p, size_t n8, uint64_t seed) {
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < n8; j += (size_t)gridDim.x * blockDim.x)
        p[j] = qc_splitmix(seed ^ (j * 0x2545F4914F6CDD1Dull));
}
__global__ void k_fill_normal(float *p, size_t n, float std, uint64_t seed) {
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < n; j += (size_t)gridDim.x * blockDim.x) {
        uint64_t r = qc_splitmix(seed ^ (j * 0x2545F4914F6CDD1Dull));
        // Sum of 4 uniforms, centred and scaled to unit variance: close enough to normal for benchmarks.
        float s = 0;
        for (int u = 0; u < 4; u++) s += (float)((r >> (16 * u)) & 0xffff) * (1.0f / 65536.0f);
        p[j] = (s - 2.0f) * 1.7320508f * std;
    }
}
__global__ void k_convert(const float *src, void *dst, int fmt, size_t n) {
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < n; j += (size_t)gridDim.x * blockDim.x) {
        if (fmt == QC_F32) ((float *)dst)[j] = src[j];
        else if (fmt == QC_F16) ((uint16_t *)dst)[j] = qc_f32_f16(src[j]);
        else ((uint16_t *)dst)[j] = qc_f32_bf16(src[j]);
    }
}

extern "C" cudaError_t qc_fill_random(void *p, size_t bytes, uint64_t seed, cudaStream_t st) {
    if (bytes / 8) k_fill_random<<<grid_for(bytes / 8), 256, 0, st>>>((uint64_t *)p, bytes / 8, seed);
    if (bytes % 8) {
        cudaError_t r = cudaMemsetAsync((char *)p + bytes / 8 * 8, 0x5a, bytes % 8, st);
        if (r != cudaSuccess) return r;
    }
    return QC_LAUNCHED();
}
extern "C" cudaError_t qc_fill_normal_f32(float *p, size_t n, float std, uint64_t seed, cudaStream_t st) {
    if (n) k_fill_normal<<<grid_for(n), 256, 0, st>>>(p, n, std, seed);
    return QC_LAUNCHED();
}
extern "C" cudaError_t qc_convert_f32(const float *src, void *dst, int fmt, size_t n, cudaStream_t st) {
    if (fmt != QC_F32 && fmt != QC_F16 && fmt != QC_BF16) return cudaErrorInvalidValue;
    if (n) k_convert<<<grid_for(n), 256, 0, st>>>(src, dst, fmt, n);
    return QC_LAUNCHED();
}
