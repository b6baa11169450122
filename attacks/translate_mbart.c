// The mBART-50 engine of the sentence attack (facebook/mbart-large-50-many-to-
// many-mmt, the study's back-translation model; English -> German -> English):
// a QrTranslator over attacks/mbart.h. Each text is translated as transformers
// does it: tokenizer(text) with src_lang, generate(forced_bos_token_id = the
// target language code) with the checkpoint's generation defaults,
// decode(skip_special_tokens=True).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attacks/mbart.h"
#include "attacks/translate.h"

typedef struct {
    QrTranslator base;
    MbartTranslator *mt;
} MbartEngine;

// ISO 639-1 "de" -> "de_DE" (the 52 mBART-50 codes differ in their first two
// letters); a full code is taken as it is.
static const char *lang_code(const char *iso) {
    for (int i = 0; i < MBART_N_LANGS; i++)
        if (!strcmp(iso, mbart_langs[i]) || (strlen(iso) == 2 && !strncmp(iso, mbart_langs[i], 2))) return mbart_langs[i];
    return NULL;
}

static int mbart_translate_batch(QrTranslator *t, const char *src, const char *dst, const char *const *in, size_t n,
                                 char **out, QrErr *e) {
    MbartEngine *me = (MbartEngine *)t;
    const char *s = lang_code(src), *d = lang_code(dst);
    if (!s || !d) return qr_fail(e, "%s: language %s -> %s is not among mBART-50's", t->name, src, dst);
    for (size_t i = 0; i < n; i++) {
        if (!(out[i] = mbart_translate(me->mt, in[i], s, d, e))) {
            for (size_t k = 0; k < i; k++) {
                free(out[k]);
                out[k] = NULL;
            }
            qr_err_prefix(e, "%s: text %zu", t->name, i);
            return -1;
        }
    }
    return 0;
}

static void mbart_close(QrTranslator *t) {
    MbartEngine *me = (MbartEngine *)t;
    mbart_translator_free(me->mt);
    free(me);
}

int qr_mbart_open(const char *dir, QrTranslator **out, QrErr *e) {
    *out = NULL;
    MbartEngine *me = calloc(1, sizeof *me);
    if (!me) return qr_fail(e, "out of memory");
    if (mbart_translator_load(&me->mt, dir, e)) {
        qr_err_prefix(e, "translator mbart:%s", dir);
        free(me);
        return -1;
    }
    const MbartGen *g = &me->mt->model->gen;
    const char *base = strrchr(dir, '/');
    base = base && base[1] ? base + 1 : dir;
    snprintf(me->base.name, sizeof me->base.name, "mbart-50 en-de-en (%.80s; %s; %d beams, max_length %d)", base,
             me->mt->tok.source, g->num_beams, g->max_length);
    me->base.pivot = "de";
    me->base.translate = mbart_translate_batch;
    me->base.close = mbart_close;
    *out = &me->base;
    return 0;
}
