// SHA-256 (FIPS 180-4), for content checksums recorded with results
// (config.json of a model, prompts, dataset files). Not for secrets.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t nbytes;
    uint8_t buf[64];
    size_t nbuf;
} QrSha256;

void qr_sha256_init(QrSha256 *s);
void qr_sha256_update(QrSha256 *s, const void *data, size_t len);
void qr_sha256_final(QrSha256 *s, uint8_t out[32]);
// One call: writes 64 lowercase hex digits and a NUL into hex[65].
void qr_sha256_hex(const void *data, size_t len, char hex[65]);
