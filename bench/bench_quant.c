// Decode speed of the quantized formats against fp32 and bf16, as a share of
// the memory-read bandwidth measured in the same run (issue 6):
//   - a LLaMA-shaped ~110M model (dim 768, 12 layers, 12 heads, ffn 2048,
//     vocab 32000; the engine benchmark's shape);
//   - the deepseek-coder-1.3b-base shape (runtime/presets.c).
// Each line runs `qrobust bench --json` (random weights, nothing downloaded),
// which measures the read bandwidth before building its model and again after
// the timed runs, and keeps the higher. The quantized rows run twice: with the
// best SIMD level of this CPU and with QROBUST_SIMD=avx2 (the build baseline).
//
// Targets (from llama.cpp on the same 2-core machine and shape, 2 threads):
// int8 decode >= 16 tok/s and nf4 >= 23 tok/s on deepseek-coder-1.3b, and
// >= 75% of the measured read bandwidth.
//
// Environment: QROBUST_BIN (default ./qrobust), QROBUST_BENCH_THREADS (default
// 2), QROBUST_BENCH_QUICK=1 (the 110M model only).
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *CFG_110M =
    "{\"model_type\": \"llama\", \"hidden_size\": 768, \"num_hidden_layers\": 12, \"num_attention_heads\": 12,"
    " \"num_key_value_heads\": 12, \"intermediate_size\": 2048, \"vocab_size\": 32000,"
    " \"max_position_embeddings\": 2048, \"rms_norm_eps\": 1e-5, \"rope_theta\": 10000.0,"
    " \"tie_word_embeddings\": false, \"torch_dtype\": \"float32\"}";

typedef struct {
    double tps, gbps, bw, gb_step;
    int ok;
} Row;

static Row run(const char *bin, const char *arch, const char *dtype, const char *precision, const char *simd,
               int threads) {
    Row r = {0};
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s%s %s bench --arch '%s' --dtype %s --precision %s --prompt 16 --gen 32 --reps 3 "
                              "--threads %d --json",
             simd ? "QROBUST_SIMD=" : "", simd ? simd : "", bin, arch, dtype, precision, threads);
    FILE *p = popen(cmd, "r");
    if (!p) return r;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = 0;
    if (pclose(p) != 0) {
        fprintf(stderr, "bench_quant: failed: %s\n", cmd);
        return r;
    }
    json_t *j = json_loads(buf, 0, NULL);
    if (!j) return r;
    r.tps = json_number_value(json_object_get(j, "decode_tokens_per_s"));
    r.gbps = json_number_value(json_object_get(j, "decode_gb_per_s"));
    r.bw = json_number_value(json_object_get(j, "read_bandwidth_gb_per_s"));
    r.gb_step = json_number_value(json_object_get(j, "weight_bytes_per_step")) / 1e9;
    r.ok = 1;
    json_decref(j);
    return r;
}

static void loadavg(char *out, size_t len) {
    FILE *f = fopen("/proc/loadavg", "r");
    out[0] = 0;
    if (f) {
        if (!fgets(out, (int)len, f)) out[0] = 0;
        fclose(f);
    }
    out[strcspn(out, "\n")] = 0;
}

int main(void) {
    const char *bin = getenv("QROBUST_BIN") ? getenv("QROBUST_BIN") : "./qrobust";
    const int threads = getenv("QROBUST_BENCH_THREADS") ? atoi(getenv("QROBUST_BENCH_THREADS")) : 2;
    const int quick = getenv("QROBUST_BENCH_QUICK") != NULL;
    char cfg[] = "/tmp/qrbenchXXXXXX";
    int fd = mkstemp(cfg);
    if (fd < 0 || write(fd, CFG_110M, strlen(CFG_110M)) != (ssize_t)strlen(CFG_110M)) return 1;
    close(fd);
    char la[128];
    loadavg(la, sizeof la);
    printf("bench_quant: decode, %d threads; load average before: %s\n", threads, la);
    printf("  %-26s %-10s %-7s %9s %10s %8s %9s %6s\n", "model", "precision", "simd", "tok/s", "GB/token", "GB/s",
           "read BW", "share");
    struct { const char *arch, *label, *dtype, *prec, *simd; } R[] = {
        {cfg, "llama-110m", "f32", "fp32", NULL},
        {cfg, "llama-110m", "bf16", "bf16", NULL},
        {cfg, "llama-110m", "f32", "int8", NULL},
        {cfg, "llama-110m", "f32", "nf4", NULL},
        {cfg, "llama-110m", "f32", "nf4", "avx2"},
        {"deepseek-coder-1.3b-base", "deepseek-coder-1.3b", "f32", "fp32", NULL},
        {"deepseek-coder-1.3b-base", "deepseek-coder-1.3b", "bf16", "bf16", NULL},
        {"deepseek-coder-1.3b-base", "deepseek-coder-1.3b", "bf16", "int8", NULL},
        {"deepseek-coder-1.3b-base", "deepseek-coder-1.3b", "bf16", "int8", "avx2"},
        {"deepseek-coder-1.3b-base", "deepseek-coder-1.3b", "bf16", "nf4", NULL},
        {"deepseek-coder-1.3b-base", "deepseek-coder-1.3b", "bf16", "nf4", "avx2"},
    };
    Row ds_int8 = {0}, ds_nf4 = {0};
    int failed = 0;
    for (size_t i = 0; i < sizeof R / sizeof R[0]; i++) {
        if (quick && R[i].arch != cfg) continue;
        Row r = run(bin, R[i].arch, R[i].dtype, R[i].prec, R[i].simd, threads);
        if (!r.ok) {
            failed = 1;
            continue;
        }
        printf("  %-26s %-10s %-7s %9.2f %10.3f %8.1f %9.1f %5.0f%%\n", R[i].label, R[i].prec,
               R[i].simd ? R[i].simd : "best", r.tps, r.gb_step, r.gbps, r.bw, 100 * r.gbps / r.bw);
        fflush(stdout);
        if (R[i].arch != cfg && !R[i].simd) {
            if (!strcmp(R[i].prec, "int8")) ds_int8 = r;
            if (!strcmp(R[i].prec, "nf4")) ds_nf4 = r;
        }
    }
    unlink(cfg);
    loadavg(la, sizeof la);
    printf("  load average after: %s\n", la);
    if (!quick && ds_int8.ok && ds_nf4.ok) {
        printf("  target int8 >= 16 tok/s on deepseek-coder-1.3b: %.2f -> %s\n", ds_int8.tps,
               ds_int8.tps >= 16 ? "met" : "NOT met");
        printf("  target nf4  >= 23 tok/s on deepseek-coder-1.3b: %.2f -> %s\n", ds_nf4.tps,
               ds_nf4.tps >= 23 ? "met" : "NOT met");
        printf("  target >= 75%% of read bandwidth: int8 %.0f%%, nf4 %.0f%% -> %s\n", 100 * ds_int8.gbps / ds_int8.bw,
               100 * ds_nf4.gbps / ds_nf4.bw,
               ds_int8.gbps >= 0.75 * ds_int8.bw && ds_nf4.gbps >= 0.75 * ds_nf4.bw ? "met" : "NOT met");
    }
    return failed;
}
