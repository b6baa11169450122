// Memory-read bandwidth of this machine, measured the way a decode step reads
// weights: every thread of the current OpenMP team streams its share of a
// buffer far larger than the caches (AVX2 loads where available), as one
// sequential stream and as eight interleaved ones; the faster counts. Used by the
// benchmarks to state decode speed as a share of what the memory can deliver.
#pragma once
#include <stddef.h>

// GB/s (1e9 bytes/s) reading n floats of buf (64-byte aligned, n a multiple of
// 64), best of reps passes of each pattern.
double qr_read_bandwidth(const float *buf, size_t n, int reps);
// Allocates and fills a buffer of `bytes` (1 GiB is far beyond any cache here),
// measures qr_read_bandwidth on it, frees it. Returns 0 if out of memory.
double qr_read_bandwidth_probe(size_t bytes, int reps);
