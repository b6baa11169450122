// Prompt attacks: perturb the natural language of a benchmark prompt and keep
// everything else byte-identical (scope: attacks/scope.h).
//
// The study's three attacks:
//   char      ChangeCharCase: the candidates are the letters of the prompt's
//             prose words; the number to change is drawn as one Bernoulli(p)
//             per candidate (p = 0.5), capped at `cap` (5); that many candidate
//             positions, drawn uniformly without replacement, are uppercased
//             (an already uppercase letter stays as it is).
//   word      SynonymSubstitution: each prose word that is not an English
//             stopword, whose part of speech (attacks/postag.h) is noun, verb,
//             adjective or adverb, and that has WordNet synonyms of that part
//             of speech, is replaced with probability p (0.15) by one of its
//             first `max_syn` (3) synonym candidates (attacks/wordnet.h order),
//             drawn uniformly. The synonym is written in the word's case
//             pattern (Capitalized, UPPER, or as WordNet has it).
//   sentence  BackTranslation: each prose paragraph is translated English ->
//             pivot -> English by a translation engine (attacks/translate.h).
//             Protected chunks (code, literals) are swapped for placeholders
//             QRP<k>Q first and put back after; when a placeholder does not come
//             back exactly once the paragraph stays unchanged (counted as
//             failed). A paragraph spanning several lines is re-wrapped to the
//             width of its longest original line, with the original
//             indentation.
// Beyond the study, ReCode-style (Wang et al. 2022) optional attacks, which by
// design change code:
//   func-camel, func-swap, func-butter, func-synonym
//             rename the entry-point function (snake_case -> camelCase; two
//             adjacent letters swapped; one letter replaced by a QWERTY
//             neighbour; one name part replaced by a WordNet synonym), as a
//             whole identifier everywhere in the prompt. The new name is
//             returned (the record's entry_point and other code fields must be
//             renamed too: qr_rename_ident).
//   fmt-tab-indent    every leading 4 spaces of a line become a tab;
//   fmt-doc2comments  docstrings become # comments;
//   fmt-newline-aftercode  one more newline at the end of the prompt;
//   fmt-newline-afterdoc   an empty line after each docstring;
//   fmt-newlines      each line break is doubled with probability p (0.1), at
//                     least one.
//   none      the prompt unchanged (the clean baseline through the same path).
// Determinism: all randomness of a task comes from Philox keyed by
// qr_key64(seed, {attack name, task_id}) (attacks/rng.h), so a task
// reproduces alone, in any order, on any number of threads.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "attacks/translate.h"
#include "attacks/wordnet.h"
#include "util/err.h"

typedef enum {
    QR_ATTACK_NONE = 0,
    QR_ATTACK_CHAR,
    QR_ATTACK_WORD,
    QR_ATTACK_SENTENCE,
    QR_ATTACK_FUNC_CAMEL,
    QR_ATTACK_FUNC_SWAP,
    QR_ATTACK_FUNC_BUTTER,
    QR_ATTACK_FUNC_SYNONYM,
    QR_ATTACK_FMT_TAB_INDENT,
    QR_ATTACK_FMT_DOC2COMMENTS,
    QR_ATTACK_FMT_NEWLINE_AFTERCODE,
    QR_ATTACK_FMT_NEWLINE_AFTERDOC,
    QR_ATTACK_FMT_NEWLINES,
    QR_ATTACK_COUNT
} QrAttackKind;

typedef struct {
    QrAttackKind kind;
    uint64_t seed;
    double p;          // char: 0.5, word: 0.15, fmt-newlines: 0.1
    int cap;           // char: at most this many letters (5)
    int max_syn;       // word: candidates per word (3)
    const QrWordNet *wn;    // word, func-synonym
    QrTranslator *tr;       // sentence
} QrAttackCfg;

void qr_attack_defaults(QrAttackCfg *c, QrAttackKind k, uint64_t seed);
int qr_attack_parse(const char *name, QrAttackKind *out, QrErr *e);
const char *qr_attack_name(QrAttackKind k);
const char *qr_attack_list(void); // "none, char, word, ..." for help texts
int qr_attack_needs_wordnet(QrAttackKind k);
int qr_attack_needs_translator(QrAttackKind k);
int qr_attack_is_prose_only(QrAttackKind k); // char, word, sentence (and none)

typedef struct {
    const char *task_id;
    const char *prompt;
    const char *entry_point; // may be NULL (func-* attacks then change nothing)
} QrAttackIn;

typedef struct {
    char *prompt;      // the attacked prompt (malloc'd)
    char *entry_point; // func-*: the new entry point name (malloc'd); else NULL
    int units;         // what changed: letters (char), words (word), paragraphs
                       // (sentence), names (func-*), lines/line breaks (fmt-*)
    int failed;        // sentence: paragraphs left unchanged (placeholder lost)
} QrAttackOut;

// Attacks n tasks. out[i] is filled for every i on success; on error nothing
// is left allocated. The sentence attack translates all paragraphs of the
// batch in one engine call; the others work task by task.
int qr_attack_run(const QrAttackCfg *c, const QrAttackIn *in, size_t n, QrAttackOut *out, QrErr *e);
void qr_attack_out_free(QrAttackOut *o);

// The same for callers that do not manage WordNet or a translation engine
// themselves (the study runner, the CLI): when the attack needs them and c has
// none, WordNet is opened from wordnet_dir (NULL: default) and the engine from
// translator (NULL: "apertium"), and closed again. engine (may be NULL)
// receives what produced the prompts, to record with results: the translation
// engine's name for sentence, "qrobust <attack>" otherwise (word: "+ WordNet 3.0").
int qr_attack_run_with(const QrAttackCfg *c, const char *wordnet_dir, const char *translator, const QrAttackIn *in,
                       size_t n, QrAttackOut *out, char *engine, size_t elen, QrErr *e);

// text with every whole-identifier occurrence of old replaced by new (malloc'd).
char *qr_rename_ident(const char *text, const char *old, const char *new_name);
