// Memory for model weights: large, long-lived, streamed from start to end once
// per decoded token. Buffers of 2 MiB and more are 2 MiB aligned and asked for
// transparent huge pages (madvise; a no-op where THP is off or "never"): on
// 4 KiB pages the stream takes a TLB miss every 4 KiB, and the NF4 decode
// kernel measured 38 vs 43 G weights/s on two threads (bench/RESULTS.md).
// Smaller buffers are 64-byte aligned. Released with free().
#pragma once
#include <stddef.h>

void *qr_alloc_weights(size_t bytes);

// Scratch for SIMD loads: 64-byte (cache line) aligned, size rounded up to
// whole lines. malloc's 16-byte alignment splits every 64-byte load of a
// buffer across two lines (the NF4 decode's reordered x, L2-resident 1536 x 2048:
// 22.6 -> 23.5 G weights/s on one thread once aligned). Released with free().
void *qr_alloc_lines(size_t bytes);
