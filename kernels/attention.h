// Causal (optionally sliding-window) grouped-query attention of a batch of
// query tokens over a KV cache, each token in its own sequence slot.
#pragma once
#include <stddef.h>

typedef struct {
    const float *k, *v;   // one layer's cache: n_slots blocks of max_seq * kv_dim floats
    int max_seq, kv_dim;
    // Within a slot: kv head h's row for position t starts at
    // h * head_stride + t * row_stride. The CPU cache is [kv_head][pos][head_dim]
    // (head_stride max_seq * head_dim, row_stride head_dim), so that a head's
    // rows are one sequential stream; [pos][kv_dim] is (head_dim, kv_dim).
    size_t head_stride, row_stride;
} QrKVLayer;

// For each token i and head h (kv head h / (n_heads / n_kv_heads)):
//   out[i, h] = sum_t softmax_t(q[i, h] . K[seq_i, t] * scale) V[seq_i, t]
// over t in [max(0, pos_i - window + 1), pos_i] (window 0: from 0).
// q and out are [n, n_heads * head_dim]. Scores are canonical-order dot
// products (kernels/gemm.h); the softmax and the weighted sum run in
// increasing t, so the result does not depend on threads or batch.
// scratch: n_scratch buffers of kv->max_seq floats (one per thread; at most
// n_scratch threads are used).
void qr_attention(const float *q, float *out, int n, int n_heads, int n_kv_heads, int head_dim, float scale,
                  const QrKVLayer *kv, const int *pos, const int *seq, int window, float *scratch, int n_scratch);
