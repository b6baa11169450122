// LLM.int8 (Dettmers et al., arXiv 2208.07339) as bitsandbytes implements it
// for transformers' load_in_8bit=True (Linear8bitLt, llm_int8_threshold 6.0).
//
// Weights (Int8Params._quantize): the weight is first cast to float16, then
// row-wise absmax quantized: SCB[r] = max_c |w16[r,c]|,
// W[r,c] = round_half_even(w16[r,c] * ((1 / SCB[r]) * 127)) in [-127, 127]
// (torch evaluates 127.0 / t as reciprocal(t) * 127; an all-zero row gives 0s).
//
// Activations (MatMul8bitLt.forward -> int8_vectorwise_quant(A.half(),
// threshold)): x is cast to float16; with threshold > 0 every element with
// |x16| >= threshold is an outlier and is left out of its row's absmax; the
// outlier COLUMNS (any row) are zeroed in the int8 matrix and computed
// separately. The int8 product is exact in int32 and rescaled as the CUDA
// kernel does it: ((float)acc * SCA[row]) * SCB[out] * (1/127^2).
#pragma once
#include <math.h>
#include <stdint.h>
#include "util/err.h"

typedef struct {
    int64_t rows, cols;  // the weight's [out, in] shape
    const int8_t *w;     // [rows, cols] row-major codes, each in [-127, 127]
    const float *scb;    // [rows] absmax of each float16-rounded row
    void *owned;         // allocation behind w and scb when qrobust quantized; NULL for a view
} QrInt8;

// Quantizes w[rows*cols] (float32). Fails on a non-finite weight or out of memory.
int qr_int8_quantize(QrInt8 *q, const float *w, int64_t rows, int64_t cols, QrErr *e);
void qr_int8_free(QrInt8 *q);
// Dequantized weights as bitsandbytes' int8_vectorwise_dequant computes them:
// (W * SCB) * (1/127), float32.
void qr_int8_dequantize(const QrInt8 *q, float *out);
// Checks that every code is in [-127, 127] (bitsandbytes never writes -128; the
// fast kernel relies on it). Returns -1 naming the first offending element.
int qr_int8_validate(const QrInt8 *q, QrErr *e);

// The float32 factor bitsandbytes' CUDA dequantization multiplies the int32
// accumulator by (csrc/kernels.cu MM_DEQUANT_CONST, 1/(127*127)). Its CPU
// fallback uses 6.200124e-05, a typo 1.8e-6 relative off; qrobust follows CUDA,
// which is what the study ran.
#define QR_INT8_DEQUANT_CONST 6.200012e-05f
// 1/127 as int8_vectorwise_dequant spells it.
#define QR_INT8_INV127 7.874015718698502e-3f

// torch: out = round(A * (127.0 / row_stats)).to(int8), where 127.0 / t is
// evaluated as reciprocal(t) * 127. A zero absmax gives 0 * inf = NaN, which
// the int8 cast turns into 0 on x86 (cvttss2si yields INT_MIN, low byte 0).
// (A division then a multiplication: nothing a compiler could fuse.)
static inline float qr_int8_row_scale(float absmax) {
    float r = 1.0f / absmax;
    return r * 127.0f;
}
static inline int8_t qr_int8_quant1(float v, float scale) {
    float p = v * scale;
    if (isnan(p)) return 0;
    return (int8_t)nearbyintf(p); // round half to even (the default rounding mode)
}

// Row-wise quantization of activations x[rows, cols] (float32) after the cast
// to float16. threshold <= 0: no outliers. outlier_col[cols] (may be NULL when
// threshold <= 0) receives 1 for outlier columns; the return value is their
// count. q[rows, cols] int8, stats[rows] the row absmax (outliers excluded).
int64_t qr_int8_quantize_act(const float *x, int64_t rows, int64_t cols, float threshold, int8_t *q,
                             float *stats, uint8_t *outlier_col);
