#include "util/membw.h"
#include <omp.h>
#include <stdlib.h>
#include "util/timer.h"
#ifdef __AVX2__
#include <immintrin.h>
#endif

double qr_read_bandwidth(const float *buf, size_t n, int reps) {
    double best = 1e30;
    volatile float sink = 0;
    for (int r = 0; r < reps; r++) {
        double t = qr_now();
        float total = 0;
#pragma omp parallel reduction(+ : total)
        {
            int nt = omp_get_num_threads(), id = omp_get_thread_num();
            size_t b = n * id / nt / 64 * 64, e = id == nt - 1 ? n : n * (id + 1) / nt / 64 * 64;
#ifdef __AVX2__
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (size_t i = b; i < e; i += 32) {
                a0 = _mm256_add_ps(a0, _mm256_load_ps(buf + i));
                a1 = _mm256_add_ps(a1, _mm256_load_ps(buf + i + 8));
                a2 = _mm256_add_ps(a2, _mm256_load_ps(buf + i + 16));
                a3 = _mm256_add_ps(a3, _mm256_load_ps(buf + i + 24));
            }
            float tmp[8];
            _mm256_storeu_ps(tmp, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
            for (int j = 0; j < 8; j++) total += tmp[j];
#else
            for (size_t i = b; i < e; i++) total += buf[i];
#endif
        }
        t = qr_now() - t;
        sink += total;
        if (t < best) best = t;
    }
    (void)sink;
    return (double)n * sizeof(float) / best / 1e9;
}

double qr_read_bandwidth_probe(size_t bytes, int reps) {
    size_t n = bytes / sizeof(float) / 64 * 64;
    float *buf = aligned_alloc(64, n * sizeof *buf);
    if (!buf) return 0;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 1023);
    double bw = qr_read_bandwidth(buf, n, reps);
    free(buf);
    return bw;
}
