// Which SIMD level the quantized kernels (kernels/nf4_matmul.c,
// kernels/int8_matmul.c) and the float prefill tiles (kernels/gemm.c) use. AVX2+FMA is the build baseline
// (-march=x86-64-v3); AVX-512 paths are compiled with function target
// attributes and taken only when the CPU reports AVX-512 F/BW/VL/DQ.
// QROBUST_SIMD=avx2 or QROBUST_SIMD=scalar in the environment caps the level
// (benchmarks compare the paths; tests run every path against the reference).
// A PORTABLE=1 build has only the scalar path.
#pragma once

enum { QR_ISA_SCALAR = 0, QR_ISA_AVX2 = 1, QR_ISA_AVX512 = 2 };

// Detected on the first call.
int qr_qisa(void);
const char *qr_qisa_name(void);
// Re-reads QROBUST_SIMD (tests switch paths within one process).
void qr_qisa_reset(void);
// Sets QROBUST_SIMD to level ("avx2", "scalar"; NULL: unset, the CPU's best)
// for this process and re-reads it: how tests and benchmarks run each path.
void qr_qisa_cap(const char *level);

// The target attribute of AVX-512 code: exactly the features detect() in
// kernels/qisa.c requires before qr_qisa() reports QR_ISA_AVX512.
#define QR_AVX512_FN __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
