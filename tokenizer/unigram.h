// SentencePiece unigram tokenizers as Hugging Face `tokenizers` runs them
// (XLM-R, mBART, T5, ...): the pipeline a converted SentencePiece model gets
//
//   added tokens (matched in the raw text first, leftmost-longest)
//   -> normalizer: Precompiled (the model's charsmap) -> Strip(right)? ->
//      Replace(" {2,}" -> collapse)?
//   -> pre-tokenizer: Metaspace ("▁" for spaces, prepend scheme, split)
//   -> Unigram model (Viterbi over the piece scores, unknown characters
//      fused into one <unk>)
//
// and decoding through the Metaspace decoder. The pieces of the vocabulary
// are set by the caller (e.g. attacks/mbart_tok.c lays out mBART-50's
// fairseq ids), or read from a tokenizer.json whose model is "Unigram".
//
// Also here: a reader for SentencePiece model files (sentencepiece.bpe.model,
// a serialized sentencepiece.ModelProto), and the Precompiled normalizer
// (SentencePiece's precompiled_charsmap: a darts-clone double-array trie plus
// the replacement strings), applied per grapheme cluster exactly as HF
// tokenizers' Precompiled normalizer does.
//
// A finished QrUnigram is read-only: encode/decode may run concurrently.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "util/err.h"
#include "util/sbuf.h"

// ---- SentencePiece model files ----

typedef struct {
    char *piece;  // UTF-8, NUL-terminated
    float score;
    int type;     // SentencePiece.Type: 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte
} QrSpmPiece;

typedef struct {
    QrSpmPiece *pieces; // [n], id order
    int n;
    int model_type;     // trainer_spec.model_type: 1 unigram, 2 bpe, 3 word, 4 char
    int unk_id, bos_id, eos_id, pad_id;
    int byte_fallback;
    char norm_name[64]; // normalizer_spec.name ("nmt_nfkc", "identity", ...)
    uint8_t *charsmap;  // normalizer_spec.precompiled_charsmap (NULL when empty)
    size_t charsmap_len;
    int add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces;
} QrSpmModel;

// Parses a ModelProto held in memory; name is used in messages.
int qr_spm_parse(QrSpmModel *m, const uint8_t *buf, size_t len, const char *name, QrErr *e);
int qr_spm_read(QrSpmModel *m, const char *path, QrErr *e);
void qr_spm_free(QrSpmModel *m);

// ---- Precompiled normalizer ----

typedef struct {
    uint32_t *trie;   // darts-clone units
    size_t n_units;
    char *norm;       // NUL-separated replacement strings
    size_t norm_len;
} QrCharsmap;

// blob: u32 little-endian trie byte size, the trie, the strings. Copied.
int qr_charsmap_init(QrCharsmap *c, const uint8_t *blob, size_t len, const char *name, QrErr *e);
void qr_charsmap_free(QrCharsmap *c);
// Appends the normalization of valid UTF-8 s to out: each grapheme cluster
// shorter than 6 bytes is replaced as a whole when a prefix of it is in the
// trie (the shortest such prefix's replacement, as HF does), otherwise each
// character is replaced when it is in the trie, or kept.
void qr_charsmap_normalize(const QrCharsmap *c, const char *s, size_t n, QrSbuf *out);

// ---- the tokenizer ----

enum { QR_UNI_PREPEND_ALWAYS = 0, QR_UNI_PREPEND_FIRST, QR_UNI_PREPEND_NEVER };

// Flags of a vocabulary entry.
enum {
    QR_UNI_ADDED = 1u << 0,   // an added token: matched in the raw text before normalization
    QR_UNI_SPECIAL = 1u << 1, // special: dropped by decode(skip_special)
    QR_UNI_LSTRIP = 1u << 2,  // added token eats the whitespace on its left
    QR_UNI_RSTRIP = 1u << 3,  // ... on its right
};

typedef struct {
    char *str;      // the piece as stored ("▁the", "<mask>"), NUL-terminated
    uint32_t len;
    double score;   // unigram log probability (0 for the specials mBART adds)
    unsigned flags;
} QrUniPiece;

typedef struct QrUnigram {
    QrUniPiece *pieces; // [n] by id
    int n, cap;
    int unk_id;         // -1: none (an unknown character is then an error)
    QrCharsmap charsmap;
    int has_charsmap;
    int strip_right;          // normalizer Strip(left=false, right=true)
    char collapse[8];         // normalizer Replace(Regex(" {2,}"), collapse); "" = no such step
    int has_collapse;
    int whitespace_split;     // pre-tokenizer WhitespaceSplit before Metaspace
    int prepend;              // Metaspace prepend_scheme (QR_UNI_PREPEND_*)
    int split;                // Metaspace split on "▁"
    int clean_up_spaces;      // decode: transformers' clean_up_tokenization_spaces
    // built by qr_uni_finish:
    void *map;                // piece string -> id
    int *added;               // ids of added tokens, longest first
    int n_added;
    double min_score;         // over all pieces; an unknown character scores min_score - 10
    uint32_t max_len;         // longest piece in bytes
    char desc[128];
} QrUnigram;

// An empty tokenizer with the HF defaults of a converted SentencePiece model
// (prepend always, split, no normalizer steps).
QrUnigram *qr_uni_new(void);
void qr_uni_free(QrUnigram *u);
// Appends a piece with the next id.
int qr_uni_add(QrUnigram *u, const char *str, size_t len, double score, unsigned flags, QrErr *e);
int qr_uni_set_charsmap(QrUnigram *u, const uint8_t *blob, size_t len, const char *name, QrErr *e);
// Builds the lookup structures; call once after the pieces and options are set.
int qr_uni_finish(QrUnigram *u, QrErr *e);

// Loads a HF tokenizer.json (plain or gzipped) whose model is Unigram, with
// the normalizer / pre-tokenizer / decoder shapes listed at the top; anything
// else is an error naming the field. The post-processor is not applied (the
// caller adds its own special tokens).
int qr_uni_load_json(QrUnigram **out, const char *path, QrErr *e);

// The id of a piece string, -1 if absent.
int32_t qr_uni_find(const QrUnigram *u, const char *str);

// Encodes text (invalid UTF-8 is first repaired as Python's decode("utf-8",
// "replace") does). Appends the ids to *ids (realloc'd; *n updated).
int qr_uni_encode(const QrUnigram *u, const char *text, size_t len, int32_t **ids, size_t *n, QrErr *e);

// Decodes ids (HF tokenizers decode + transformers' clean-up when enabled).
// Returns a malloc'd NUL-terminated string, or NULL with e filled for an id out of range.
char *qr_uni_decode(const QrUnigram *u, const int32_t *ids, size_t n, int skip_special, QrErr *e);
