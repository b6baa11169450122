#include "attacks/text.h"
#include <stdlib.h>
#include <string.h>

int qr_grow(void **p, size_t *cap, size_t n, size_t elt) {
    if (n <= *cap) return 0;
    size_t c = *cap ? *cap : 8;
    while (c < n) c *= 2;
    void *q = realloc(*p, c * elt);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

void qr_text_add(QrText *b, const char *s, size_t n) {
    if (b->oom) return;
    if (qr_grow((void **)&b->s, &b->cap, b->len + n + 1, 1)) {
        b->oom = 1;
        return;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void qr_text_adds(QrText *b, const char *s) { qr_text_add(b, s, strlen(s)); }
void qr_text_addc(QrText *b, char c) { qr_text_add(b, &c, 1); }

char *qr_text_take(QrText *b) {
    char *s = b->s ? b->s : calloc(1, 1);
    b->s = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
    return s;
}

void qr_text_free(QrText *b) {
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}
