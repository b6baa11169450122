// Weight-noise throughput: in-place Gaussian / uniform noise on a 32M-element
// f32 tensor, one thread and all threads, against adding an already stored
// noise buffer (the memory-bound floor of any in-place perturbation), same run.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include "attacks/noise.h"
#include "util/timer.h"

#define N (32u << 20)

static double best_of(int reps, void (*fn)(void *), void *arg) {
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = qr_now();
        fn(arg);
        double t = qr_now() - t0;
        if (t < best) best = t;
    }
    return best;
}

typedef struct {
    QrNoiseKey k;
    float *w, *stored;
} Ctx;

static void run_noise(void *p) {
    Ctx *c = p;
    qr_noise_add_f32(&c->k, 0, c->w, N, 1);
}

static void run_stored(void *p) {
    Ctx *c = p;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < N; i++) c->w[i] += c->stored[i];
}

int main(void) {
    Ctx c;
    c.w = calloc(N, sizeof *c.w);
    c.stored = calloc(N, sizeof *c.stored);
    if (!c.w || !c.stored) return 1;
    int maxt = omp_get_max_threads();
    printf("weight noise, %u elements, f32, in place (best of 3)\n", N);
    for (int d = 0; d < 2; d++) {
        QrNoiseSpec s = {d ? QR_NOISE_UNIFORM : QR_NOISE_GAUSSIAN, 1e-3f, 1, QR_NOISE_ALL};
        qr_noise_key(&c.k, &s, "model.layers.0.mlp.down_proj.weight");
        int th[2] = {1, maxt};
        for (int t = 0; t < (maxt > 1 ? 2 : 1); t++) {
            omp_set_num_threads(th[t]);
            double tn = best_of(3, run_noise, &c), ts = best_of(3, run_stored, &c);
            printf("  %-8s %2d thread(s): %6.2f ns/element (%.0f M/s); stored-buffer add %5.2f ns/element; ratio %.1fx\n",
                   qr_noise_dist_name(s.dist), th[t], 1e9 * tn / N, N / tn / 1e6, 1e9 * ts / N, tn / ts);
        }
    }
    free(c.w);
    free(c.stored);
    return 0;
}
