// Weight noise: Gaussian N(0, level^2) or uniform U(-level, level) added to
// model parameters, reproducible bit for bit.
//
// The noise of element i of tensor T is a pure function of (seed, T's name, i):
// no state, no stream, so any thread count, any traversal order, a kernel that
// needs only one tile of a matrix, and (later) the CUDA backend all get the same
// bits. i is the row-major index of the element in the tensor's logical float
// layout, as the tensor is stored in its Hugging Face checkpoint (for a Linear
// weight [out, in]: i = row * in + col), whatever the in-memory or quantized
// packing is.
//
// Exact algorithm (everything below is IEEE-754 binary32 with round to nearest
// even; fma is a fused multiply-add with one rounding; no other rounding mode,
// no contraction, no library transcendental, so the result is specified to the
// bit):
//
//   key   = qr_key64(seed, {tensor_name})                    (attacks/rng.h)
//   block = i / 4, lane = i % 4
//   x[0..3] = Philox4x32-10(counter = {block & 0xffffffff, block >> 32, 0, 0},
//                           key = {key & 0xffffffff, key >> 32})
//
//   uniform: k = x[lane] >> 8                               (24 bits)
//            v = (float)(2k + 1 - 2^24) * 2^-24              (exact, odd multiples of
//                                                             2^-24 in (-1, 1), mean 0)
//            noise = level * v
//
//   gaussian (Box-Muller; lanes 0,1 use x[0],x[1]; lanes 2,3 use x[2],x[3]):
//            m  = (x[a] >> 8) + 1                            (integer in [1, 2^24])
//            u1 = m * 2^-24 in (0, 1];  ln u1 = qr_noise_ln_u(m) (below)
//            R  = sqrt(-2 * ln u1)
//            k2 = x[a+1] >> 8;  theta = 2 pi k2 / 2^24 in [0, 2 pi)
//            (c, s) = qr_noise_cossin(k2) (below)
//            lane a: z = R * c;  lane a+1: z = R * s
//            noise = level * z
//
//   qr_noise_ln_u(m): e = floor(log2 m); f = m * 2^-e in [1, 2) (exact);
//            if f > 0x1.6a09e6p+0 (sqrt 2): f = f / 2, e = e + 1  (exact)
//            s = (f - 1) / (f + 1); t = s * s
//            p = fma(t, 1/11, 1/9); p = fma(t, p, 1/7); p = fma(t, p, 1/5);
//            p = fma(t, p, 1/3); p = fma(t, p, 1)       (ln f = 2 atanh s)
//            ln u1 = fma((float)(e - 24), LN2, (s + s) * p)
//            with the float constants written in hex in noise.c.
//
//   qr_noise_cossin(k2): q = k2 >> 22 (quadrant), r = k2 & (2^22 - 1);
//            if r <= 2^21: t = (float)r * (pi / 2^23), (c, s) = (cos t, sin t)
//            else:         t = (float)(2^22 - r) * (pi / 2^23), (c, s) = (sin t, cos t)
//            on [0, pi/4]: sin t = fma(t*t2, S(t2), t), cos t = fma(t2, C(t2), 1),
//            S, C: Taylor polynomials to t^9 and t^10 in Horner form with fma;
//            then rotate by q quarter turns: q=1: (-s, c), q=2: (-c, -s), q=3: (s, -c).
//
// Accuracy: ln and sin/cos are within a few ulp of the true functions; the
// Gaussian tails stop at R = sqrt(2 * 24 ln 2) = 5.77 sigma (u1 >= 2^-24),
// which changes the variance by less than 1e-6 relative.
//
// Where the noise goes is the target (see qr_noise_site below). Applying noise
// in place and then adding it with sign -1 restores the weights up to one
// rounding per element; reload the checkpoint for exact restoration.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "util/err.h"
#include "weights/tensor.h"

typedef enum { QR_NOISE_GAUSSIAN = 0, QR_NOISE_UNIFORM = 1 } QrNoiseDist;

// Targets: which parameters get noise and where (recorded with every result).
//   all              every parameter: float tensors in place; quantized weights
//                    on their dequantized values inside the matmul kernels.
//                    For a full-precision model: every floating-point parameter.
//   unquantized-only only the tensors the quantizer leaves in floating point
//                    (embeddings, norms, output head, biases). This is what the
//                    study's harness effectively perturbed in bitsandbytes
//                    models, whose quantized weights do not require gradients.
//   pre-quant        only the weights the quantizer quantizes, noise added to
//                    their float values before quantization.
//   post-quant       only the weights the quantizer quantizes, noise added to
//                    their dequantized values inside the matmul kernels (nothing
//                    stored).
// So for a quantized model all = unquantized-only + post-quant, and pre-quant
// vs post-quant isolates where the noise enters the quantized layers. For a
// full-precision model there is no quantization: pre-quant and post-quant
// both perturb, in place, the same weights that a quantized model would have
// quantized.
typedef enum {
    QR_NOISE_ALL = 0,
    QR_NOISE_UNQUANTIZED_ONLY = 1,
    QR_NOISE_PRE_QUANT = 2,
    QR_NOISE_POST_QUANT = 3,
} QrNoiseTarget;

// Where the noise of one tensor goes.
typedef enum {
    QR_NOISE_SKIP = 0,         // this tensor gets no noise
    QR_NOISE_IN_PLACE = 1,     // add to the float values now (qr_noise_add_f32)
    QR_NOISE_BEFORE_QUANT = 2, // add to the float values, then quantize them
    QR_NOISE_IN_KERNEL = 3,    // add to the dequantized values in the matmul
} QrNoiseSite;

typedef struct {
    QrNoiseDist dist;
    float level; // standard deviation (gaussian) or half-width (uniform)
    uint64_t seed;
    QrNoiseTarget target;
} QrNoiseSpec;

// Everything a kernel needs to generate one tensor's noise (copy it freely).
typedef struct {
    uint32_t key[2];
    QrNoiseDist dist;
    float level;
} QrNoiseKey;

// quantizable: the quantizer in use would quantize this tensor (a Linear weight
// that int8/nf4 replace). model_quantized: the model runs with quantized
// weights (int8 or nf4), as opposed to full precision.
QrNoiseSite qr_noise_site(QrNoiseTarget t, int quantizable, int model_quantized);

int qr_noise_parse_dist(const char *s, QrNoiseDist *out, QrErr *e);
int qr_noise_parse_target(const char *s, QrNoiseTarget *out, QrErr *e);
const char *qr_noise_dist_name(QrNoiseDist d);
const char *qr_noise_target_name(QrNoiseTarget t);

void qr_noise_key(QrNoiseKey *k, const QrNoiseSpec *s, const char *tensor_name);

// The noise of elements 4*block .. 4*block+3 (already multiplied by level).
void qr_noise_block(const QrNoiseKey *k, uint64_t block, float out[4]);
// The noise of element i.
float qr_noise_at(const QrNoiseKey *k, uint64_t i);
// out[j] = noise of element start + j, for j < n. Single-threaded (callers
// inside kernels already run in parallel).
void qr_noise_fill(const QrNoiseKey *k, uint64_t start, size_t n, float *out);
// w[j] += sign * noise(start + j) for j < n (sign = +1 to apply, -1 to undo).
// Parallel over OpenMP threads; the result does not depend on the thread count.
void qr_noise_add_f32(const QrNoiseKey *k, uint64_t start, float *w, size_t n, int sign);
// The same on a buffer of dtype F32, F16 or BF16 (weights/tensor.h): 16-bit
// elements become round_to_dtype(value + sign * noise). -1 for other dtypes.
int qr_noise_add(const QrNoiseKey *k, uint64_t start, void *w, QrDType dt, size_t n, int sign);

// The two building blocks of the Gaussian transform, exposed for tests and for
// the CUDA port (see the specification above).
float qr_noise_ln_u(uint32_t m);                  // ln(m * 2^-24), m in [1, 2^24]
void qr_noise_cossin(uint32_t k2, float *c, float *s); // cos, sin of 2 pi k2 / 2^24

// The noise term of a layer whose weights get noise on their dequantized
// values (QR_NOISE_IN_KERNEL): y[i, r] += sum_c x[i, c] * noise(r * cols + c)
// for x [m, cols], y [m, rows]. Since a matmul is linear, a quantized kernel's
// output plus this term is the product with (dequantized W + N): the post-quant
// semantics, whatever the kernel, without storing N. Each output sums over c
// in ascending order (double accumulator); OpenMP over rows, one noise row
// generated per output row and reused for the m activation rows.
void qr_noise_matmul_acc(const QrNoiseKey *k, const float *x, int64_t m, int64_t rows, int64_t cols, float *y);
