// Scope of the prompt attacks: which bytes of a prompt are natural language.
//
// Prompts are Python source (HumanEval: imports, signatures and docstrings;
// MBPP+: one module docstring holding the description line and an assert).
// Only docstring prose may change; everything else stays byte-identical.
//
// 1. Docstrings. The prompt is scanned like Python: comments and ordinary
//    string literals are skipped; a triple-quoted string (any prefix r/b/u/f)
//    that is the first token of its line is a docstring.
// 2. Lines of a docstring. Each line is prose or code:
//      - a line starting with ">>>" is code, and so is every following
//        non-blank line up to a blank line or the next ">>>" (doctest output);
//      - a line starting with "assert" (MBPP+), or with an identifier directly
//        followed by "(" or "[" ("fib4(3) -> 0", "digitSum(\"abAB\") => 131"),
//        is code;
//      - a line with fewer than 4 English-looking words (chunks of 2+ letters)
//        is code if it contains "==", "=>", "->", "!=", "<=", ">=" or " = "
//        ("MAD = average | x - x_mean |") or if fewer than half of its
//        non-blank bytes are letters ("[1, 4, 2, 4, 3]", "0.5", "'100'");
//      - any other non-blank line is prose; its prose span runs from its first
//        to its last non-blank byte (indentation and the quotes are outside).
//    Consecutive prose lines form a block (a paragraph); blank and code lines
//    end blocks.
// 3. Words of a prose line: the whitespace-separated chunks. A chunk's core is
//    the chunk without leading ( [ { " ' and trailing . , ; : ! ? ) ] } " '.
//    A chunk is protected (never changed, by any attack) when
//      - it opens a quoted literal (its first byte after ( or [ is ' " or `):
//        the chunks up to the one that closes the quote on the same line are
//        protected together ('a', "Hello World", `numbers');
//      - its core is not letters with single inner apostrophes or hyphens
//        (digits, '_', operators, brackets inside, non-ASCII: "x^2", "xs[0]",
//        "1s", "find_zero", "e.g.", "newman–shanks–williams");
//      - its core is a single letter other than a, A, I (a variable: "n", "x"),
//        or one of the Python constants True, False, None.
//    Everything else is a word the attacks may change (only inside its core).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "util/err.h"

typedef struct {
    size_t start, end;    // bytes: the core of a word, or the whole chunk when protected
    uint32_t block;       // the paragraph it belongs to
    uint8_t protect;      // 1: code-like or literal, never changed
    uint8_t clause_start; // first in its block, or after . ! ? : ;
    uint8_t comma_before; // a ',' ends the previous chunk
} QrProseTok;

typedef struct {
    size_t start, end; // prose bytes of one line (no newline inside)
    uint32_t block;
} QrProseLine;

typedef struct {
    QrProseLine *lines;
    size_t nlines;
    QrProseTok *toks; // in text order
    size_t ntoks;
    uint32_t nblocks;
} QrProse;

int qr_prose_scan(const char *text, size_t len, QrProse *out, QrErr *e);
void qr_prose_free(QrProse *p);

// Byte ranges of the docstrings' contents (between the quotes), in order.
typedef struct {
    size_t start, end;   // content, without the quotes
    size_t qstart, qend; // the whole literal, quotes (and prefix) included
    int quote;           // '"' or '\''
} QrDocstring;
int qr_docstrings(const char *text, size_t len, QrDocstring **out, size_t *n, QrErr *e);
