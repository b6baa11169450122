#include "util/grow.h"
#include <stdlib.h>

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
