// Unicode helpers the tokenizers need: UTF-8 decoding and repair, NFC, and the
// GPT-2 byte-level alphabet.
#pragma once
#include <stddef.h>
#include <stdint.h>

// Length of the UTF-8 sequence starting with lead byte c (1 for ASCII and for
// bytes that cannot start a sequence).
static inline int utf8_len(uint8_t c) {
    return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

// Decodes the code point at s (valid UTF-8, n bytes left); *adv = its length.
uint32_t utf8_decode(const uint8_t *s, size_t n, int *adv);
// Encodes cp into out (>= 4 bytes); returns its length.
int utf8_encode(uint32_t cp, uint8_t *out);

// Length of the well-formed UTF-8 sequence at s (1..4), or 0 if the bytes at s
// do not start one; *maximal gets the length of the maximal ill-formed subpart
// (what Python replaces by one U+FFFD) when 0 is returned.
int utf8_valid_seq(const uint8_t *s, size_t n, int *maximal);

// Repairs text the way Python's bytes.decode("utf-8", "replace") does: every
// maximal ill-formed subpart becomes U+FFFD. Returns NULL when text is already
// valid (nothing allocated), else a malloc'd buffer of *out_len bytes.
char *utf8_repair(const char *text, size_t len, size_t *out_len);

// Unicode NFC of valid UTF-8 s. Returns NULL when s is already in NFC (the
// common case, checked cheaply), else a malloc'd buffer of *out_len bytes.
char *unicode_nfc(const char *s, size_t len, size_t *out_len);

// GPT-2 byte-level alphabet: byte b is shown as code point bytelevel_cp[b]
// (printable Latin-1 bytes as themselves, the rest as U+0100 + n).
extern const uint16_t bytelevel_cp[256];
// Inverse: the byte shown as code point cp, or -1 when cp is not in the alphabet.
int bytelevel_byte(uint32_t cp);

// The Unicode White_Space property (Rust's char::is_whitespace, which HF uses
// for added tokens' lstrip/rstrip and the Strip normalizer).
int unicode_is_whitespace(uint32_t cp);
