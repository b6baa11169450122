// Extended grapheme clusters (Unicode UAX #29, rules GB3-GB13 including the
// Indic conjunct rule GB9c), as Rust's unicode-segmentation `graphemes(true)`
// finds them — HF tokenizers' Precompiled normalizer (SentencePiece charsmaps)
// looks up whole clusters. Tables: tokenizer/unicode_gcb_data.h
// (tools/gen_unicode_gcb.py).
#pragma once
#include <stddef.h>
#include <stdint.h>

enum {
    GCB_OTHER = 0, GCB_CR, GCB_LF, GCB_CONTROL, GCB_EXTEND, GCB_ZWJ, GCB_RI, GCB_PREPEND, GCB_SPACINGMARK,
    GCB_L, GCB_V, GCB_T, GCB_LV, GCB_LVT
};
enum { INCB_NONE = 0, INCB_LINKER, INCB_CONSONANT, INCB_EXTEND };

// Property bits of cp: (value & 15) Grapheme_Cluster_Break, (value >> 4) & 1
// Extended_Pictographic, (value >> 5) & 3 Indic_Conjunct_Break.
unsigned unicode_gcb_props(uint32_t cp);

// Byte length of the grapheme cluster starting at s (valid UTF-8, n > 0 bytes).
size_t unicode_grapheme_len(const char *s, size_t n);
