#include "kernels/ops.h"
#include <math.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

// One row: the mean square as eight double partial sums (lane k: elements
// j = k mod 8) added as a tree: a fixed order that pipelines, where one
// running sum was a chain of dependent adds. With the scaling loop vectorized
// too, 4.0 -> 0.5 us per 2048-wide row, two rows per layer and decoded token.
// The float squares are exact in double, so fma and add agree.
static void rmsnorm_row(float *o, const float *xr, const float *w, int dim, float eps) {
    double s8[8] = {0};
    int j = 0;
#ifdef __AVX2__
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd(); // lanes 0-3, 4-7
    for (; j + 8 <= dim; j += 8) {
        const __m256 v = _mm256_loadu_ps(xr + j);
        const __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        lo = _mm256_fmadd_pd(a, a, lo);
        hi = _mm256_fmadd_pd(b, b, hi);
    }
    _mm256_storeu_pd(s8, lo);
    _mm256_storeu_pd(s8 + 4, hi);
#endif
    for (; j + 8 <= dim; j += 8)
        for (int k = 0; k < 8; k++) s8[k] += (double)xr[j + k] * xr[j + k];
    for (; j < dim; j++) s8[j & 7] += (double)xr[j] * xr[j];
    const double ss = ((s8[0] + s8[4]) + (s8[2] + s8[6])) + ((s8[1] + s8[5]) + (s8[3] + s8[7]));
    float var = (float)(ss / dim);
    float inv = 1.0f / sqrtf(var + eps);
    j = 0;
#ifdef __AVX2__
    const __m256 vi = _mm256_set1_ps(inv); // GCC left this loop scalar (o may alias x)
    for (; j + 8 <= dim; j += 8)
        _mm256_storeu_ps(o + j, _mm256_mul_ps(_mm256_loadu_ps(w + j), _mm256_mul_ps(_mm256_loadu_ps(xr + j), vi)));
#endif
    for (; j < dim; j++) o[j] = w[j] * (xr[j] * inv);
}

void qr_rmsnorm(float *out, const float *x, const float *w, int n, int dim, float eps) {
    if (n <= 4) { // a decode step: no parallel region (an if(0) one still costs a team)
        for (int r = 0; r < n; r++) rmsnorm_row(out + (size_t)r * dim, x + (size_t)r * dim, w, dim, eps);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int r = 0; r < n; r++) rmsnorm_row(out + (size_t)r * dim, x + (size_t)r * dim, w, dim, eps);
}

void qr_layernorm(float *out, const float *x, const float *w, const float *b, int n, int dim, float eps) {
#pragma omp parallel for schedule(static) if (n > 4)
    for (int r = 0; r < n; r++) {
        const float *xr = x + (size_t)r * dim;
        float *o = out + (size_t)r * dim;
        double s = 0, ss = 0;
        for (int j = 0; j < dim; j++) s += xr[j];
        double mean = s / dim;
        for (int j = 0; j < dim; j++) ss += (xr[j] - mean) * (xr[j] - mean);
        float m = (float)mean, inv = (float)(1.0 / sqrt(ss / dim + eps));
        for (int j = 0; j < dim; j++) o[j] = (xr[j] - m) * inv * w[j] + b[j];
    }
}

void qr_rope(float *x, int n, int n_heads, int head_dim, int rope_dim, const int *pos, const float *inv_freq,
             int interleaved) {
    int half = rope_dim / 2;
    for (int r = 0; r < n; r++) {
        float c[512], s[512]; // rope_dim <= 1024 is checked at config time
        for (int j = 0; j < half; j++) {
            float ang = (float)pos[r] * inv_freq[j];
            c[j] = cosf(ang);
            s[j] = sinf(ang);
        }
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)r * n_heads + h) * head_dim;
            if (interleaved)
                for (int j = 0; j < half; j++) {
                    float a = v[2 * j], b = v[2 * j + 1];
                    v[2 * j] = a * c[j] - b * s[j];
                    v[2 * j + 1] = a * s[j] + b * c[j];
                }
            else
                for (int j = 0; j < half; j++) {
                    float a = v[j], b = v[j + half];
                    v[j] = a * c[j] - b * s[j];
                    v[j + half] = b * c[j] + a * s[j];
                }
        }
    }
}

void qr_rope_freqs(float *inv_freq, int rope_dim, double theta, int type, double factor, double low_freq_factor,
                   double high_freq_factor, int orig_max_pos) {
    int half = rope_dim / 2;
    for (int j = 0; j < half; j++) {
        // transformers: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), all float32.
        float ex = (float)(2 * j) / (float)rope_dim;
        inv_freq[j] = 1.0f / powf((float)theta, ex);
    }
    if (type == 1) {
        for (int j = 0; j < half; j++) inv_freq[j] = inv_freq[j] / (float)factor;
    } else if (type == 2) {
        // transformers _compute_llama3_parameters: long wavelengths are slowed
        // by `factor`, short ones kept, the band between interpolated.
        float low_wl = (float)orig_max_pos / (float)low_freq_factor;
        float high_wl = (float)orig_max_pos / (float)high_freq_factor;
        for (int j = 0; j < half; j++) {
            float f = inv_freq[j];
            float wl = 2.0f * (float)M_PI / f;
            float scaled = wl > low_wl ? f / (float)factor : f;
            if (!(wl < high_wl) && !(wl > low_wl)) {
                float smooth = ((float)orig_max_pos / wl - (float)low_freq_factor) /
                               ((float)high_freq_factor - (float)low_freq_factor);
                scaled = (1.0f - smooth) * scaled / (float)factor + smooth * scaled;
            }
            inv_freq[j] = scaled;
        }
    }
}

void qr_silu_mul(float *a, const float *b, size_t n) {
    // Element-wise, so threads never change a bit. One decode row of a 1.3B
    // model (5504) took 30 us alone while the other thread waited: 0.7 ms of a
    // ~35 ms token over 24 layers.
#pragma omp parallel for schedule(static) if (n > 4096)
    for (size_t i = 0; i < n; i++) a[i] = a[i] / (1.0f + expf(-a[i])) * b[i];
}

void qr_gelu_tanh(float *a, size_t n) {
    const float k = 0.7978845608028654f; // sqrt(2 / pi)
    // element-wise: the thread count never changes a bit
#pragma omp parallel for schedule(static) if (n > 32768)
    for (size_t i = 0; i < n; i++) {
        float x = a[i];
        a[i] = 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
    }
}

void qr_gelu(float *a, size_t n) {
#pragma omp parallel for schedule(static) if (n > 32768)
    for (size_t i = 0; i < n; i++) a[i] = 0.5f * a[i] * (1.0f + erff(a[i] * 0.70710678118654752f));
}

void qr_add(float *y, const float *x, size_t n) {
    size_t i = 0;
#ifdef __AVX2__
    // GCC kept this scalar (x may alias y): 2048 adds took 0.5 us, 0.1 ms per token
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
#endif
    for (; i < n; i++) y[i] += x[i];
}

void qr_softmax(float *x, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    float sum = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = 1.0f / sum;
    for (int i = 0; i < n; i++) x[i] *= inv;
}
