#include "attacks/translate.h"
#include <stdlib.h>
#include <string.h>

int qr_translator_open(const char *spec, QrTranslator **out, QrErr *e) {
    *out = NULL;
    if (!spec || !*spec) return qr_fail(e, "--translator: empty engine name (apertium or mbart:DIR)");
    if (!strcmp(spec, "apertium")) return qr_apertium_open(out, e);
    if (!strncmp(spec, "mbart:", 6)) return qr_mbart_open(spec + 6, out, e);
    return qr_mbart_open(spec, out, e);
}

void qr_translator_close(QrTranslator *t) {
    if (t) t->close(t);
}

int qr_backtranslate(QrTranslator *t, const char *const *in, size_t n, char **out, QrErr *e) {
    char **mid = calloc(n ? n : 1, sizeof *mid);
    if (!mid) return qr_fail(e, "out of memory");
    int rc = t->translate(t, "en", t->pivot, in, n, mid, e);
    if (!rc) {
        rc = t->translate(t, t->pivot, "en", (const char *const *)mid, n, out, e);
        for (size_t i = 0; i < n; i++) free(mid[i]);
    }
    free(mid);
    return rc;
}
