// libFuzzer target: the prompt scanner and every prompt attack on arbitrary
// text must return a result or an error, never read out of bounds or leak.
// The sentence attack runs through an identity "engine" (restore, re-wrap);
// the word attack only when WordNet is installed. Seeds: any Python source,
// e.g. the prompts of tests/fixtures/attack/prompts_*.jsonl.gz.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "attacks/prompt.h"
#include "attacks/scope.h"

static QrWordNet *wn;

static int ident(QrTranslator *t, const char *src, const char *dst, const char *const *in, size_t n, char **out,
                 QrErr *e) {
    (void)t, (void)src, (void)dst, (void)e;
    for (size_t i = 0; i < n; i++) out[i] = strdup(in[i]);
    return 0;
}
static void noclose(QrTranslator *t) { (void)t; }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    QrErr e;
    if (qr_wordnet_open(&wn, NULL, &e)) wn = NULL;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 8192) size = 8192;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0; // the prompt is a C string: stop at the first NUL
    QrProse p;
    QrErr e;
    if (qr_prose_scan(text, strlen(text), &p, &e) == 0) qr_prose_free(&p);
    QrTranslator tr = {"identity", "xx", ident, noclose};
    for (int k = 0; k < QR_ATTACK_COUNT; k++) {
        if (qr_attack_needs_wordnet((QrAttackKind)k) && !wn) continue;
        QrAttackCfg c;
        qr_attack_defaults(&c, (QrAttackKind)k, size);
        c.wn = wn;
        c.tr = &tr;
        QrAttackIn in = {"fuzz/0", text, "f"};
        QrAttackOut o;
        if (qr_attack_run(&c, &in, 1, &o, &e) == 0) qr_attack_out_free(&o);
    }
    free(text);
    return 0;
}
