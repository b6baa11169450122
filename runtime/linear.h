// A linear layer, y = x W^T (+ b), as every block of every architecture uses
// it. ALL linear layers of the blocks go through qr_linear_forward (or
// qr_linear_forward_multi for several reading one input), which
// switches on the weight format: the float formats here; the quantized ones
// (NF4, LLM.int8, issue 6) add a case and keep their state in `q`.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "util/err.h"
#include "weights/tensor.h"

typedef enum {
    QR_WF_F32 = 0, // w: float [out, in]
    QR_WF_F16,     // w: uint16 IEEE half [out, in]
    QR_WF_BF16,    // w: uint16 bfloat16 [out, in]
    QR_WF_NF4,     // q: quant/ NF4 state (issue 6)
    QR_WF_INT8,    // q: quant/ LLM.int8 state (issue 6)
} QrWeightFormat;

typedef struct QrLinear {
    QrWeightFormat fmt;
    int out, in;       // W is [out, in] (PyTorch nn.Linear layout)
    void *w;           // float formats: the weight, row-major; points into the mapped
                       // checkpoint unless owned (then malloc'd, writable)
    float *bias;       // [out] f32, or NULL; always owned
    void *q;           // quantized representation (owned by quant/), NULL for float formats
    void (*q_free)(void *q);
    int owned;         // w was malloc'd by us and is freed with the layer
    char name[96];     // checkpoint tensor name, for messages and reports
} QrLinear;

QrDType qr_wf_dtype(QrWeightFormat f);   // F32/F16/BF16 -> dtype; others QR_DT_COUNT
int qr_wf_from_dtype(QrDType t, QrWeightFormat *f);
const char *qr_wf_name(QrWeightFormat f); // "f32", "f16", "bf16", "nf4", "int8"
// Bytes read per forward of one activation row (the weight, the bias, quant state).
size_t qr_linear_bytes(const QrLinear *L);

// y[n, out] = x[n, in] W^T + b. Threads: the current OpenMP team size.
void qr_linear_forward(const QrLinear *L, const float *x, int n, float *y);
// y[i] = x L[i]^T (+ b) for k linears that read the same x (q, k and v; gate
// and up): the same bits as k calls of qr_linear_forward; NF4 weights of one
// width share one parallel pass (kernels/nf4_matmul.h).
void qr_linear_forward_multi(const QrLinear *const *L, int k, const float *x, int n, float *const *y);

// Binds a checkpoint tensor of shape [out, in] (F32/F16/BF16) without copying,
// or, when `to` differs from the stored dtype, converts into an owned buffer.
// A misaligned tensor is copied so that element loads are aligned.
int qr_linear_from_tensor(QrLinear *L, const QrTensor *t, int out, int in, int convert, QrWeightFormat to,
                          QrErr *e);
// Makes the weight an owned, writable buffer (weight noise writes into it).
int qr_linear_make_owned(QrLinear *L, QrErr *e);
// Converts a float-format layer to another float format (owned result).
int qr_linear_convert(QrLinear *L, QrWeightFormat to, QrErr *e);
void qr_linear_free(QrLinear *L);

// One row of a float-format [rows, in] matrix (an embedding table) as f32.
void qr_linear_row(const QrLinear *L, int row, float *dst);
