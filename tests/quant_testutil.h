// Helpers shared by tests/test_quant*.c: the seeded matrix generator that
// tools/quant_fixtures.py mirrors, and tensor lookup in a fixture file.
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "weights/safetensors.h"

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

// Tensor `name` of a fixture file: its bytes and byte length; NULL if absent.
static inline const void *qt_get(const QrSafetensors *st, const char *name, size_t *nbytes) {
    for (int i = 0; i < st->n; i++)
        if (!strcmp(st->tensors[i].name, name)) {
            if (nbytes) *nbytes = st->tensors[i].nbytes;
            return st->tensors[i].data;
        }
    return NULL;
}
