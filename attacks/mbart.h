// mBART-50 many-to-many translation (facebook/mbart-large-50-many-to-many-mmt),
// the sentence-level attack's back-translation engine: English -> German ->
// English, as the study did it with transformers.
//
// Loaded from the model's Hugging Face checkpoint directory (`--translator DIR`):
//   config.json                MBartConfig (model_type "mbart")
//   model.safetensors          (or sharded + index; F32/F16/BF16)
//   generation_config.json     beam search defaults; without it the legacy keys
//                              of config.json (num_beams, max_length, ...) as
//                              transformers reads them
//   tokenizer.json             if present (HF prefers it), else
//   sentencepiece.bpe.model    the SentencePiece unigram model, laid out in
//                              fairseq ids the way MBart50Tokenizer does
//   tokenizer_config.json      optional: clean_up_tokenization_spaces
//
// Semantics follow transformers' models/mbart/modeling_mbart.py (v5):
// token embedding x sqrt(d_model) when scale_embedding, learned positions with
// offset 2, layernorm_embedding, pre-LN encoder/decoder layers (self-attention,
// decoder cross-attention over the encoder output, fc1 -> activation -> fc2),
// final layer norms, output head tied to the shared embedding plus
// final_logits_bias; and generation/utils.py's beam search (decoder starts
// with decoder_start_token_id = </s>, the target language code forced as the
// first generated token, </s> forced at max_length - 1).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "runtime/linear.h"
#include "tokenizer/unigram.h"
#include "util/err.h"
#include "weights/checkpoint.h"

// ---- configuration ----

// activation_function, by transformers' ACT2FN names.
typedef enum {
    MBART_ACT_GELU = 0,  // "gelu" (erf; mbart-large-cc25)
    MBART_ACT_RELU,      // "relu" (mbart-large-50 MMT checkpoints)
    MBART_ACT_GELU_TANH, // "gelu_new", "gelu_pytorch_tanh"
    MBART_ACT_SILU,      // "silu", "swish"
} MbartAct;

typedef struct {
    int vocab_size;
    int d_model;
    int enc_layers, dec_layers;  // encoder_layers, decoder_layers
    int enc_heads, dec_heads;    // encoder/decoder_attention_heads
    int enc_ffn, dec_ffn;        // encoder/decoder_ffn_dim
    int max_pos;                 // max_position_embeddings (the tables hold max_pos + 2 rows)
    int scale_embedding;         // embeddings x sqrt(d_model)
    MbartAct act;                // activation_function
    float ln_eps;                // nn.LayerNorm default 1e-5
    int tie_embeddings;          // tie_word_embeddings (default true)
    int pad_id, bos_id, eos_id;
} MbartConfig;

enum { MBART_EARLY_FALSE = 0, MBART_EARLY_TRUE = 1, MBART_EARLY_NEVER = 2 };

// The generation parameters beam search uses (transformers' GenerationConfig
// names); read at load, may be changed by the caller before translating.
typedef struct {
    int num_beams;           // 1: greedy
    int max_length;          // decoder length including the start token
    int min_length;          // </s> is suppressed while the length is below it
    int early_stopping;      // MBART_EARLY_*
    double length_penalty;   // finished score = sum log p / generated_len^length_penalty
    int decoder_start_id;    // decoder_start_token_id (mBART: </s> = 2)
    int forced_eos_id;       // forced_eos_token_id, -1 none
    int eos_ids[4];          // eos_token_id (int or list)
    int n_eos;
} MbartGen;

// ---- weights ----

typedef struct {
    QrLinear q, k, v, o;     // [d_model, d_model] each, with biases
    float *ln_w, *ln_b;      // [d_model] the layer norm before it (self_attn_layer_norm / encoder_attn_layer_norm)
} MbartAttn;

typedef struct {
    MbartAttn self;          // self_attn (causal in the decoder)
    MbartAttn cross;         // encoder_attn (decoder layers only)
    float *ffn_ln_w, *ffn_ln_b; // [d_model] final_layer_norm
    QrLinear fc1;            // [ffn, d_model]
    QrLinear fc2;            // [d_model, ffn]
} MbartLayer;

typedef struct {
    QrLinear pos;            // [max_pos + 2, d_model] embed_positions
    float *ln_emb_w, *ln_emb_b; // [d_model] layernorm_embedding
    MbartLayer *layers;      // [n_layers]
    float *ln_w, *ln_b;      // [d_model] final layer_norm
    int n_layers, n_heads, ffn;
} MbartStack;

typedef struct {
    MbartConfig cfg;
    MbartGen gen;
    QrCheckpoint ckpt;       // kept open: weights point into its mappings
    QrLinear embed;          // [vocab, d_model] model.shared (rows looked up, x embed_scale)
    QrLinear head;           // [vocab, d_model] lm_head when untied (unused when tied)
    float *logits_bias;      // [vocab] final_logits_bias (zeros when absent)
    MbartStack enc, dec;
    float embed_scale;
} MbartModel;

int mbart_load(MbartModel **out, const char *dir, QrErr *e);
// The same from an open checkpoint (e.g. an in-memory one for benchmarks);
// ownership of ck moves to the model, also on failure. gen_dir: where a
// generation_config.json may be (NULL: the generation keys of config.json).
int mbart_from_checkpoint(MbartModel **out, QrCheckpoint *ck, const char *gen_dir, QrErr *e);
void mbart_free(MbartModel *m);

// Encoder: ids[n] -> hidden[n, d_model] (after the final layer norm).
int mbart_encode(const MbartModel *m, const int32_t *ids, int n, float *hidden, QrErr *e);

// Decoder state for up to n_beams hypotheses of up to max_len tokens over one
// encoded source: per-layer self-attention caches (reordered between beam
// search steps) and the cross-attention keys/values of the source, computed
// once and shared by every beam.
typedef struct MbartDecoder MbartDecoder;
int mbart_decoder_new(MbartDecoder **out, const MbartModel *m, const float *enc_hidden, int src_len, int n_beams,
                      int max_len, QrErr *e);
void mbart_decoder_free(MbartDecoder *d);
// One step: tokens[b] of beam b (b < n) at position pos (every beam has pos
// tokens cached). logits: [n, vocab].
int mbart_decoder_step(MbartDecoder *d, const int32_t *tokens, int n, int pos, float *logits, QrErr *e);
// Beam b takes the cache of beam src[b] (positions 0..len-1), for b < n.
void mbart_decoder_reorder(MbartDecoder *d, const int *src, int n, int len);

// Beam search (or greedy when gen->num_beams == 1) from the encoded ids,
// forcing forced_bos as the first generated token (-1: none). *out gets the
// best sequence, starting with decoder_start_id (malloc'd, *n_out tokens).
int mbart_generate(const MbartModel *m, const MbartGen *gen, const int32_t *src_ids, int n_src, int forced_bos,
                   int32_t **out, int *n_out, QrErr *e);

// ---- tokenizer (MBart50Tokenizer) ----

#define MBART_N_LANGS 52
// transformers' FAIRSEQ_LANGUAGE_CODES, in vocabulary order.
extern const char *const mbart_langs[MBART_N_LANGS];

typedef struct {
    QrUnigram *uni;
    int32_t eos;             // "</s>"
    char source[64];         // "tokenizer.json" or "sentencepiece.bpe.model"
} MbartTok;

// dir: a model directory (tokenizer.json, else sentencepiece.bpe.model), or
// one of those files (tokenizer.json may be gzipped).
int mbart_tok_load(MbartTok *t, const char *path, QrErr *e);
void mbart_tok_free(MbartTok *t);
// The id of a language code ("en_XX"), -1 if not one of mbart_langs.
int32_t mbart_lang_id(const MbartTok *t, const char *code);
// [lang] text </s> (the MBart50 template for src_lang = lang).
int mbart_tok_encode(const MbartTok *t, const char *text, size_t len, const char *lang, int32_t **ids, size_t *n,
                     QrErr *e);
char *mbart_tok_decode(const MbartTok *t, const int32_t *ids, size_t n, int skip_special, QrErr *e);

// ---- translation ----

typedef struct {
    MbartModel *model;
    MbartTok tok;
} MbartTranslator;

int mbart_translator_load(MbartTranslator **out, const char *dir, QrErr *e);
void mbart_translator_free(MbartTranslator *t);
// text (language src, e.g. "en_XX") -> malloc'd translation into tgt ("de_DE"),
// as tokenizer(text) -> model.generate(forced_bos_token_id=tgt) ->
// decode(skip_special_tokens=True).
char *mbart_translate(const MbartTranslator *t, const char *text, const char *src, const char *tgt, QrErr *e);
