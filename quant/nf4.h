// NF4 with double quantization, exactly as bitsandbytes' Params4bit stores a
// linear weight when transformers loads a model with
// BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
// bnb_4bit_use_double_quant=True).
//
// The [rows, cols] weight is flattened row-major and cut into blocks of 64
// consecutive elements (a block may span two rows when cols % 64 != 0; the
// last block may be shorter). Per block:
//   absmax = max |w|                     (a short last block stores max(absmax, 1e-38))
//   code   = NF4 level nearest to w * (1/absmax) (w / absmax in a short last
//            block); a value exactly on a midpoint takes the LOWER level
//   two codes per byte, the first element in the HIGH nibble; an odd element
//            count is padded with the code of 0.0 (7)
// Double quantization of the absmax vector:
//   offset   = mean(absmax)              (torch's float32 summation order)
//   absmax_q = 8-bit signed dynamic code of (absmax - offset), blocks of 256
//   absmax2  = the fp32 scale of each 256-block
// Reconstruction: scale = code2[absmax_q] * absmax2 + offset (two float32
// roundings, no FMA), w = code[q] * scale.
#pragma once
#include <stdint.h>
#include "quant/bnb.h"
#include "util/err.h"

typedef struct {
    int64_t rows, cols;       // the weight's [out, in] shape
    int64_t nblocks;          // ceil(rows*cols / 64)
    int64_t nblocks2;         // ceil(nblocks / 256)
    const uint8_t *packed;    // [ceil(rows*cols / 2)] NF4 codes, first element in the high nibble
    const uint8_t *absmax_q;  // [nblocks] dynamic-map codes of (absmax - offset)
    const float *absmax2;     // [nblocks2] scale of each group of 256 absmax codes
    float offset;             // mean of the absmax values
    float code[16];           // quant_map: the NF4 levels
    float code2[256];         // nested_quant_map: the signed dynamic map
    void *owned;              // the allocation behind the arrays when qrobust quantized; NULL for a view
} QrNF4;

// Quantizes w[rows*cols] (row-major float32; bf16/f16 weights converted
// exactly beforehand). Fails on a non-finite weight (naming its index) or out
// of memory; q is then left empty.
int qr_nf4_quantize(QrNF4 *q, const float *w, int64_t rows, int64_t cols, QrErr *e);
void qr_nf4_free(QrNF4 *q);

// First stage alone: packed[ceil(n/2)] codes and the plain absmax[ceil(n/64)].
void qr_nf4_quantize_blocks(const float *w, int64_t n, uint8_t *packed, float *absmax);

// The float32 scales of blocks [first, first+n): code2[absmax_q[i]] *
// absmax2[i/256] + offset. (Out of line on purpose: compiled where no FMA
// contraction can merge the two roundings.)
void qr_nf4_block_scales(const QrNF4 *q, int64_t first, int64_t n, float *scale);

// Dequantized weights out[rows*cols] (float32: code * scale).
void qr_nf4_dequantize(const QrNF4 *q, float *out);
