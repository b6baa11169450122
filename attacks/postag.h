// Part-of-speech decision for the word attack, built from WordNet itself (no
// trained tagger exists here: no NLTK data, no spaCy model).
//
// Method, for each word of a paragraph, left to right:
//  1. Function words are X (not attackable): the English stopword list (NLTK's
//     179 words), other prepositions/conjunctions/determiners/modals, number
//     words, and protected chunks (code, literals).
//  2. The candidate parts of speech are those for which WordNet's morphy finds
//     a base form. None: the word is a noun (taggers' default for unknowns).
//  3. Context rules decide between candidates (first match wins):
//     - "-ly" word with an adverb reading, "least" after "at" -> adverb;
//     - hyphenated word unknown to WordNet -> adjective before a noun, else noun
//       ("non-prime numbers");
//     - before "than" -> adjective (else adverb) ("greater than");
//     - first word of a clause with a verb reading, followed by a function word
//       other than a copula or modal -> verb (imperatives: "Write a", "Return
//       the"); first word before a copula or modal -> noun;
//     - after "to", a modal or "that/which/who", with a verb reading -> verb;
//     - before "to", with an adjective reading, not a participle -> adjective
//       ("equal to");
//     - before a determiner, with a verb reading -> verb ("sum all", "returns the");
//     - after a copula: a participle (-ed, -en, -ing) -> verb, else adjective,
//       else noun;
//     - inside a noun phrase (opened by a determiner, a preposition, a number,
//       or a verb when the word is verb-first by rule 4; continued by nouns and
//       adjectives; ended by a participle without a noun reading): an
//       adjective reading followed by a noun, adjective or number -> adjective
//       (a modifier), else noun (the head), else adjective;
//     - a participle after a noun, a comma or a ')' -> verb ("returned", "joined");
//     Words WordNet does not know count as nouns.
//  4. Otherwise the part of speech whose WordNet forms have the most senses
//     tagged in WordNet's semantic concordance (index field tagsense_cnt),
//     then the most synsets, then noun > verb > adjective > adverb.
// Agreement with hand-labelled MBPP descriptions is measured by
// tests/test_attack_pos.c (README, "Attacks").
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "attacks/wordnet.h"

typedef enum { QR_TAG_X = 0, QR_TAG_N = 1, QR_TAG_V = 2, QR_TAG_A = 3, QR_TAG_R = 4 } QrTag;

typedef struct {
    const char *w;        // the token, lowercase (protected chunks: anything)
    uint8_t is_word;      // 0 for protected chunks (code, literals, numbers)
    uint8_t clause_start; // first token of a sentence or clause
    uint8_t comma_before;
} QrTagTok;

void qr_pos_tag(const QrWordNet *wn, const QrTagTok *toks, size_t n, QrTag *out);

// NLTK's English stopword list (nltk_data corpora/stopwords/english, 179 words).
int qr_is_stopword(const char *lower);
char qr_tag_char(QrTag t); // 'X', 'N', 'V', 'A', 'R'
QrWnPos qr_tag_wnpos(QrTag t); // N/V/A/R -> WordNet pos (X: -1 cast)

// Tags every token of a scanned prompt (attacks/scope.h), paragraph by
// paragraph; protected tokens get X. tags has p->ntoks entries. Returns -1 when
// out of memory.
#include "attacks/scope.h"
int qr_prose_tag(const QrWordNet *wn, const char *text, const QrProse *p, QrTag *tags);
