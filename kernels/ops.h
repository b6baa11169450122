// Row-wise and element-wise operations of the transformer blocks (f32), with
// the exact arithmetic order of the Hugging Face reference noted where it
// matters for matching its logits.
#pragma once
#include <stddef.h>

// out[r] = w * (x[r] * rsqrt(mean(x[r]^2) + eps)) for n rows of dim (LlamaRMSNorm).
// The mean of squares is accumulated in double; out may alias x.
void qr_rmsnorm(float *out, const float *x, const float *w, int n, int dim, float eps);

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

// y[i] += x[i]
void qr_add(float *y, const float *x, size_t n);

// In-place softmax of n values; returns nothing. Max-subtracted, sum in order.
void qr_softmax(float *x, int n);

// out[r] = (x[r] - mean) / sqrt(var + eps) * w + b for n rows of dim
// (torch.nn.LayerNorm: biased variance). Mean and variance are accumulated in
// double; b may be NULL (no bias); out may alias x.
void qr_layernorm(float *out, const float *x, const float *w, const float *b, int n, int dim, float eps);

// Activation functions by transformers' ACT2FN names.
typedef enum {
    QR_ACT_GELU = 0,  // "gelu": x/2 (1 + erf(x/sqrt 2)) (exact, nn.functional.gelu)
    QR_ACT_GELU_TANH, // "gelu_new", "gelu_pytorch_tanh", "gelu_fast": the tanh approximation
    QR_ACT_RELU,      // "relu"
    QR_ACT_SILU,      // "silu", "swish"
} QrAct;
// 0 and *a set for a known name, -1 otherwise.
int qr_act_from_name(const char *name, QrAct *a);
const char *qr_act_name(QrAct a);
// x[i] = act(x[i]) for n values.
void qr_act(QrAct a, float *x, size_t n);
