#include "kernels/attention.h"
#include <omp.h>
#include <string.h>
#include "kernels/gemm.h"
#include "kernels/ops.h"

// Software prefetch PF_ROWS rows (4 KB at head_dim 128) ahead of each loop
// over a head's K and V rows: the hardware prefetchers ramp up at every 4 KB
// page. 24 layers of 1.3b attention at 160 positions with a cold cache, two
// threads: 3.78 -> 3.04 ms (4 rows: 3.10, 16: 3.07, 32: 3.14).
enum { PF_ROWS = 8 };
static inline void prefetch_row(const float *row, int n) {
    for (int i = 0; i < n; i += 16) __builtin_prefetch(row + i, 0, 3);
}

void qr_attention(const float *q, float *out, int n, int n_heads, int n_kv_heads, int head_dim, float scale,
                  const QrKVLayer *kv, const int *pos, const int *seq, int window, float *scratch, int n_scratch) {
    int group = n_heads / n_kv_heads;
    size_t slot = (size_t)kv->max_seq * kv->kv_dim;
    int nt = omp_get_max_threads() < n_scratch ? omp_get_max_threads() : n_scratch;
#pragma omp parallel num_threads(nt)
    {
        float *sc = scratch + (size_t)omp_get_thread_num() * kv->max_seq;
#pragma omp for schedule(dynamic, 4)
        for (int ih = 0; ih < n * n_heads; ih++) {
            int i = ih / n_heads, h = ih % n_heads, kvh = h / group;
            const float *qh = q + (size_t)i * n_heads * head_dim + (size_t)h * head_dim;
            float *oh = out + (size_t)i * n_heads * head_dim + (size_t)h * head_dim;
            const float *kb = kv->k + seq[i] * slot + (size_t)kvh * kv->head_stride;
            const float *vb = kv->v + seq[i] * slot + (size_t)kvh * kv->head_stride;
            int lo = window > 0 && pos[i] - window + 1 > 0 ? pos[i] - window + 1 : 0, hi = pos[i];
            int m = hi - lo + 1;
            for (int t = lo; t <= hi; t++) {
                if (t + PF_ROWS <= hi) prefetch_row(kb + (size_t)(t + PF_ROWS) * kv->row_stride, head_dim);
                sc[t - lo] = qr_dot(qh, kb + (size_t)t * kv->row_stride, head_dim) * scale;
            }
            qr_softmax(sc, m);
            memset(oh, 0, (size_t)head_dim * sizeof *oh);
            for (int t = lo; t < lo + PF_ROWS && t <= hi; t++) prefetch_row(vb + (size_t)t * kv->row_stride, head_dim);
            for (int t = lo; t <= hi; t++) {
                if (t + PF_ROWS <= hi) prefetch_row(vb + (size_t)(t + PF_ROWS) * kv->row_stride, head_dim);
                qr_axpy(sc[t - lo], vb + (size_t)t * kv->row_stride, oh, head_dim);
            }
        }
    }
}
