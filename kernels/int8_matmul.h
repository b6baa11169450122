// LLM.int8 linear layers on the CPU: y[m, rows] = x[m, cols] . W^T, W an
// LLM.int8 weight (quant/int8.h), with bitsandbytes' mixed decomposition:
//
//   x16  = float16(x); outlier columns: any row with |x16| >= threshold
//   int8 part:    acc = sum_c q_x[i,c] * W[o,c] over the other columns (int32,
//                 exact), rescaled ((float)acc * SCA[i]) * SCB[o] * (1/127^2)
//   outlier part: sum over outlier columns c, in column order, of
//                 x16[i,c] * float16((W[o,c] * SCB[o]) * (1/127)), float32
//   y = int8 part + outlier part (float32; qrobust computes in float32, so the
//       float16 rounding bitsandbytes applies to y in a float16 model is not done)
//
// threshold 6.0 is transformers' llm_int8_threshold default; 0 = pure int8.
//
//   qr_int8_matmul_ref  scalar reference, computed on the fly (no allocation)
//   qr_int8_matmul      AVX2 (u8 x s8 multiply-adds into int32) + OpenMP;
//                       bit-identical to the reference: the integer sums are
//                       exact and the float epilogue is the same code. Never
//                       fails: without scratch memory it computes the reference.
//
// Note the decomposition is batch-dependent by design (bitsandbytes too): the
// outlier columns are those of the whole x, so a row's result can change with
// the other rows of its batch when threshold > 0.
#pragma once
#include <stdint.h>
#include "quant/int8.h"

#define QR_INT8_THRESHOLD_DEFAULT 6.0f

void qr_int8_matmul_ref(const QrInt8 *w, const float *x, int64_t m, float threshold, float *y);
void qr_int8_matmul(const QrInt8 *w, const float *x, int64_t m, float threshold, float *y);
