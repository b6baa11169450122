// Quantized linear layers: the NF4 and LLM.int8 cases of QrLinear
// (runtime/linear.h), created either by quantizing a float layer on load,
// exactly as transformers + bitsandbytes would, or from a checkpoint that
// transformers + bitsandbytes saved (save_pretrained after load_in_4bit /
// load_in_8bit):
//
//   NF4 (double quant):  <m>.weight                     U8 [ceil(out*in/2), 1]
//                        <m>.weight.absmax              U8 [nblocks]
//                        <m>.weight.quant_map           F32 [16]
//                        <m>.weight.nested_absmax       F32 [ceil(nblocks/256)]
//                        <m>.weight.nested_quant_map    F32 [256]
//                        <m>.weight.quant_state.bitsandbytes__nf4  U8: JSON
//                          {"quant_type", "blocksize", "dtype", "shape",
//                           "nested_blocksize", "nested_dtype", "nested_offset"}
//   LLM.int8:            <m>.weight I8 [out, in], <m>.SCB F32 [out],
//                        <m>.weight_format U8 [] (0 = row-major)
// and config.json carries "quantization_config" {"quant_method":
// "bitsandbytes", "load_in_4bit"/"load_in_8bit", ...}.
//
// Which layers: every linear layer of the blocks (QrParam.block_linear);
// embeddings, norms and the output head keep their precision (transformers
// skips lm_head by default).
#pragma once
#include <stdint.h>
#include "kernels/nf4_matmul.h"
#include "quant/int8.h"
#include "quant/nf4.h"
#include "runtime/linear.h"
#include "util/err.h"
#include "weights/checkpoint.h"

// How to quantize and compute. A zeroed struct means "no quantization"; fields
// not marked set take the checkpoint's quantization_config for a pre-quantized
// checkpoint, else the study's settings (transformers' BitsAndBytesConfig
// defaults: threshold 6.0; NF4 compute float32).
typedef struct {
    QrWeightFormat fmt;    // QR_WF_NF4 or QR_WF_INT8 (anything else: no quantization)
    float int8_threshold;  // llm_int8_threshold; 0 = pure int8 (no outlier columns)
    int set_threshold;     // int8_threshold given
    QrComputeType compute; // bnb_4bit_compute_dtype for NF4
    int set_compute;       // compute given
} QrQuantOpts;

// What a QrLinear of format NF4 / INT8 keeps in L->q.
typedef struct {
    QrNF4 nf4;
    QrInt8 int8;
    float threshold;
    QrComputeType compute;
    void *owned_aux; // copies of small checkpoint arrays (aligned), freed with the layer
    // An extra term added to the kernel's product, before the bias: post-quant
    // weight noise sets it (attacks/noise_model.h: y += x N^T, N generated on
    // the fly, never stored). NULL: none. extra_ctx points into extra_data,
    // which holds the term's parameters and lives as long as the layer.
    void (*extra)(const void *ctx, const float *x, int n, int out, int in, float *y);
    const void *extra_ctx;
    uint64_t extra_data[4];
} QrQLinear;

// Replaces a float layer's weight by its quantized form (fmt from o).
int qr_linear_quantize(QrLinear *L, const QrQuantOpts *o, QrErr *e);
// y[n, out] = x[n, in] W^T (+ bias) for NF4 / INT8 layers.
void qr_qlinear_forward(const QrLinear *L, const float *x, int n, float *y);
// NF4 linears sharing x in one pass (qr_nf4_matmul_multi), each with its
// post-quantization noise; returns -1 (nothing done) unless all k <= 4 are
// NF4 with one compute type.
int qr_qlinear_forward_multi(const QrLinear *const *L, int k, const float *x, int n, float *const *y);
// Bytes of the quantized representation read per forward.
size_t qr_qlinear_bytes(const QrLinear *L);
// Applies the set fields of o (threshold, compute dtype) to a quantized layer.
void qr_qlinear_set_opts(QrLinear *L, const QrQuantOpts *o);

// The bitsandbytes quantization a checkpoint's config.json declares:
// o->fmt is QR_WF_NF4 / QR_WF_INT8, or QR_WF_F32 when it declares none.
// Unsupported variants (fp4, NF4 without double quant, blocksize != 64) are
// errors naming config.json and the field.
int qr_bnb_config(const QrCheckpoint *ck, QrQuantOpts *o, QrErr *e);

// A linear layer from checkpoint tensor t ([out, in] as the config implies):
// float tensors as qr_linear_from_tensor does; bitsandbytes-quantized ones
// (U8 packed NF4 or I8 LLM.int8, with their companion tensors) as views into
// the checkpoint. Every architecture's loader calls this for its linears.
int qr_linear_load(QrLinear *L, const QrCheckpoint *ck, const QrTensor *t, int out, int in, QrErr *e);

// Quantizes every block linear layer of a loaded model (o->fmt NF4 / INT8), or
// applies o's threshold / compute dtype to layers that are already quantized.
// A model already quantized in another format is an error.
struct QrModel;
int qr_model_quantize(struct QrModel *m, const QrQuantOpts *o, QrErr *e);
// The quantized format of a model's block linears (QR_WF_F32.. if none).
QrWeightFormat qr_model_quant_format(const struct QrModel *m);
