// Helpers shared by tests/test_quant*.c: the seeded matrix generator that
// tools/quant_fixtures.py mirrors, and fixture lookup in bnb_ref.safetensors.
#pragma once
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/fileio.h"

#define QFIX "tests/fixtures/quant/bnb_ref.safetensors"

// splitmix64 stream; each value is the sum of 12 uniforms in [0,1) minus 6
// (approximately standard normal), scaled, rounded once to float. Exact double
// arithmetic throughout, so numpy reproduces it bit for bit.
static inline void qt_gen(uint64_t seed, int64_t n, double scale, float *out) {
    uint64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        double acc = 0.0;
        for (int j = 0; j < 12; j++) {
            uint64_t z = seed + (++k) * 0x9E3779B97F4A7C15ull;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
            z = z ^ (z >> 31);
            acc = acc + (double)(z >> 11) * 0x1.0p-53;
        }
        out[i] = (float)((acc - 6.0) * scale);
    }
}

// Minimal read-only view of a safetensors file for the fixtures (the format:
// 8-byte little-endian header length, JSON header, data section).
typedef struct {
    QrMap map;
    json_t *hdr;
    const uint8_t *data;
} QtFix;

static inline int qt_open(QtFix *f, const char *path) {
    QrErr e;
    memset(f, 0, sizeof *f);
    if (qr_map_file(&f->map, path, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    uint64_t n;
    memcpy(&n, f->map.data, 8);
    json_error_t je;
    f->hdr = json_loadb((const char *)f->map.data + 8, (size_t)n, 0, &je);
    f->data = f->map.data + 8 + n;
    return f->hdr ? 0 : -1;
}

static inline void qt_close(QtFix *f) {
    json_decref(f->hdr);
    qr_unmap(&f->map);
}

// Tensor `name`: pointer to its bytes and byte length; NULL if absent.
static inline const void *qt_get(const QtFix *f, const char *name, size_t *nbytes) {
    json_t *t = json_object_get(f->hdr, name);
    if (!t) return NULL;
    json_t *off = json_object_get(t, "data_offsets");
    size_t a = (size_t)json_integer_value(json_array_get(off, 0)), b = (size_t)json_integer_value(json_array_get(off, 1));
    if (nbytes) *nbytes = b - a;
    return f->data + a;
}

// Metadata value (a JSON string) parsed as JSON, e.g. "case.small".
static inline json_t *qt_meta(const QtFix *f, const char *key) {
    json_t *m = json_object_get(f->hdr, "__metadata__");
    const char *s = json_string_value(json_object_get(m, key));
    return s ? json_loads(s, 0, NULL) : NULL;
}
