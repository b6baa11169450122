// Counter-based random numbers for every attack.
//
// Everything random in qrobust's attacks comes from Philox4x32-10 (Salmon,
// Moraes, Dror, Shaw: "Parallel Random Numbers: As Easy as 1, 2, 3", SC 2011;
// the reference implementation is Random123). Philox is a keyed bijection of a
// 128-bit counter: output = philox(counter, key). Nothing is carried from one
// draw to the next, so a value can be recomputed from its coordinates alone, by
// any thread, in any order, on the CPU or on a GPU.
//
// Keys are derived from a 64-bit seed and one or more strings by qr_key64():
//
//   h = 0xcbf29ce484222325                      (FNV-1a 64 offset basis)
//   feed the 8 bytes of seed, little-endian     (FNV-1a step: h ^= byte; h *= 0x100000001b3)
//   for each string part: feed its bytes, then the byte 0xFF (never in UTF-8,
//                                                 so ("ab","c") != ("a","bc"))
//   key64 = splitmix64_finalizer(h)             (x ^= x>>30; x *= 0xbf58476d1ce4e5b9;
//                                                 x ^= x>>27; x *= 0x94d049bb133111eb;
//                                                 x ^= x>>31)
//   Philox key = { low 32 bits of key64, high 32 bits of key64 }
//
// Weight noise uses the key of (seed, tensor name); prompt attacks use the key
// of (seed, attack name, task_id) and then draw a stream with QrRng.
#pragma once
#include <stddef.h>
#include <stdint.h>

// Philox4x32 round constants (Random123, philox.h).
#define QR_PHILOX_M0 0xD2511F53u
#define QR_PHILOX_M1 0xCD9E8D57u
#define QR_PHILOX_W0 0x9E3779B9u
#define QR_PHILOX_W1 0xBB67AE85u

// Philox4x32 with 10 rounds. Each round:
//   (hi0, lo0) = 64-bit product M0 * c0;  (hi1, lo1) = M1 * c2
//   c = { hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0 }
// and between rounds the key is bumped: k0 += W0, k1 += W1.
static inline void qr_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        if (r) {
            k0 += QR_PHILOX_W0;
            k1 += QR_PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)QR_PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)QR_PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0;
        c1 = (uint32_t)p1;
        c2 = n2;
        c3 = (uint32_t)p0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

static inline uint64_t qr_mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

// The key of (seed, parts[0], ..., parts[n-1]) as specified above.
uint64_t qr_key64(uint64_t seed, const char *const *parts, size_t n);

// A stream of random numbers for the prompt attacks: Philox with a fixed key
// and a counter that advances by one per 4 words drawn.
typedef struct {
    uint32_t key[2];
    uint64_t ctr;   // next counter block
    uint32_t buf[4];
    int avail;      // words left in buf (taken from buf[4-avail] on)
} QrRng;

void qr_rng_init(QrRng *r, uint64_t key64);
uint32_t qr_rng_u32(QrRng *r);
// Uniform double in [0, 1) with 53 random bits (two words).
double qr_rng_uniform(QrRng *r);
// Uniform integer in [0, n), n >= 1, unbiased (rejection of the short last bucket).
uint32_t qr_rng_below(QrRng *r, uint32_t n);
