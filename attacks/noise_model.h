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
#include "runtime/qlinear.h"

// model_quantized: the run uses int8/nf4 block linears. By site:
//   IN_PLACE      float values += noise (the layer must be float);
//   BEFORE_QUANT  the same on a block linear that is still float: call this
//                 BEFORE qr_model_quantize (pre-quant: load float, noise,
//                 quantize); a layer already quantized (e.g. a checkpoint
//                 saved by bitsandbytes) is an error;
//   IN_KERNEL     the quantized layer gets the term y += x N^T in its forward
//                 (qr_noise_matmul_acc; QrQLinear.extra): call AFTER
//                 qr_model_quantize; sign -1 removes the term exactly.
// *n_elems counts the elements changed in place, *n_kernel those perturbed in
// the kernels (either may be NULL). The kernel term regenerates the layer's
// noise at every forward call: cheap on a GPU, costly on the CPU (bench_noise
// gives the rate).
int qr_noise_model(QrModel *m, const QrNoiseSpec *s, int model_quantized, int sign, int64_t *n_elems,
                   int64_t *n_kernel, QrErr *e);

// The noise key of a quantized layer that carries the post-quant term
// (QR_NOISE_IN_KERNEL), or NULL: lets another backend (the CUDA kernels) fuse
// the same noise into its own dequantization.
const QrNoiseKey *qr_noise_kernel_key(const QrLinear *L);
