// What the architecture files (runtime/llama.c, codegen.c, starcoder2.c)
// share: the config.json fields whose spelling is common to Hugging Face
// families (rotary parameters, special tokens, dtype, activations), and
// binding checkpoint tensors into QrLinear layers / f32 vectors with their
// QrParam entries. Each family keeps its own tensor-name table and forward
// pass; only the plumbing lives here.
#pragma once
#include <jansson.h>
#include "kernels/attention.h"
#include "runtime/model.h"

// ---- config.json ----

// Rotary embedding: transformers >= 5 writes "rope_parameters" {rope_type,
// rope_theta, factor, ...}; earlier versions "rope_theta" + "rope_scaling"
// {type|rope_type, factor, ...}. Fills rope_theta (default `def_theta`) and
// rope_type/factors; an unknown scaling type or a partial_rotary_factor other
// than 1 is an error naming `family`.
int qr_hf_rope(const json_t *j, const char *file, const char *family, double def_theta, QrConfig *c, QrErr *e);
// bos_token_id (-1 when absent) and eos_token_id (an integer or a list).
int qr_hf_special_tokens(const json_t *j, const char *file, QrConfig *c, QrErr *e);
// torch_dtype (transformers < 5) or dtype: bfloat16/float16, else f32.
int qr_hf_dtype(const json_t *j, const char *file, QrConfig *c, QrErr *e);
// A boolean key (absent or null: def).
int qr_hf_bool(const json_t *j, const char *key, int def, int *out, const char *file, QrErr *e);
// An activation-function key: "silu", "gelu" (erf), "gelu_new" /
// "gelu_pytorch_tanh" (tanh approximation). Absent: def. `allowed` is a mask
// of (1 << QrAct) the family implements; anything else is an error.
int qr_hf_act(const json_t *j, const char *key, QrAct def, unsigned allowed, const char *family, QrAct *out,
              const char *file, QrErr *e);

// ---- loading ----

enum { QR_P_BLOCK = 1, QR_P_EMBED = 2 }; // QrParam.block_linear / .embedding

// One tensor of a family's checkpoint layout, as the family's table gives it
// for a config: a family lists its tensors once (index 0..n-1) and the
// helpers below enumerate, count and load them.
typedef struct {
    const char *name; // HF name; per-layer tensors have a %d for the layer
    int rows, cols;   // [rows, cols]; cols 0: a vector [rows]
    int per_layer;    // one per block
    int absent;       // this config has no such weight (e.g. a tied head); its bias may still exist
    int bias;         // a "<name minus .weight>.bias" [rows] goes with it
    int flags;        // QR_P_EMBED for the token embedding (per-layer matrices are QR_P_BLOCK)
} QrTensorSpec;
typedef QrTensorSpec (*QrSpecFn)(const QrConfig *c, int which);

// QrArch.each_tensor over a family's table of n tensors (weights, then biases).
void qr_arch_each_tensor(const QrConfig *c, int n, QrSpecFn spec, void *ctx,
                         void (*fn)(void *ctx, const char *name, int ndim, const int64_t *shape));
// Loads table entry `which` of `layer` as a linear layer (with its bias).
int qr_arch_load_linear(QrModel *m, QrSpecFn spec, int which, int layer, QrLinear *L, QrErr *e);
// Loads table entry `which` of `layer` (layer -1 outside the blocks) as a
// LayerNorm: weight and bias vectors.
int qr_arch_load_layernorm(QrModel *m, QrSpecFn spec, int which, int layer, float **w, float **b, QrErr *e);

// Binds the [rows, cols] matrix `name` (F32/F16/BF16; shape and dtype checked,
// no copy) into L, and when `bias` the vector "<name minus .weight>.bias" [rows];
// each becomes a QrParam of `layer` (-1 outside the blocks).
int qr_arch_linear(QrModel *m, const char *name, int rows, int cols, int bias, int layer, int flags, QrLinear *L,
                   QrErr *e);
// A vector parameter [n] as owned f32, registered as a QrParam. NULL on error.
float *qr_arch_vec(QrModel *m, const char *name, int n, int layer, QrErr *e);
// Registers a parameter that is already bound (e.g. a bias read separately).
int qr_arch_add_param(QrModel *m, const char *name, QrLinear *lin, float *vec, int n, int layer, int flags);

// Activation buffers of a forward pass in one allocation: *ptrs[i] gets
// sizes[i] floats. Returns the block (free() it to release all) or NULL.
float *qr_arch_buffers(float **const ptrs[], const size_t sizes[], int n);

// ---- forward helpers ----

// a[i] = act(a[i]) for the non-gated MLPs (GELU, exact or tanh form).
void qr_arch_gelu(QrAct act, float *a, size_t n);

// Writes the batch's k and v rows ([n, kv_dim] each) into layer l of the KV
// cache at (seq, pos) and returns that layer's view for qr_attention.
QrKVLayer qr_kv_store(QrModel *m, int l, const QrBatch *b, const float *k, const float *v);
// Gathers the rows of x[n, dim] whose logits the batch wants into out
// (in batch order); returns how many.
int qr_gather_wanted(const QrBatch *b, const float *x, int dim, float *out);
