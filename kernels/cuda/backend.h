// The CUDA backend behind QrLoadOpts.device = QR_DEVICE_CUDA (issue 9).
//
// runtime/model.c calls these (only in a `make CUDA=1` build) at the three
// places where the CPU path does its own work: reserve (KV cache + scratch;
// the weights are uploaded once, on the first reserve, in their stored
// formats), forward, free. Everything else -- loading, conversion,
// quantization, host-side weight noise -- runs on the host as for the CPU, so
// the device executes exactly the model the CPU would.
//
// Supported: the llama architecture (LLaMA 1-3.x, DeepSeek-Coder, Qwen2) in
// f32 / f16 / bf16 / LLM.int8 / NF4 (+ post-quant noise fused into the
// kernels). Other architectures are refused at load with a clear message.
#pragma once
#include <stddef.h>
#include "attacks/noise.h"
#include "runtime/model.h"
#include "util/err.h"

// 0 if the CUDA backend can run m (architecture, device present); else a message.
int qr_cuda_check(const QrModel *m, QrErr *e);
// Uploads the weights (first call, or after qr_cuda_sync_weights) and sizes the
// device KV cache and scratch. m->kv.n_slots/max_seq/kv_dim and m->max_batch are set.
int qr_cuda_reserve(QrModel *m, QrErr *e);
// The forward pass of one chunk (b->n <= m->max_batch, validated by the caller):
// logits of the wanted rows, in batch order, copied to the host.
int qr_cuda_forward(QrModel *m, const QrBatch *b, float *logits, QrErr *e);
// Greedy sampling on the device: ids[j] = argmax of the j-th wanted row's logits
// (no logits cross to the host).
int qr_cuda_forward_argmax(QrModel *m, const QrBatch *b, int *ids, QrErr *e);
// Re-uploads the weights after the host copy changed (e.g. weight noise
// applied on the host after the first reserve).
int qr_cuda_sync_weights(QrModel *m, QrErr *e);
// Weight noise on the device copy, the same bits as attacks/noise_model.h on
// the host: in place for IN_PLACE sites; fused into the NF4 / int8 kernels
// for IN_KERNEL sites; BEFORE_QUANT is an error (apply it on the host before
// quantizing). *n_elems / *n_kernel as qr_noise_model.
int qr_cuda_noise(QrModel *m, const QrNoiseSpec *s, int model_quantized, int sign, int64_t *n_elems,
                  int64_t *n_kernel, QrErr *e);
void qr_cuda_free(QrModel *m);
// Bytes of weights on the device; the device's name (for reports).
size_t qr_cuda_weight_bytes(const QrModel *m);
const char *qr_cuda_device_name(const QrModel *m);
// Copies the device KV cache of one layer to k/v ([n_slots][max_seq][kv_dim]
// floats each: the device's layout, not the CPU cache's per-head one).
int qr_cuda_read_kv(const QrModel *m, int layer, float *k, float *v, QrErr *e);

// ---- the device model without a QrModel (benchmarks: random weights at real
// shapes, generated on the GPU, no host copy) ----
typedef struct QrCuda QrCuda;
// Config c (llama family) with random weights: block linears in fmt (QC_F32,
// QC_F16, QC_BF16, QC_INT8 or QC_NF4 of kernels/cuda/qcuda.h); embedding and
// head bf16, norms 1.
int qr_cuda_random_model(QrCuda **g, const QrConfig *c, int fmt, uint64_t seed, QrErr *e);
// KV cache for n_slots sequences of max_seq positions, scratch for max_batch tokens.
int qr_cuda_alloc_state(QrCuda *g, int n_slots, int max_seq, int max_batch, QrErr *e);
// Forward + greedy sampling on the device: ids of the wanted rows.
int qr_cuda_step(QrCuda *g, const QrBatch *b, int *ids, QrErr *e);
// Weight bytes read per decoded token (block linears, head, norms, one embedding row).
size_t qr_cuda_bytes_per_token(const QrCuda *g);
void qr_cuda_destroy(QrCuda *g);
// A block linear of the device model: which = 0..6 for q, k, v, o, gate, up, down.
struct QcLinear;
const struct QcLinear *qr_cuda_layer_linear(const QrCuda *g, int layer, int which);
