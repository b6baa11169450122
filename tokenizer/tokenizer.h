// Tokenizers that give exactly the Hugging Face token ids.
//
// One opaque Tokenizer loads any of:
//   - a Hugging Face tokenizer.json (+ the tokenizer_config.json beside it, if
//     any): byte-level BPE (GPT-2/CodeGen, StarCoder2, DeepSeek-Coder, LLaMA-3,
//     Qwen2/3) and SentencePiece-style BPE (Llama-2/Mistral: "▁" for spaces,
//     <0xNN> byte fallback), with the file's normalizer, pre-tokenizer, added
//     tokens, post-processor and decoder;
//   - a model directory holding tokenizer.json (or, failing that, a
//     SentencePiece tokenizer.model);
//   - a SentencePiece tokenizer.model (BPE type, e.g. Llama-2);
//   - a GGUF file with an embedded vocabulary (tokenizer.ggml.model "llama",
//     i.e. SentencePiece, or "gpt2", i.e. byte-level BPE with the pre-tokenizer
//     named by tokenizer.ggml.pre).
//
// Encoding follows the Hugging Face `tokenizers` library step by step: added
// and special tokens are matched in the raw text first (leftmost-longest), the
// text between them is normalized, pre-tokenized and run through the model, and
// the post-processor adds BOS/EOS when asked. Invalid UTF-8 in the input is
// replaced by U+FFFD the way Python's bytes.decode("utf-8", "replace") does, so
// ids equal those HF gives for the text Python would have read.
//
// Decoding is the byte-exact inverse of encoding for valid UTF-8 text:
// decode(encode(x)) == x (byte-level tokens map back to bytes, "▁" to a space,
// <0xNN> to the byte; the space a SentencePiece tokenizer adds at the start of a
// text segment is removed again). TokStream emits text token by token during
// generation without ever splitting a UTF-8 character.
//
// A loaded Tokenizer is read-only: encode/decode may run concurrently from
// several threads on the same Tokenizer.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "util/err.h"

typedef struct Tokenizer Tokenizer;

// Loads path: a tokenizer.json, a directory (tokenizer.json, else
// tokenizer.model), a tokenizer.model, or a GGUF file (detected by its magic).
// Unsupported or malformed input is an error naming the file and the field
// (e.g. "tokenizer.json: pre_tokenizer.pretokenizers[1].type: unsupported
// pre-tokenizer 'Whitespace'"); nothing is ever silently approximated.
int tok_load(Tokenizer **out, const char *path, QrErr *e);
void tok_free(Tokenizer *t);

// Number of ids (1 + the largest id of the vocabulary and the added tokens).
int32_t tok_n_vocab(const Tokenizer *t);
// BOS / EOS ids (from tokenizer_config.json, the post-processor, or the GGUF
// keys); -1 when the tokenizer has none.
int32_t tok_bos(const Tokenizer *t);
int32_t tok_eos(const Tokenizer *t);
// Whether ids ending generation: EOS, plus the ids listed as eos_token_id in a
// model directory's generation_config.json.
int tok_is_eog(const Tokenizer *t, int32_t id);
// Whether id is a special (control) token: BOS/EOS/pad/… of the HF added
// tokens marked "special", or GGUF CONTROL tokens.
int tok_is_special(const Tokenizer *t, int32_t id);
// The vocabulary string of id as stored in the file (e.g. "Ġworld", "▁the",
// "<0x0A>", "<|endoftext|>"), NUL-terminated; NULL for an id out of range or
// unused.
const char *tok_token_str(const Tokenizer *t, int32_t id);
// The id of a vocabulary string (as stored in the file, e.g. "<|im_end|>"),
// -1 if absent.
int32_t tok_find(const Tokenizer *t, const char *str);
// What the tokenizer was loaded from, for messages: e.g. "tokenizer.json BPE
// (byte-level)", "GGUF llama (SentencePiece)".
const char *tok_describe(const Tokenizer *t);

// Encode flags.
enum {
    // Add BOS/EOS (and whatever else) as the post-processor / tokenizer_config /
    // GGUF add_bos_token say. Without it only the text's own tokens come out
    // (HF: add_special_tokens=False).
    TOK_ADD_SPECIAL = 1u << 0,
    // Treat special-token strings in the text ("<|endoftext|>", "<s>") as plain
    // text instead of matching them as their special ids. HF matches them
    // (the default here too); SentencePiece's own encoder never does, so pass
    // this to reproduce `sentencepiece` on a tokenizer.model.
    TOK_NO_PARSE_SPECIAL = 1u << 1,
};

// Encodes len bytes of text. On success *ids is a malloc'd array of *n ids
// (free() it; non-NULL even when *n is 0) and 0 is returned.
int tok_encode(const Tokenizer *t, const char *text, size_t len, unsigned flags,
               int32_t **ids, size_t *n, QrErr *e);

// Decode flags.
enum {
    TOK_SKIP_SPECIAL = 1u << 0, // drop special tokens (HF skip_special_tokens=True)
};

// The bytes id contributes to decoded text, without the start-of-segment
// space stripping (e.g. "Ġworld" -> " world", "▁the" -> " the", "<0x0A>" ->
// "\n"); may be a partial UTF-8 sequence. NULL (and *len 0) for an invalid id.
const char *tok_piece(const Tokenizer *t, int32_t id, size_t *len);

// Decodes ids to text. Returns a malloc'd NUL-terminated buffer (*len bytes
// before the NUL) or NULL with e filled for an id out of range.
char *tok_decode(const Tokenizer *t, const int32_t *ids, size_t n, unsigned flags,
                 size_t *len, QrErr *e);

// Streaming decoder for generation: push ids one at a time; each push returns
// the text that became complete (never half a UTF-8 character; bytes that can
// no longer become valid UTF-8 are passed through as they are). The
// concatenation of all pushes and the final flush equals tok_decode of the
// same ids.
typedef struct {
    const Tokenizer *t;
    unsigned flags;     // decode flags (TOK_SKIP_SPECIAL)
    int at_seg;         // next text piece starts a segment (its dummy space is stripped)
    uint8_t pend[4];    // held-back bytes of an incomplete UTF-8 character
    int npend;
    char *buf;          // output of the last push/flush (owned)
    size_t cap;
} TokStream;

// prev_id: the token before the first one pushed (e.g. the last prompt token
// when streaming a continuation), or -1 at the start of the text. It decides
// whether the first piece starts a segment (SentencePiece's leading space).
void tok_stream_init(TokStream *s, const Tokenizer *t, int32_t prev_id, unsigned flags);
// Returns the newly complete text (NUL-terminated; *len bytes), valid until
// the next call on s; an invalid id gives "" (nothing emitted).
const char *tok_stream_push(TokStream *s, int32_t id, size_t *len);
// Emits whatever is still held back (an incomplete UTF-8 tail, as raw bytes).
const char *tok_stream_flush(TokStream *s, size_t *len);
void tok_stream_free(TokStream *s);
