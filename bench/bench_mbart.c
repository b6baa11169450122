// mBART-50 translation speed at the real model's shape
// (facebook/mbart-large-50-many-to-many-mmt: d_model 1024, 12+12 layers, 16
// heads, ffn 4096, vocabulary 250054, relu, f32 as the hub stores it) with
// random weights: there is no real checkpoint on the development machine.
// Measures the encoder on a 24-token source and the decoder per generated
// token with beam search (5 beams, the checkpoint's default) and greedy,
// forcing 31 generated tokens (min_length), in the same run. Wall time and
// process CPU time are both printed: on a shared machine the CPU time (with
// OMP_NUM_THREADS=1) is what an idle core would take.
//
// usage: bench_mbart [layers [vocab]]   (default 12 250054; smaller for a quick look)
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "attacks/mbart.h"
#include "util/timer.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static inline float rnd(void) { // approximately N(0, 1): sum of 4 uniforms, scaled
    float s = 0;
    for (int i = 0; i < 4; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        s += (float)(rng >> 40) * (1.0f / 16777216.0f) - 0.5f;
    }
    return s * 1.7320508f;
}

static int add(QrCheckpoint *ck, const char *name, int64_t rows, int64_t cols, float fill, int random) {
    int64_t n = rows * (cols ? cols : 1);
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) return -1;
    if (random)
        for (int64_t i = 0; i < n; i++) v[i] = 0.02f * rnd();
    else
        for (int64_t i = 0; i < n; i++) v[i] = fill;
    int64_t shape[2] = {rows, cols};
    QrErr e;
    if (qr_ckpt_add(ck, name, QR_DT_F32, cols ? 2 : 1, shape, v, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    return 0;
}

static int build(QrCheckpoint *ck, int L, int V) {
    const int d = 1024, f = 4096, P = 1024;
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"model_type\": \"mbart\", \"vocab_size\": %d, \"d_model\": %d, \"encoder_layers\": %d, "
             "\"decoder_layers\": %d, \"encoder_attention_heads\": 16, \"decoder_attention_heads\": 16, "
             "\"encoder_ffn_dim\": %d, \"decoder_ffn_dim\": %d, \"max_position_embeddings\": %d, "
             "\"scale_embedding\": true, \"activation_function\": \"relu\", \"num_beams\": 5, \"max_length\": 200, "
             "\"early_stopping\": true, \"decoder_start_token_id\": 2, \"forced_eos_token_id\": 2}",
             V, d, L, L, f, f, P);
    json_t *j = json_loads(cfg, 0, NULL);
    qr_ckpt_init_memory(ck, j, "random mbart-large-50 shape");
    json_decref(j);
    char n[128];
    int rc = add(ck, "model.shared.weight", V, d, 0, 1);
    for (int side = 0; side < 2 && !rc; side++) {
        const char *s = side ? "model.decoder" : "model.encoder";
        snprintf(n, sizeof n, "%s.embed_positions.weight", s), rc |= add(ck, n, P + 2, d, 0, 1);
        const char *norms[2] = {"layernorm_embedding", "layer_norm"};
        for (int k = 0; k < 2; k++) {
            snprintf(n, sizeof n, "%s.%s.weight", s, norms[k]), rc |= add(ck, n, d, 0, 1, 0);
            snprintf(n, sizeof n, "%s.%s.bias", s, norms[k]), rc |= add(ck, n, d, 0, 0, 0);
        }
        for (int l = 0; l < L && !rc; l++) {
            const char *att[2] = {"self_attn", "encoder_attn"};
            for (int a = 0; a < 1 + side; a++) {
                const char *pr[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};
                for (int p = 0; p < 4; p++) {
                    snprintf(n, sizeof n, "%s.layers.%d.%s.%s.weight", s, l, att[a], pr[p]), rc |= add(ck, n, d, d, 0, 1);
                    snprintf(n, sizeof n, "%s.layers.%d.%s.%s.bias", s, l, att[a], pr[p]), rc |= add(ck, n, d, 0, 0, 0);
                }
                snprintf(n, sizeof n, "%s.layers.%d.%s_layer_norm.weight", s, l, att[a]), rc |= add(ck, n, d, 0, 1, 0);
                snprintf(n, sizeof n, "%s.layers.%d.%s_layer_norm.bias", s, l, att[a]), rc |= add(ck, n, d, 0, 0, 0);
            }
            snprintf(n, sizeof n, "%s.layers.%d.final_layer_norm.weight", s, l), rc |= add(ck, n, d, 0, 1, 0);
            snprintf(n, sizeof n, "%s.layers.%d.final_layer_norm.bias", s, l), rc |= add(ck, n, d, 0, 0, 0);
            snprintf(n, sizeof n, "%s.layers.%d.fc1.weight", s, l), rc |= add(ck, n, f, d, 0, 1);
            snprintf(n, sizeof n, "%s.layers.%d.fc1.bias", s, l), rc |= add(ck, n, f, 0, 0, 0);
            snprintf(n, sizeof n, "%s.layers.%d.fc2.weight", s, l), rc |= add(ck, n, d, f, 0, 1);
            snprintf(n, sizeof n, "%s.layers.%d.fc2.bias", s, l), rc |= add(ck, n, d, 0, 0, 0);
        }
    }
    QrErr e;
    if (!rc && qr_ckpt_finish(ck, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        rc = -1;
    }
    return rc;
}

int main(int argc, char **argv) {
    int L = argc > 1 ? atoi(argv[1]) : 12, V = argc > 2 ? atoi(argv[2]) : 250054;
    if (L < 1 || V < 1000) {
        fprintf(stderr, "usage: bench_mbart [layers >= 1 [vocab >= 1000]]\n");
        return 2;
    }
    double t0 = qr_now();
    QrCheckpoint ck;
    MbartModel *m;
    QrErr e;
    if (build(&ck, L, V) || mbart_from_checkpoint(&m, &ck, NULL, &e)) {
        fprintf(stderr, "bench_mbart: %s\n", e.msg);
        return 1;
    }
    printf("mBART-50 shape: d_model 1024, %d+%d layers, vocab %d, f32 random weights (built in %.1f s), %d threads\n",
           L, L, V, qr_now() - t0, omp_get_max_threads());
    int32_t src[24];
    src[0] = 250004; // en_XX in the real vocabulary (any id when smaller)
    for (int i = 1; i < 23; i++) src[i] = 1000 + 37 * i;
    src[0] %= V, src[23] = 2;
    float *h = malloc(24 * 1024 * sizeof *h);
    double best = 1e30, best_cpu = 1e30;
    for (int r = 0; r < 3; r++) {
        double t = qr_now(), c = cpu_now();
        if (mbart_encode(m, src, 24, h, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
        t = qr_now() - t, c = cpu_now() - c;
        best = t < best ? t : best;
        best_cpu = c < best_cpu ? c : best_cpu;
    }
    printf("  encoder, 24 tokens:                  %8.1f ms wall, %8.1f ms CPU (best of 3)\n", 1e3 * best,
           1e3 * best_cpu);
    for (int beams = 5; beams >= 1; beams -= 4) {
        MbartGen g = m->gen;
        g.num_beams = beams;
        g.max_length = 32;
        g.min_length = 31; // exactly 31 generated tokens (</s> forced at the end)
        int32_t *out;
        int n;
        double t = qr_now(), c = cpu_now();
        if (mbart_generate(m, &g, src, 24, 250003 % V, &out, &n, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
        t = qr_now() - t, c = cpu_now() - c;
        printf("  %s, %d tokens: %8.1f ms wall, %8.1f ms CPU per token (%.2f s wall, encoder included)\n",
               beams > 1 ? "beam search, 5 beams" : "greedy              ", n - 1, 1e3 * t / (n - 1),
               1e3 * c / (n - 1), t);
        free(out);
    }
    free(h);
    mbart_free(m);
    return 0;
}
