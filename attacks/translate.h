// Translation engines for the sentence-level attack (back-translation
// English -> pivot -> English).
//
// An engine is a QrTranslator: a name recorded with every result, a pivot
// language, and a batch translate() of single-line texts. Engines:
//   apertium     Apertium from Debian (packages apertium, apertium-eng-spa):
//                rule-based, English -> Spanish -> English. A different engine
//                from the study's, labelled as such in every result.
//   mbart:DIR    mBART-50 many-to-many (the study's engine, pivot German), run in
//                qrobust itself from a Hugging Face checkpoint directory
//                (attacks/translate_mbart.c over attacks/mbart.h).
// A DIR without the "mbart:" prefix means mbart:DIR.
#pragma once
#include <stddef.h>
#include "util/err.h"

typedef struct QrTranslator QrTranslator;
struct QrTranslator {
    char name[192];    // e.g. "apertium eng-spa-eng (apertium-eng-spa 0.8.1-2)"
    const char *pivot; // ISO 639-1 code of the pivot language: "es", "de"
    // Translates n texts (each one line, no '\n') from src to dst (ISO 639-1
    // codes); out[i] is malloc'd. Returns 0, or -1 with e filled (then out holds
    // nothing).
    int (*translate)(QrTranslator *t, const char *src, const char *dst, const char *const *in, size_t n, char **out,
                     QrErr *e);
    void (*close)(QrTranslator *t);
};

// spec: "apertium", "mbart:DIR" or DIR.
int qr_translator_open(const char *spec, QrTranslator **out, QrErr *e);
void qr_translator_close(QrTranslator *t);

// English -> t->pivot -> English for n texts; out[i] malloc'd.
int qr_backtranslate(QrTranslator *t, const char *const *in, size_t n, char **out, QrErr *e);

// Engines (each in its own file).
// Apertium: the program is $QROBUST_APERTIUM if set, else `apertium` on PATH.
int qr_apertium_open(QrTranslator **out, QrErr *e);
int qr_mbart_open(const char *dir, QrTranslator **out, QrErr *e);
