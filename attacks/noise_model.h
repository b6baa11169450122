// Weight noise on a loaded model (runtime/model.h): walks the model's parameter
// list and perturbs, in place, every tensor whose site for the target
// (qr_noise_site, attacks/noise.h) is QR_NOISE_IN_PLACE. A parameter is
// "quantizable" when it is a block linear layer (QrParam.block_linear: what
// bitsandbytes quantizes); embeddings, norms, biases and the output head stay
// float.
//
// Float weights are made owned (copied out of the checkpoint mapping, once)
// and the noise is added in their stored format: f32 exactly w + n; f16/bf16
// as round(w + n) to that format, so noise much smaller than the format's
// resolution is partly rounded away (load the model with f32 weights to keep
// it). Calling again with sign -1 subtracts the same noise (restores up to one
// rounding per element; reload for exact restoration).
#pragma once
#include <stdint.h>
#include "attacks/noise.h"
#include "runtime/model.h"

// model_quantized: the model runs with int8/nf4 block linears. Parameters whose
// site is BEFORE_QUANT or IN_KERNEL are not touched here (the quantizer and the
// quantized layers apply those); *n_elems counts the elements perturbed here,
// *n_deferred the elements left to the quantizer/kernels (either may be NULL).
int qr_noise_model(QrModel *m, const QrNoiseSpec *s, int model_quantized, int sign, int64_t *n_elems,
                   int64_t *n_deferred, QrErr *e);
