#include "util/strmap.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static void *xcalloc(size_t n, size_t sz) {
    void *p = calloc(n, sz);
    if (!p) { fputs("qrobust: out of memory\n", stderr); abort(); }
    return p;
}

void qr_strmap_init(QrStrMap *m) { memset(m, 0, sizeof *m); }

void qr_strmap_free(QrStrMap *m) {
    for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    qr_strmap_init(m);
}

static size_t slot(const QrStrMap *m, const char *key) {
    size_t i = (size_t)(fnv1a(key) & (m->cap - 1));
    while (m->keys[i] && strcmp(m->keys[i], key)) i = (i + 1) & (m->cap - 1);
    return i;
}

int qr_strmap_get(const QrStrMap *m, const char *key, int64_t *val) {
    if (!m->cap) return 0;
    size_t i = slot(m, key);
    if (!m->keys[i]) return 0;
    if (val) *val = m->vals[i];
    return 1;
}

void qr_strmap_put(QrStrMap *m, const char *key, int64_t val) {
    if ((m->n + 1) * 2 > m->cap) { // keep load <= 1/2
        QrStrMap g = {xcalloc(m->cap ? m->cap * 2 : 64, sizeof(char *)), NULL, m->cap ? m->cap * 2 : 64, m->n};
        g.vals = xcalloc(g.cap, sizeof(int64_t));
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) {
                size_t j = slot(&g, m->keys[i]);
                g.keys[j] = m->keys[i];
                g.vals[j] = m->vals[i];
            }
        free(m->keys);
        free(m->vals);
        *m = g;
    }
    size_t i = slot(m, key);
    if (!m->keys[i]) {
        m->keys[i] = strdup(key);
        if (!m->keys[i]) { fputs("qrobust: out of memory\n", stderr); abort(); }
        m->n++;
    }
    m->vals[i] = val;
}
