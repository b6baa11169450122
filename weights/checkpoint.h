// A checkpoint as the user points at it, whatever its format:
//   - a Hugging Face directory: config.json + model.safetensors, or sharded
//     model-0000i-of-0000n.safetensors with model.safetensors.index.json
//     (a path to one .safetensors file inside such a directory also works);
//   - a single GGUF file (metadata + tensors);
//   - an in-memory set of tensors (random-weight benchmarks, tests).
// All tensors are exposed as QrTensor views (PyTorch shape order, names as the
// format spells them), sorted by name for lookup. Nothing is copied.
#pragma once
#include <jansson.h>
#include "weights/gguf.h"
#include "weights/safetensors.h"
#include "weights/tensor.h"

typedef enum { QR_CKPT_HF = 0, QR_CKPT_GGUF, QR_CKPT_MEMORY } QrCkptKind;

typedef struct {
    QrCkptKind kind;
    char *path;          // what the user gave
    char *config_path;   // HF: <dir>/config.json (for messages)
    json_t *config;      // HF and memory checkpoints: the config.json object
    GgufFile *gguf;      // GGUF: metadata and tensors
    QrSafetensors *shards;
    int n_shards;
    QrTensor *tensors;   // [n_tensors], sorted by name
    int n_tensors;
    void **owned;        // memory checkpoints: tensor buffers freed on close
    int n_owned;
} QrCheckpoint;

int qr_ckpt_open(QrCheckpoint *c, const char *path, QrErr *e);
void qr_ckpt_close(QrCheckpoint *c);
const QrTensor *qr_ckpt_find(const QrCheckpoint *c, const char *name);
// The same, or NULL with e filled: "<path>: tensor '<name>' is missing".
const QrTensor *qr_ckpt_need(const QrCheckpoint *c, const char *name, QrErr *e);
// A float tensor (F32/F16/BF16) of n elements, shape [n] or [1, n], as a
// malloc'd f32 copy (norm weights, biases); NULL with e naming the tensor when
// it is missing or its shape or dtype differ.
float *qr_ckpt_vec(const QrCheckpoint *c, const char *name, int64_t n, QrErr *e);

// In-memory checkpoints: init with a config (reference taken), add tensors
// (the buffer is adopted and freed on close), then finish (sorts, checks
// for duplicate names).
void qr_ckpt_init_memory(QrCheckpoint *c, json_t *config, const char *label);
int qr_ckpt_add(QrCheckpoint *c, const char *name, QrDType dt, int ndim, const int64_t *shape, void *data,
                QrErr *e);
int qr_ckpt_finish(QrCheckpoint *c, QrErr *e);

// Reads config.json-style fields with one-line errors naming the file and key.
// `def` is used when the key is absent or null and required is 0.
int qr_json_int(const json_t *o, const char *key, int required, long long def, long long lo, long long hi,
                long long *out, const char *file, QrErr *e);
int qr_json_num(const json_t *o, const char *key, int required, double def, double *out, const char *file,
                QrErr *e);
// NULL when absent or null; error when present with another type.
int qr_json_str(const json_t *o, const char *key, const char **out, const char *file, QrErr *e);
