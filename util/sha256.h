// SHA-256 (FIPS 180-4), for content keys of caches (e.g. expected outputs are
// cached under the checksum of the dataset file they were computed from).
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t nbytes;
    uint8_t block[64];
    size_t nblock;
} QrSha256;

void qr_sha256_init(QrSha256 *s);
void qr_sha256_update(QrSha256 *s, const void *p, size_t n);
void qr_sha256_final(QrSha256 *s, uint8_t out[32]);
// One shot: 64 lowercase hex digits + NUL into hex.
void qr_sha256_hex(const void *p, size_t n, char hex[65]);
