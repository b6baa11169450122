// WordNet 3.0 read straight from its database files (Debian's wordnet-base,
// /usr/share/wordnet): index.{noun,verb,adj,adv}, data.*, and the morphological
// exception lists *.exc. No NLTK, no NLTK data.
//
// The index files are read into memory and hashed (about 150k lemmas, ~6 MB);
// the data files are memory-mapped: a synset's offset in the index IS its byte
// offset in data.<pos>, so a synset is read by jumping there.
//
// Lemmatization is WordNet's morphy as NLTK implements it (nltk/corpus/reader/
// wordnet.py, _morphy): if the word is in <pos>.exc, its base forms are the word
// and the listed bases that exist in the index; otherwise the detachment rules
// below are applied once and every candidate (the word itself first) found in
// the index is returned; if none is found the rules are applied again to the
// candidates until something is found or nothing is left.
//   noun: s->, ses->s, ves->f, xes->x, zes->z, ches->ch, shes->sh, men->man, ies->y
//   verb: s->, ies->y, es->e, es->, ed->e, ed->, ing->e, ing->
//   adj:  er->, est->, er->e, est->e
//   adv:  (none)
// Synonyms: the synsets of every morphy form, shortest form first (the lemma
// NLTK's WordNetLemmatizer picks; otherwise "numbers" would offer the senses of
// the Book of Numbers first), each form's synsets in index order (WordNet's
// sense-frequency order), and within a synset its lemmas in file order.
#pragma once
#include <stddef.h>
#include "util/err.h"

typedef enum { QR_WN_NOUN = 0, QR_WN_VERB = 1, QR_WN_ADJ = 2, QR_WN_ADV = 3 } QrWnPos;
#define QR_WN_NPOS 4
#define QR_WN_MAXWORD 96 // longest lemma handled, bytes with the NUL

typedef struct QrWordNet QrWordNet;

// dir: the WordNet "dict" directory; NULL means $QROBUST_WORDNET if set, else
// /usr/share/wordnet. The error names the directory and says which Debian
// package provides it.
int qr_wordnet_open(QrWordNet **out, const char *dir, QrErr *e);
void qr_wordnet_free(QrWordNet *wn);
const char *qr_wordnet_default_dir(void);

// Base forms of `word` (any case; looked up lowercased) for pos, in morphy
// order; at most max of them are written; returns how many there are (<= max).
int qr_wordnet_morphy(const QrWordNet *wn, const char *word, QrWnPos pos, char out[][QR_WN_MAXWORD], int max);

// Synonym candidates of `word` as part of speech pos: lemma names of its synsets
// in the order above, with '_' written as ' ' and adjective markers ("(a)",
// "(p)", "(ip)") removed, without duplicates (case-insensitive) and without the
// word itself or any of its base forms. Writes at most max; returns the count.
int qr_wordnet_synonyms(const QrWordNet *wn, const char *word, QrWnPos pos, char out[][QR_WN_MAXWORD], int max);

// Evidence for choosing a part of speech: summed over the morphy forms of word,
// the number of synsets and the number of senses tagged in WordNet's semantic
// concordance (index field tagsense_cnt). Both 0 if the word has no form in pos.
typedef struct {
    int synsets;
    int tagged;
} QrWnCount;
QrWnCount qr_wordnet_count(const QrWordNet *wn, const char *word, QrWnPos pos);

// Is `lemma` (exactly, lowercase, spaces as '_') a lemma of some synset of pos?
int qr_wordnet_is_lemma(const QrWordNet *wn, const char *lemma, QrWnPos pos);

const char *qr_wn_pos_name(QrWnPos p); // "noun", "verb", "adj", "adv"
