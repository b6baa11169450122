#include "util/membw.h"
#include <omp.h>
#include <stdlib.h>
#include "util/bigalloc.h"
#include "util/timer.h"
#ifdef __AVX2__
#include <immintrin.h>
#endif

// One pass over buf by the OpenMP team, each thread its contiguous share read
// as `streams` interleaved sequential streams (1 or 8); seconds.
static double pass(const float *buf, size_t n, int streams, volatile float *sink) {
    double t = qr_now();
    float total = 0;
#pragma omp parallel reduction(+ : total)
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        size_t b = n * id / nt / 64 * 64, e = id == nt - 1 ? n : n * (id + 1) / nt / 64 * 64;
        // streams == 8: 8 x len floats read in lockstep, then the rest (a multiple
        // of 32) as one stream.
        size_t len = streams == 8 ? (e - b) / 8 / 32 * 32 : 0;
#ifdef __AVX2__
        __m256 a[8];
        for (int s = 0; s < 8; s++) a[s] = _mm256_setzero_ps();
        for (size_t i = 0; i < len; i += 8)
            for (int s = 0; s < 8; s++) a[s] = _mm256_add_ps(a[s], _mm256_load_ps(buf + b + s * len + i));
        for (size_t i = b + 8 * len; i < e; i += 32) {
            a[0] = _mm256_add_ps(a[0], _mm256_load_ps(buf + i));
            a[1] = _mm256_add_ps(a[1], _mm256_load_ps(buf + i + 8));
            a[2] = _mm256_add_ps(a[2], _mm256_load_ps(buf + i + 16));
            a[3] = _mm256_add_ps(a[3], _mm256_load_ps(buf + i + 24));
        }
        float tmp[8];
        for (int s = 1; s < 8; s++) a[0] = _mm256_add_ps(a[0], a[s]);
        _mm256_storeu_ps(tmp, a[0]);
        for (int j = 0; j < 8; j++) total += tmp[j];
#else
        (void)len;
        for (size_t i = b; i < e; i++) total += buf[i];
#endif
    }
    *sink += total;
    return qr_now() - t;
}

// Both access patterns of the decode kernels (kernels/gemm.h: one weight row
// at a time or eight interleaved), since which one the memory serves faster
// depends on the CPU; the faster is the machine's bandwidth.
double qr_read_bandwidth(const float *buf, size_t n, int reps) {
    double best = 1e30;
    volatile float sink = 0;
    for (int r = 0; r < reps; r++)
        for (int streams = 1; streams <= 8; streams += 7) {
            double t = pass(buf, n, streams, &sink);
            if (t < best) best = t;
        }
    return (double)n * sizeof(float) / best / 1e9;
}

double qr_read_bandwidth_probe(size_t bytes, int reps) {
    size_t n = bytes / sizeof(float) / 64 * 64;
    float *buf = qr_alloc_weights(n * sizeof *buf); // the weights' kind of memory (huge pages where THP allows)
    if (!buf) return 0;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 1023);
    double bw = qr_read_bandwidth(buf, n, reps);
    free(buf);
    return bw;
}
