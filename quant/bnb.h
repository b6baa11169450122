// The numeric building blocks of bitsandbytes' quantization, reproduced bit for
// bit (reference: bitsandbytes 0.50.2 running on its CPU backend, torch 2.x on
// an AVX2 CPU; tests/test_quant_bnb.c checks every piece against fixtures that
// tools/quant_fixtures.py writes with the real library).
//
//   qr_nf4_code         the 16 NF4 levels (functional.get_4bit_type("nf4"))
//   qr_bnb_dynamic_map  the 256-entry signed dynamic 8-bit code
//                       (functional.create_dynamic_map(signed=True)), used by
//                       double quantization for the NF4 block scales
//   qr_torch_sum_f32    torch's CPU float32 sum, in its exact summation order:
//                       the double-quant offset is `absmax.mean()` in torch
//   qr_bnb_quantize_blockwise8  the CPU kernel behind
//                       functional.quantize_blockwise (8-bit, any code)
//
// Where bitsandbytes' CUDA kernels round differently from its CPU backend this
// code follows the CPU backend (the only one that can be checked on a machine
// without a GPU); README.md "Quantization" lists the differences.
#pragma once
#include <stdint.h>

#define QR_NF4_BLOCK 64     // Params4bit default blocksize
#define QR_NF4_BLOCK2 256   // blocksize of the nested (double) quantization

// NF4 levels, ascending: index 7 is 0.0, index 15 is 1.0. Published constants
// (QLoRA, arXiv 2305.14314; bitsandbytes functional.get_4bit_type).
extern const float qr_nf4_code[16];

// Fills map[256] with bitsandbytes' create_dynamic_map(signed=True,
// max_exponent_bits=7, total_bits=8), computed the way bitsandbytes computes
// it (torch.linspace in float32, float32 products), ascending.
void qr_bnb_dynamic_map(float map[256]);

// Sum of n floats in the order torch's CPU kernel (aten SumKernel.cpp
// cascade_sum, 8-float vectors, one thread) adds them, so the result is
// bit-identical to torch.sum / torch.mean on a contiguous float32 tensor.
float qr_torch_sum_f32(const float *x, int64_t n);

// Blockwise 8-bit quantization as bitsandbytes' CPU kernel does it
// (csrc/cpu_ops.cpp quantize_cpu): per block of `blocksize` values
// absmax = max |a| (0 for an all-zero block, whose codes are then all 0),
// each a * (1/absmax) is clamped to [-1, 1], mapped to one of 65536 grid
// points and through a lookup table to the nearest code of the sorted
// 256-entry `code`. out[n], absmax[ceil(n/blocksize)].
void qr_bnb_quantize_blockwise8(const float code[256], const float *a, int64_t n, int64_t blocksize,
                                uint8_t *out, float *absmax);
