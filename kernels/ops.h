// Row-wise and element-wise operations of the transformer blocks (f32), with
// the exact arithmetic order of the Hugging Face reference noted where it
// matters for matching its logits.
#pragma once
#include <stddef.h>

// out[r] = w * (x[r] * rsqrt(mean(x[r]^2) + eps)) for n rows of dim (LlamaRMSNorm).
// The mean of squares is accumulated in double; out may alias x.
void qr_rmsnorm(float *out, const float *x, const float *w, int n, int dim, float eps);

// out[r] = (x[r] - mean) * rsqrt(var + eps) * w + b for n rows of dim
// (torch.nn.LayerNorm: biased variance). Moments in double; out may alias x.
void qr_layernorm(float *out, const float *x, const float *w, const float *b, int n, int dim, float eps);

// Rotary embedding of n rows, each holding n_heads heads of head_dim, in place.
// The first rope_dim dims of each head rotate; angle_j = (float)pos * inv_freq[j].
// interleaved: pairs (2j, 2j+1); otherwise pairs (j, j + rope_dim/2) (rotate_half).
void qr_rope(float *x, int n, int n_heads, int head_dim, int rope_dim, const int *pos, const float *inv_freq,
             int interleaved);

// Frequencies for rope_dim rotated dims as HF computes them in float32:
// inv_freq[j] = 1 / theta^((2j)/rope_dim), then the rope_scaling rule.
// type: 0 default, 1 linear (inv_freq / factor), 2 llama3 (wavelength bands).
void qr_rope_freqs(float *inv_freq, int rope_dim, double theta, int type, double factor, double low_freq_factor,
                   double high_freq_factor, int orig_max_pos);

// a[i] = silu(a[i]) * b[i] = a / (1 + exp(-a)) * b  (SwiGLU)
void qr_silu_mul(float *a, const float *b, size_t n);

// a[i] = gelu(a[i]) with the tanh approximation, transformers' gelu_new and
// gelu_pytorch_tanh: 0.5 a (1 + tanh(sqrt(2/pi) (a + 0.044715 a^3))).
void qr_gelu_tanh(float *a, size_t n);
// a[i] = gelu(a[i]) = 0.5 a (1 + erf(a / sqrt(2)))  (nn.GELU, "gelu")
void qr_gelu(float *a, size_t n);

// y[i] += x[i]
void qr_add(float *y, const float *x, size_t n);

// In-place softmax of n values; returns nothing. Max-subtracted, sum in order.
void qr_softmax(float *x, int n);
