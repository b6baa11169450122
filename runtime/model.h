// The model interface every architecture implements, and the family-
// independent parts around it (loading, KV cache, batching).
//
// One file per architecture (runtime/llama.c, later codegen.c, starcoder2.c,
// ...) defines a `const QrArch` that knows its config keys, its checkpoint
// tensor names (HF and GGUF), and its forward pass over a batch of tokens
// drawn from any number of sequences. To add one: write the file, add one
// line to the table in runtime/model.c.
//
// Backend seam (CUDA, issue 9): QrLoadOpts.device selects the backend at load.
// Loading, conversion and quantization run on the host for both; with
// QR_DEVICE_CUDA (a `make CUDA=1` build) qr_model_reserve / qr_model_forward /
// qr_model_free hand over to kernels/cuda/backend.h, which uploads the
// weights once and runs the forward pass on the GPU.
#pragma once
#include <jansson.h>
#include <stdint.h>
#include "runtime/linear.h"
#include "runtime/qlinear.h"
#include "util/err.h"
#include "weights/checkpoint.h"

typedef enum { QR_ROPE_DEFAULT = 0, QR_ROPE_LINEAR, QR_ROPE_LLAMA3 } QrRopeType;
// MLP activation: SiLU (SwiGLU gate), GELU with erf, GELU's tanh approximation
// (transformers' gelu_new and gelu_pytorch_tanh: the same function).
typedef enum { QR_ACT_SILU = 0, QR_ACT_GELU, QR_ACT_GELU_TANH } QrAct;

#define QR_MAX_EOS 8

// Hyper-parameters, named as the HF config names them where one exists.
// Family-specific options get their own fields here (issue 5) so the generic
// code (info, bench, generation) sees one struct.
typedef struct {
    char arch[16];       // QrArch.name, e.g. "llama"
    char model_type[32]; // config.json model_type or GGUF general.architecture
    int dim;             // hidden_size
    int n_layers;        // num_hidden_layers
    int n_heads;         // num_attention_heads
    int n_kv_heads;      // num_key_value_heads (grouped-query attention)
    int head_dim;        // head_dim (default hidden_size / num_attention_heads)
    int ffn_dim;         // intermediate_size
    int vocab_size;
    int max_pos;         // max_position_embeddings (context length)
    float norm_eps;      // rms_norm_eps / layer_norm_eps
    double rope_theta;
    int rope_dim;        // dimensions of each head that are rotated (head_dim for LLaMA)
    int rope_interleaved; // 1: rotate pairs (2i, 2i+1) (GGUF/llama.cpp, GPT-J);
                          // 0: pairs (i, i + rope_dim/2) (HF rotate_half)
    QrRopeType rope_type; // rope_scaling: none, linear, llama3
    double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_orig_max_pos; // llama3: original_max_position_embeddings
    int tie_embeddings;   // the output head is the embedding matrix
    int attn_bias;        // q/k/v projections have biases (LLaMA attention_bias, Qwen2, StarCoder2)
    int o_bias;           // the attention output projection has a bias (LLaMA attention_bias; not Qwen2)
    int mlp_bias;         // gate/up/down projections have biases (LLaMA mlp_bias)
    int sliding_window;   // 0 = full causal attention
    QrAct act;            // MLP activation
    int bos_id;           // -1 if none
    int eos_ids[QR_MAX_EOS];
    int n_eos;
    QrDType dtype;        // how the checkpoint stores the block weights
} QrConfig;

// One parameter tensor of a loaded model, for code that walks all of them
// (quant/: quantizes the block linears; attacks/: adds weight noise).
typedef struct {
    char name[96];       // checkpoint tensor name
    QrLinear *lin;       // matrices: linear layers, the embedding, an untied head
    float *vec;          // vectors (norm weights, biases), owned f32
    int n;               // elements of vec
    int layer;           // block index; -1 outside the blocks
    int block_linear;    // 1: a linear layer of a block (what bitsandbytes quantizes)
    int embedding;       // 1: the token embedding table (one row read per token)
} QrParam;

// KV cache: per layer, per sequence slot, per kv head, per position, head_dim
// floats (one sequential stream per head for attention: 5.35 -> 3.76 ms per
// token for a 1.3B model at 160 positions against [pos][kv_dim] rows).
typedef struct {
    int n_layers, n_slots, max_seq, kv_dim;
    float *k, *v; // [n_layers][n_slots][n_kv_heads][max_seq][head_dim]
    int *len;     // [n_slots] positions filled (max pos + 1 seen)
} QrKVCache;

// A batch of tokens from any sequences. Tokens of one sequence must come in
// increasing position order; a sequence's positions continue its cached ones.
typedef struct {
    int n;
    const int *tokens;          // [n]
    const int *pos;             // [n] position of each token in its sequence
    const int *seq;             // [n] KV-cache slot of each token
    const uint8_t *want_logits; // [n] 1 = return this token's logits; NULL = only the last token
} QrBatch;

typedef struct QrModel QrModel;

typedef struct QrArch {
    const char *name;
    const char *const *hf_model_types; // config.json model_type values served; NULL-terminated
    const char *const *gguf_archs;     // GGUF general.architecture values; NULL-terminated
    int (*config_hf)(const json_t *cfg, const char *file, QrConfig *c, QrErr *e);
    int (*config_gguf)(const GgufFile *g, QrConfig *c, QrErr *e);
    // Every tensor the config implies: name (as the checkpoint kind spells it) and shape.
    // Calls fn for each; used for validation messages, parameter counts and random models.
    void (*each_tensor)(const QrConfig *c, QrCkptKind kind, void *ctx,
                        void (*fn)(void *ctx, const char *name, int ndim, const int64_t *shape));
    // Binds the checkpoint's tensors (validated: present, shape, dtype) into m->w
    // and fills m->params.
    int (*load)(QrModel *m, const QrCheckpoint *ck, QrErr *e);
    // Scratch for batches of up to m->max_batch tokens (m->w must be loaded).
    int (*alloc_state)(QrModel *m, QrErr *e);
    int (*forward)(QrModel *m, const QrBatch *b, float *logits);
    void (*free)(QrModel *m); // weights and state
} QrArch;

typedef enum { QR_DEVICE_CPU = 0, QR_DEVICE_CUDA } QrDevice;

typedef struct {
    int convert;            // 1: store every float matrix as `weight_format`
    QrWeightFormat weight_format;
    QrDevice device;
    QrQuantOpts quant;      // quant.fmt NF4/INT8: quantize the block linears on load, as
                            // bitsandbytes does (after any conversion); zeroed: none
} QrLoadOpts;

struct QrModel {
    const QrArch *arch;
    QrConfig cfg;
    QrCheckpoint ckpt;   // kept open: unconverted weights point into its mappings
    void *w;             // architecture's weights struct
    void *state;         // architecture's run state
    QrParam *params;     // views into w (owned there), in checkpoint order
    int n_params;
    QrKVCache kv;
    int max_batch;       // tokens per forward call the state holds
    float *inv_freq;     // [rope_dim / 2] RoPE frequencies after rope scaling
    QrDevice device;
    void *cuda;          // QR_DEVICE_CUDA: the backend's device state (kernels/cuda/backend.h);
                         // then kv.k / kv.v stay NULL (the cache lives on the device)
};

// Architectures known to this build.
const QrArch *qr_arch_by_model_type(const char *model_type);
const QrArch *qr_arch_by_gguf(const char *gguf_arch);
// "llama, ..." for messages.
const char *qr_arch_list(void);

// Reads the config of a checkpoint (HF config.json or GGUF metadata).
int qr_config_read(const QrCheckpoint *ck, const QrArch **arch, QrConfig *c, QrErr *e);
// Checks a config's numbers for consistency (positive dims, heads divide, ...).
int qr_config_check(const QrConfig *c, const char *file, QrErr *e);

// Opens path (see weights/checkpoint.h), reads the config, binds the weights.
int qr_model_load(QrModel **out, const char *path, const QrLoadOpts *opts, QrErr *e);
// Builds a model from an already-open checkpoint (ownership of ck moves to the model).
int qr_model_from_checkpoint(QrModel **out, QrCheckpoint *ck, const QrLoadOpts *opts, QrErr *e);
// Sizes the KV cache (n_slots sequences of up to max_seq positions) and the
// scratch for max_batch tokens per forward call. Clears the cache.
int qr_model_reserve(QrModel *m, int n_slots, int max_seq, int max_batch, QrErr *e);
// Forgets the cached positions of one sequence slot.
void qr_model_clear_seq(QrModel *m, int slot);
// Runs the batch (split into max_batch chunks as needed); writes the logits of
// the requested tokens, in batch order, to logits[n_requested, vocab].
int qr_model_forward(QrModel *m, const QrBatch *b, float *logits, QrErr *e);
// The same, returning only the greedy choice (argmax, ties to the lowest id)
// of each requested row in ids[n_requested]. On CUDA the argmax runs on the
// device and no logits cross to the host.
int qr_model_forward_ids(QrModel *m, const QrBatch *b, int *ids, QrErr *e);
void qr_model_free(QrModel *m);

// Parameter count implied by the config, and bytes of weights as loaded.
int64_t qr_model_n_params(const QrModel *m);
size_t qr_model_weight_bytes(const QrModel *m);
// Bytes of weights read to decode one token (block linears + head + norms + one embedding row).
size_t qr_model_bytes_per_token(const QrModel *m);

// A memory checkpoint (HF tensor names) for an HF-style config object: every
// tensor the config implies, filled with seeded random values stored as dtype:
// matrices N(0, std^2), vectors 1 + N(0, std^2). For benchmarks and tests.
int qr_ckpt_random(QrCheckpoint *ck, json_t *config_json, QrDType dtype, float std, uint64_t seed, QrErr *e);
