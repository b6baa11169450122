#include "kernels/attention.h"
#include <omp.h>
#include <string.h>
#include "kernels/gemm.h"
#include "kernels/ops.h"

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
            for (int t = lo; t <= hi; t++) sc[t - lo] = qr_dot(qh, kb + (size_t)t * kv->row_stride, head_dim) * scale;
            qr_softmax(sc, m);
            memset(oh, 0, (size_t)head_dim * sizeof *oh);
            for (int t = lo; t <= hi; t++) qr_axpy(sc[t - lo], vb + (size_t)t * kv->row_stride, oh, head_dim);
        }
    }
}
