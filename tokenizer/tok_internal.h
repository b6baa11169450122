// Internals shared by the tokenizer sources (not part of the public API).
//
// A Tokenizer is a table of entries (one per id) plus the encoding pipeline of
// the Hugging Face `tokenizers` library, each stage configured by the loader:
//   added tokens (matched first) -> normalizers -> pre-tokenizers -> model
//   (rank BPE or SentencePiece score BPE) -> post-processor (BOS/EOS).
// Loaders: tok_json.c (tokenizer.json), tok_gguf.c (GGUF vocab), tok_spm.c
// (SentencePiece tokenizer.model). Encoding: tok_encode.c; merging: tok_bpe.c;
// decoding: tok_decode.c.
#pragma once
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>
#include "tokenizer/tokenizer.h"
#include "tokenizer/tok_map.h"

// Token types, numbered as GGUF's tokenizer.ggml.token_type (= SentencePiece's
// piece types + 1).
enum { TT_NONE = 0, TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

// Entry flags.
enum {
    TF_ADDED = 1 << 0,       // matched in the text before the model runs (HF added token)
    TF_SPECIAL = 1 << 1,     // special: skipped by TOK_NO_PARSE_SPECIAL / TOK_SKIP_SPECIAL
    TF_LSTRIP = 1 << 2,      // HF AddedToken options
    TF_RSTRIP = 1 << 3,
    TF_SINGLE_WORD = 1 << 4,
    TF_NORMALIZED = 1 << 5,  // matched in the normalized text rather than the raw text
};

typedef struct {
    uint32_t str, slen;   // vocabulary string as stored in the file (arena offset, NUL-terminated)
    uint32_t piece, plen; // bytes it decodes to (arena offset)
    float score;          // SentencePiece score (0 for rank BPE)
    uint8_t type, flags;
} TokEntry;

enum { TOK_MODEL_BPE = 1, TOK_MODEL_SPM = 2 };

// Merge table for rank BPE: (left id, right id) -> (rank, merged id).
typedef struct {
    uint64_t key;  // (left << 32) | right; UINT64_MAX = empty
    int32_t rank, id;
} TokMerge;

enum { NORM_NFC = 1, NORM_PREPEND, NORM_REPLACE, NORM_STRIP };
typedef struct {
    int kind;
    char *a; size_t alen; // PREPEND: the prefix; REPLACE: the pattern (literal)
    char *b; size_t blen; // REPLACE: the replacement
    pcre2_code *re;       // REPLACE with a Regex pattern (else NULL)
    int left, right;      // STRIP
} TokNorm;

enum { PT_SPLIT = 1, PT_BYTELEVEL, PT_METASPACE };
enum { SPLIT_REMOVED = 1, SPLIT_ISOLATED, SPLIT_MERGED_PREV, SPLIT_MERGED_NEXT, SPLIT_CONTIGUOUS };
enum { PREPEND_ALWAYS = 1, PREPEND_FIRST, PREPEND_NEVER };
typedef struct {
    int kind;
    pcre2_code *re;        // SPLIT, and BYTELEVEL with use_regex
    int behavior, invert;  // SPLIT
    int add_prefix_space;  // BYTELEVEL
    int prepend_scheme;    // METASPACE
    int split;             // METASPACE: split on the replacement (MergedWithNext)
    char repl[8];          // METASPACE replacement character (UTF-8)
    int repl_len;
} TokPretok;

struct Tokenizer {
    char desc[160];
    int model;            // TOK_MODEL_*
    int bytelevel;        // vocabulary in the GPT-2 byte-level alphabet (matched as raw bytes)
    TokEntry *tok;
    int32_t n_vocab;
    char *arena;          // strings of the entries
    size_t arena_len, arena_cap;

    TokMap vocab;       // model lookup: matching form (raw bytes when bytelevel) -> id
    TokMap stored;      // stored vocabulary string -> id (tok_find), added tokens included
    TokMerge *merges;     // rank BPE: open addressing, merge_cap slots
    size_t merge_cap, merge_n;
    int byte_fallback, fuse_unk, ignore_merges;
    int32_t unk_id;
    int32_t byte_id[256]; // <0xNN> ids for byte fallback (-1 if absent)
    char *cont_prefix, *word_suffix; // BPE continuing_subword_prefix / end_of_word_suffix (NULL: none)
    int32_t single[256];  // bytelevel: id of each single byte (-1 if absent)

    int32_t *added;       // ids of tokens matched in text, longest content first within each first byte
    int n_added;
    int32_t added_first[257]; // added[added_first[b] .. added_first[b+1]) start with byte b
    int any_normalized_added;
    pcre2_code *word_re;  // added tokens' single_word test (when any token has it)

    TokNorm *norm;
    int n_norm;
    TokPretok *pre;
    int n_pre;
    int spm_escape;       // SentencePiece-style: ' ' -> U+2581, and (spm_prefix) U+2581 at segment start
    int spm_prefix;

    int32_t bos_id, eos_id;
    int32_t *prefix_ids, *suffix_ids; // added by TOK_ADD_SPECIAL
    int n_prefix, n_suffix;
    int dec_strip_space;  // decoding removes the dummy-prefix space at segment starts
    int32_t *eog;
    int n_eog;
    uint64_t serial;         // unique per loaded tokenizer (per-thread caches are keyed by it)
    int split_at_space_mark; // one piece per U+2581-led word is safe (see tok_finish)
};

// ---- building (tok_load.c) ----
Tokenizer *tok_new(void);
// Appends a NUL-terminated copy of s to the arena; returns its offset or UINT32_MAX on OOM.
uint32_t tok_arena_add(Tokenizer *t, const char *s, size_t len);
// Makes room for ids up to n-1 (new entries are TT_NONE).
int tok_reserve(Tokenizer *t, int32_t n);
// Sets entry id: stored string, decoded piece (NULL: same as the string).
// tok_set_entry does the same without adding str to the stored-string map.
int tok_set_entry(Tokenizer *t, int32_t id, const char *str, size_t len, const char *piece, size_t plen,
                  float score, int type, int flags);
int tok_set(Tokenizer *t, int32_t id, const char *str, size_t len, const char *piece, size_t plen,
            float score, int type, int flags);
// The byte-level string (GPT-2 alphabet) s decoded to raw bytes into out
// (>= len bytes); returns the length, or -1 if s has a character outside the alphabet.
long tok_bytelevel_decode(const char *s, size_t len, char *out);
// The byte of a "<0xNN>" token (two hex digits), else -1.
int tok_byte_token(const char *s, size_t len);
int tok_merges_reserve(Tokenizer *t, size_t n);
int tok_add_merge(Tokenizer *t, int32_t a, int32_t b, int32_t rank, int32_t id);
const TokMerge *tok_find_merge(const Tokenizer *t, int32_t a, int32_t b);
void tok_prefetch_merge(const Tokenizer *t, int32_t a, int32_t b);
// After all entries are set: builds the added-token index, byte tables, etc.
int tok_finish(Tokenizer *t, QrErr *e);
// Compiles a HF regex (Oniguruma syntax as used by tokenizers) with PCRE2 UTF+UCP+JIT.
pcre2_code *tok_regex(const char *pat, size_t len, QrErr *e, const char *field);
// Regex matching the literal string s.
pcre2_code *tok_regex_literal(const char *s, size_t len, QrErr *e, const char *field);

// Loaders. name is the file (for messages); buf/len its whole content.
// tokenizer.json (+ tokenizer_config.json at config_path, may be NULL):
int tok_load_json(Tokenizer *t, const char *name, const char *buf, size_t len, const char *config_path, QrErr *e);
// GGUF: from buf when non-NULL (e.g. a decompressed .gguf.gz), else mmapped from path.
int tok_load_gguf(Tokenizer *t, const char *path, const uint8_t *buf, size_t len, QrErr *e);
// SentencePiece ModelProto (tokenizer.model):
int tok_load_spm(Tokenizer *t, const char *name, const uint8_t *buf, size_t len, QrErr *e);
// SentencePiece (tok_spm.c): sets piece id (U+2581 decodes to a space,
// <0xNN> byte pieces to their byte; control/unknown/user pieces are matched
// in text first), and the SentencePiece encoding setup (escape spaces, a
// dummy U+2581 prefix when add_prefix, byte fallback).
int tok_spm_piece(Tokenizer *t, int32_t id, const char *s, size_t len, float score, int type);
void tok_spm_setup(Tokenizer *t, int add_prefix);
// tokenizer_config.json: BOS/EOS ids and transformers' add_bos/add_eos rules.
int tok_apply_config(Tokenizer *t, const char *path, QrErr *e);
// The pre-tokenizer of a GGUF tokenizer.ggml.pre name (the HF regexes of that family).
int tok_gguf_pretok(Tokenizer *t, const char *pre, QrErr *e);

// ---- model (tok_bpe.c) ----
typedef struct {
    int32_t *v;
    size_t n, cap;
} TokIds;
int tok_ids_push(TokIds *o, int32_t id);

// Empties this thread's cache of piece -> ids (benchmarks measure a cold cache).
void tok_encode_cache_reset(void);

typedef struct TokScratch TokScratch;
TokScratch *tok_scratch_new(void);
void tok_scratch_free(TokScratch *s);
// Runs the model on one pre-tokenized piece (bytes, already in the matching form).
int tok_model_piece(const Tokenizer *t, TokScratch *s, const char *p, size_t n, TokIds *out);

static inline const char *tok_str(const Tokenizer *t, int32_t id) { return t->arena + t->tok[id].str; }
