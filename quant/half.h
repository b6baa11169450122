// Rounding float32 values to the half types, as float32 (the value a torch
// float16 / bfloat16 tensor holds): round to nearest even, via the
// conversions in weights/tensor.h (F16C when the build has it).
#pragma once
#include "weights/tensor.h"

static inline float qr_round_half(float f) { return qr_f16_to_f32(qr_f32_to_f16(f)); }
static inline float qr_round_bf16(float f) { return qr_bf16_to_f32(qr_f32_to_bf16(f)); }
