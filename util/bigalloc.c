#include "util/bigalloc.h"
#include <stdlib.h>
#include <sys/mman.h>

void *qr_alloc_lines(size_t bytes) {
    return aligned_alloc(64, (bytes + 63) / 64 * 64 + (bytes == 0 ? 64 : 0));
}

void *qr_alloc_weights(size_t bytes) {
    const size_t huge = (size_t)2 << 20;
    if (bytes < huge) return qr_alloc_lines(bytes);
    const size_t n = (bytes + huge - 1) / huge * huge;
    void *p = aligned_alloc(huge, n);
#ifdef MADV_HUGEPAGE
    if (p) (void)madvise(p, n, MADV_HUGEPAGE); // advice only: failure leaves 4 KiB pages
#endif
    return p;
}
