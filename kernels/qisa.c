// See kernels/qisa.h.
#include "kernels/qisa.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static int detect(void) {
    int isa = QR_ISA_SCALAR;
#if defined(__AVX2__) && defined(__FMA__)
    isa = QR_ISA_AVX2;
#if defined(__GNUC__) || defined(__clang__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        isa = QR_ISA_AVX512;
#endif
#endif
    const char *env = getenv("QROBUST_SIMD");
    if (env && strcmp(env, "scalar") == 0) isa = QR_ISA_SCALAR;
    if (env && strcmp(env, "avx2") == 0 && isa > QR_ISA_AVX2) isa = QR_ISA_AVX2;
    return isa;
}

// Atomic so that a first call from inside a parallel region is not a data race
// (every thread would compute the same value).
static _Atomic int g_isa = -1;

int qr_qisa(void) {
    int v = atomic_load_explicit(&g_isa, memory_order_relaxed);
    if (v < 0) {
        v = detect();
        atomic_store_explicit(&g_isa, v, memory_order_relaxed);
    }
    return v;
}

const char *qr_qisa_name(void) {
    static const char *names[] = {"scalar", "avx2", "avx512"};
    return names[qr_qisa()];
}

void qr_qisa_reset(void) { atomic_store_explicit(&g_isa, -1, memory_order_relaxed); }

void qr_qisa_cap(const char *level) {
    if (level) setenv("QROBUST_SIMD", level, 1);
    else unsetenv("QROBUST_SIMD");
    qr_qisa_reset();
}
