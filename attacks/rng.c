#include "attacks/rng.h"
#include <string.h>

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv_byte(uint64_t h, uint8_t b) { return (h ^ b) * FNV_PRIME; }

uint64_t qr_key64(uint64_t seed, const char *const *parts, size_t n) {
    uint64_t h = FNV_OFFSET;
    for (int i = 0; i < 8; i++) h = fnv_byte(h, (uint8_t)(seed >> (8 * i)));
    for (size_t p = 0; p < n; p++) {
        for (const unsigned char *s = (const unsigned char *)parts[p]; *s; s++) h = fnv_byte(h, *s);
        h = fnv_byte(h, 0xFF);
    }
    return qr_mix64(h);
}

void qr_rng_init(QrRng *r, uint64_t key64) {
    memset(r, 0, sizeof *r);
    r->key[0] = (uint32_t)key64;
    r->key[1] = (uint32_t)(key64 >> 32);
}

uint32_t qr_rng_u32(QrRng *r) {
    if (r->avail == 0) {
        uint32_t ctr[4] = {(uint32_t)r->ctr, (uint32_t)(r->ctr >> 32), 0, 0};
        qr_philox4x32_10(ctr, r->key, r->buf);
        r->ctr++;
        r->avail = 4;
    }
    return r->buf[4 - r->avail--];
}

double qr_rng_uniform(QrRng *r) {
    uint64_t hi = qr_rng_u32(r) >> 5, lo = qr_rng_u32(r) >> 6; // 27 + 26 bits
    return ((double)hi * 67108864.0 + (double)lo) * (1.0 / 9007199254740992.0);
}

uint32_t qr_rng_below(QrRng *r, uint32_t n) {
    // Accept x < floor(2^32 / n) * n, then x mod n is exactly uniform.
    uint32_t limit = (uint32_t)((0x100000000ull / n) * n - 1);
    for (;;) {
        uint32_t x = qr_rng_u32(r);
        if (x <= limit) return x % n;
    }
}
