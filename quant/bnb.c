// See quant/bnb.h. Every rounding step below is one IEEE float operation in
// the order bitsandbytes / torch perform it, so the compiler must not fuse a
// multiply and an add into one FMA where the reference does not.
#ifndef __clang__
#pragma GCC optimize("fp-contract=off")
#endif
#include "quant/bnb.h"
#include <math.h>
#include <string.h>

const float qr_nf4_code[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
};

// create_dynamic_map(signed=True) as bitsandbytes 0.50.2 returns it (printed
// with 9 significant digits, which round-trips float32 exactly). The values
// come from torch.linspace's vectorized float32 arithmetic, which a scalar
// re-derivation does not reproduce in 42 of the 256 entries, so the table is
// spelled out; tests/test_quant_bnb.c compares it with the library's output.
static const float dynamic_map_signed[256] = {
    -0.992968738f, -0.978906274f, -0.96484375f, -0.950781226f, -0.936718762f, -0.922656238f,
    -0.908593774f, -0.89453125f, -0.880468726f, -0.866406262f, -0.852343738f, -0.838281274f,
    -0.82421875f, -0.810156226f, -0.796093762f, -0.782031238f, -0.767968774f, -0.75390625f,
    -0.739843726f, -0.725781262f, -0.711718798f, -0.697656274f, -0.68359375f, -0.669531226f,
    -0.655468762f, -0.641406298f, -0.627343774f, -0.61328125f, -0.599218726f, -0.585156262f,
    -0.571093798f, -0.557031274f, -0.54296875f, -0.528906226f, -0.514843702f, -0.500781238f,
    -0.486718714f, -0.47265625f, -0.458593726f, -0.444531262f, -0.430468738f, -0.416406244f,
    -0.40234375f, -0.388281226f, -0.374218762f, -0.360156238f, -0.346093744f, -0.33203125f,
    -0.317968726f, -0.303906262f, -0.289843738f, -0.275781274f, -0.26171875f, -0.247656241f,
    -0.233593747f, -0.219531253f, -0.205468744f, -0.19140625f, -0.177343756f, -0.163281247f,
    -0.149218753f, -0.135156244f, -0.12109375f, -0.107031256f, -0.0985937491f, -0.0957812592f,
    -0.0929687545f, -0.0901562497f, -0.0873437524f, -0.0845312476f, -0.0817187577f, -0.078906253f,
    -0.0760937482f, -0.0732812509f, -0.0704687461f, -0.0676562563f, -0.0648437515f, -0.0620312504f,
    -0.0592187531f, -0.0564062484f, -0.053593751f, -0.05078125f, -0.047968749f, -0.0451562516f,
    -0.0423437469f, -0.0395312496f, -0.0367187522f, -0.0339062512f, -0.0310937501f, -0.028281251f,
    -0.0254687499f, -0.0226562507f, -0.0198437516f, -0.0170312505f, -0.0142187504f, -0.0114062503f,
    -0.00971874967f, -0.00915624946f, -0.00859375019f, -0.00803124998f, -0.00746874977f, -0.00690625003f,
    -0.00634374982f, -0.00578125007f, -0.00521875033f, -0.00465624966f, -0.00409374991f, -0.00353124971f,
    -0.00296874996f, -0.00240624999f, -0.00184375001f, -0.00128124992f, -0.000943750085f, -0.000831249985f,
    -0.00071875006f, -0.000606250076f, -0.000493750034f, -0.000381250022f, -0.000268750038f, -0.000156250011f,
    -8.87499991e-05f, -6.62500024e-05f, -4.37499984e-05f, -2.12499981e-05f, -7.7499999e-06f, -3.25000019e-06f,
    -5.50000038e-07f, 0.0f, 5.50000038e-07f, 3.25000019e-06f, 7.7499999e-06f, 2.12499981e-05f,
    4.37499984e-05f, 6.62500024e-05f, 8.87499991e-05f, 0.000156250011f, 0.000268750038f, 0.000381250022f,
    0.000493750034f, 0.000606250076f, 0.00071875006f, 0.000831249985f, 0.000943750085f, 0.00128124992f,
    0.00184375001f, 0.00240624999f, 0.00296874996f, 0.00353124971f, 0.00409374991f, 0.00465624966f,
    0.00521875033f, 0.00578125007f, 0.00634374982f, 0.00690625003f, 0.00746874977f, 0.00803124998f,
    0.00859375019f, 0.00915624946f, 0.00971874967f, 0.0114062503f, 0.0142187504f, 0.0170312505f,
    0.0198437516f, 0.0226562507f, 0.0254687499f, 0.028281251f, 0.0310937501f, 0.0339062512f,
    0.0367187522f, 0.0395312496f, 0.0423437469f, 0.0451562516f, 0.047968749f, 0.05078125f,
    0.053593751f, 0.0564062484f, 0.0592187531f, 0.0620312504f, 0.0648437515f, 0.0676562563f,
    0.0704687461f, 0.0732812509f, 0.0760937482f, 0.078906253f, 0.0817187577f, 0.0845312476f,
    0.0873437524f, 0.0901562497f, 0.0929687545f, 0.0957812592f, 0.0985937491f, 0.107031256f,
    0.12109375f, 0.135156244f, 0.149218753f, 0.163281247f, 0.177343756f, 0.19140625f,
    0.205468744f, 0.219531253f, 0.233593747f, 0.247656241f, 0.26171875f, 0.275781274f,
    0.289843738f, 0.303906262f, 0.317968726f, 0.33203125f, 0.346093744f, 0.360156238f,
    0.374218762f, 0.388281226f, 0.40234375f, 0.416406244f, 0.430468738f, 0.444531262f,
    0.458593726f, 0.47265625f, 0.486718714f, 0.500781238f, 0.514843702f, 0.528906226f,
    0.54296875f, 0.557031274f, 0.571093798f, 0.585156262f, 0.599218726f, 0.61328125f,
    0.627343774f, 0.641406298f, 0.655468762f, 0.669531226f, 0.68359375f, 0.697656274f,
    0.711718798f, 0.725781262f, 0.739843726f, 0.75390625f, 0.767968774f, 0.782031238f,
    0.796093762f, 0.810156226f, 0.82421875f, 0.838281274f, 0.852343738f, 0.866406262f,
    0.880468726f, 0.89453125f, 0.908593774f, 0.922656238f, 0.936718762f, 0.950781226f,
    0.96484375f, 0.978906274f, 0.992968738f, 1.0f,
};

void qr_bnb_dynamic_map(float map[256]) { memcpy(map, dynamic_map_signed, sizeof dynamic_map_signed); }

// --- torch's float sum --------------------------------------------------------
// aten/src/ATen/native/cpu/SumKernel.cpp: a contiguous float row is read as
// 8-float vectors (AVX2 Vectorized<float>); row_sum() treats the vectors as a
// [-1, 4] array (ilp_factor 4) summed by multi_row_sum(), a cascade with 4
// levels of 2^level_power elements, then the leftover vectors, then the 4
// partial vectors are added lane-wise, then the leftover scalars are summed
// and the 8 lanes are added to that scalar in lane order.
typedef struct { float v[8]; } Vec8;

static inline void vadd(Vec8 *a, const Vec8 *b) {
    for (int i = 0; i < 8; i++) a->v[i] = a->v[i] + b->v[i];
}

static int64_t ceil_log2(int64_t x) {
    if (x <= 2) return 1;
    int64_t r = 0;
    uint64_t y = (uint64_t)x - 1;
    while (y) { r++; y >>= 1; }
    return r;
}

float qr_torch_sum_f32(const float *x, int64_t n) {
    const int64_t nvec = n / 8;
    const int64_t size = nvec / 4; // rows of the [-1, 4] view
    enum { LEVELS = 4, ROWS = 4 };
    const int64_t level_power = ceil_log2(size) / LEVELS > 4 ? ceil_log2(size) / LEVELS : 4;
    const int64_t level_step = (int64_t)1 << level_power;
    const int64_t level_mask = level_step - 1;
    Vec8 acc[LEVELS][ROWS];
    memset(acc, 0, sizeof acc);
    Vec8 ld;
    int64_t i = 0;
    for (; i + level_step <= size;) {
        for (int64_t j = 0; j < level_step; ++j, ++i)
            for (int k = 0; k < ROWS; k++) {
                memcpy(&ld, x + (i * ROWS + k) * 8, sizeof ld);
                vadd(&acc[0][k], &ld);
            }
        for (int j = 1; j < LEVELS; ++j) {
            for (int k = 0; k < ROWS; k++) {
                vadd(&acc[j][k], &acc[j - 1][k]);
                memset(&acc[j - 1][k], 0, sizeof(Vec8));
            }
            if ((i & (level_mask << (j * level_power))) != 0) break;
        }
    }
    for (; i < size; ++i)
        for (int k = 0; k < ROWS; k++) {
            memcpy(&ld, x + (i * ROWS + k) * 8, sizeof ld);
            vadd(&acc[0][k], &ld);
        }
    for (int j = 1; j < LEVELS; ++j)
        for (int k = 0; k < ROWS; k++) vadd(&acc[0][k], &acc[j][k]);
    // row_sum(): leftover vectors, then the 4 partial sums.
    for (int64_t v = size * ROWS; v < nvec; v++) {
        memcpy(&ld, x + v * 8, sizeof ld);
        vadd(&acc[0][0], &ld);
    }
    for (int k = 1; k < ROWS; k++) vadd(&acc[0][0], &acc[0][k]);
    // vectorized_inner_sum(): scalar tail first, then the lanes.
    float s = 0.0f;
    for (int64_t k = nvec * 8; k < n; k++) s = s + x[k];
    for (int k = 0; k < 8; k++) s = s + acc[0][0].v[k];
    return 0.0f + s; // the output tensor starts at 0 and accumulates
}

// --- 8-bit blockwise quantization (CPU kernel) --------------------------------
enum { LUT_SIZE = 65536 };

// build_quantize_lut(): midpoints between neighbouring codes, and for each of
// the 65536 grid points val = -1 + 2i/65535 the first code whose upper
// midpoint is not below val.
static void build_lut(const float code[256], uint8_t *lut) {
    float mid[255];
    for (int i = 0; i < 255; i++) {
        float s = code[i] + code[i + 1];
        mid[i] = 0.5f * s;
    }
    int ci = 0;
    for (int i = 0; i < LUT_SIZE; i++) {
        float two_i = 2.0f * (float)i;
        float q = two_i / (float)(LUT_SIZE - 1);
        float val = -1.0f + q;
        while (ci < 255 && mid[ci] < val) ++ci;
        lut[i] = (uint8_t)ci;
    }
}

// norm_to_lut_index(): the shipped library computes
// (uint16)fmaf((clamp(v) + 1) * 0.5, 65535, 0.5) -- GCC contracted the last
// multiply-add into one FMA (seen in the disassembly of
// libbitsandbytes_cpu.so 0.50.2), so the FMA is spelled out here.
static inline uint16_t lut_index(float v) {
    v = v < -1.0f ? -1.0f : (v > 1.0f ? 1.0f : v);
    float t = v + 1.0f;
    t = t * 0.5f;
    float r = fmaf(t, (float)(LUT_SIZE - 1), 0.5f);
    if (!(r >= 0.0f)) return 0; // NaN input: cvttss2si gives 0x80000000, low 16 bits 0
    return (uint16_t)(int32_t)r; // truncation, as cvttss2si
}

void qr_bnb_quantize_blockwise8(const float code[256], const float *a, int64_t n, int64_t blocksize,
                                uint8_t *out, float *absmax) {
    uint8_t lut[LUT_SIZE];
    build_lut(code, lut);
    const int64_t nb = (n + blocksize - 1) / blocksize;
    for (int64_t b = 0; b < nb; b++) {
        const int64_t lo = b * blocksize, hi = lo + blocksize < n ? lo + blocksize : n;
        float m = 0.0f;
        for (int64_t i = lo; i < hi; i++) m = fmaxf(m, fabsf(a[i]));
        absmax[b] = m;
        if (m == 0.0f) {
            memset(out + lo, 0, (size_t)(hi - lo));
            continue;
        }
        const float inv = 1.0f / m;
        for (int64_t i = lo; i < hi; i++) {
            float v = a[i] * inv;
            out[i] = lut[lut_index(v)];
        }
    }
}
