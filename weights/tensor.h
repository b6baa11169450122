// A tensor as a checkpoint holds it: name, element type, shape, and a pointer
// into the memory-mapped file (no copy). Every reader (safetensors, GGUF)
// produces these views, so the model loaders see one kind of tensor.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "util/err.h"

// Element types. The float types are what the engine computes over; the
// integer ones are parsed and validated so pre-quantized checkpoints
// (bitsandbytes: U8 packed NF4, I8 + F32 scales) load through the same reader.
typedef enum {
    QR_DT_F32 = 0,
    QR_DT_F16,
    QR_DT_BF16,
    QR_DT_F64,
    QR_DT_I8,
    QR_DT_U8,
    QR_DT_I16,
    QR_DT_U16,
    QR_DT_I32,
    QR_DT_U32,
    QR_DT_I64,
    QR_DT_U64,
    QR_DT_BOOL,
    QR_DT_F8_E4M3,
    QR_DT_F8_E5M2,
    QR_DT_COUNT
} QrDType;

#define QR_MAX_DIMS 8

typedef struct {
    const char *name;     // owned by the reader that produced the view
    QrDType dtype;
    int ndim;
    int64_t shape[QR_MAX_DIMS]; // PyTorch order: outermost first ([out, in] for a linear weight)
    const void *data;     // inside the mapped file; aligned only as the file aligns it
    size_t nbytes;        // == numel * qr_dtype_size(dtype), checked by the reader
    const char *file;     // the file it lives in, for error messages
} QrTensor;

size_t qr_dtype_size(QrDType t);
const char *qr_dtype_name(QrDType t);            // "F32", "BF16", ... (safetensors spelling)
int qr_dtype_from_name(const char *s, QrDType *t); // safetensors spelling; -1 if unknown
int64_t qr_tensor_numel(const QrTensor *t);
// "[768, 2048]" into buf (for messages).
const char *qr_shape_str(const QrTensor *t, char *buf, size_t len);

// Scalar conversions (exact for bf16/f16 -> f32; f32 -> bf16/f16 round to
// nearest even, as torch's .to() does).
static inline float qr_bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v = {.u = (uint32_t)h << 16};
    return v.f;
}
uint16_t qr_f32_to_bf16(float f);
float qr_f16_to_f32(uint16_t h);
uint16_t qr_f32_to_f16(float f);

// Converts n elements of a float tensor (F32/F16/BF16) to f32. -1 for other dtypes.
int qr_to_f32(QrDType t, const void *src, float *dst, size_t n);
