// qrobust bench --arch NAME: CPU speed of a real architecture without its
// weights. The named checkpoint's published config.json (runtime/presets.c)
// or a config.json file gives the exact shape; the weights are seeded random
// values made here in the checkpoint's dtype, so nothing is downloaded. Reports
// prefill and decode tokens/s, the weight bytes read per decoded token, the
// bandwidth that implies as a share of the read bandwidth measured in the same
// run, and the memory used.
#include <jansson.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "cli/cli.h"
#include "cli/model_args.h"
#include "runtime/model.h"
#include "runtime/presets.h"
#include "util/fileio.h"
#include "util/membw.h"
#include "util/timer.h"

static void usage(void) {
    printf("usage: qrobust bench --arch NAME [--dtype bf16|f16|f32] [--precision P] [--prompt N] [--gen N]\n"
           "                     [--batch B] [--int8-threshold T]\n"
           "                     [--threads N] [--reps N] [--seed S] [--no-bandwidth] [--json]\n"
           "       qrobust bench --list\n"
           "\n"
           "Builds a model with the exact shape of a real checkpoint and seeded random weights (nothing\n"
           "is downloaded), then measures on the CPU: a prefill of --prompt tokens per sequence as one\n"
           "matrix pass, and --gen decode steps of --batch sequences. Prints prefill and decode\n"
           "tokens/s (best of --reps), the weight bytes read per decode step, the bandwidth that\n"
           "implies as a share of the memory-read bandwidth measured in the same run (a 1 GiB read,\n"
           "before building the model and again after the timed runs; the higher is the machine's),\n"
           "and memory (weights, KV cache, peak resident set).\n"
           "\n"
           "  --arch NAME      a known checkpoint (see --list; short name or Hugging Face repo, e.g.\n"
           "                   deepseek-coder-1.3b-base, codegen-350M-mono, starcoder2-3b,\n"
           "                   llama-3.2-1b, qwen2.5-coder-0.5b) or the path of a config.json\n"
           "  --dtype D        weight storage: bf16, f16 or f32 (default bf16; the study's checkpoints\n"
           "                   are bf16/f16 except starcoder2-3b/15b, stored f32)\n"
           "  --precision P    compute from: fp32, fp16, bf16 (every matrix converted to that type), or\n"
           "                   int8, nf4 (the block linears quantized on load as bitsandbytes does; the\n"
           "                   rest as --dtype stores it). Default: as stored\n"
           "  --int8-threshold T  LLM.int8 outlier threshold (default 6.0)\n"
           "  --prompt N       prompt tokens per sequence (default 128)\n"
           "  --gen N          decode steps (default 32)\n"
           "  --batch B        sequences decoded together (default 1)\n"
           "  --threads N      CPU threads (default: all cores, or OMP_NUM_THREADS)\n"
           "  --reps N         repetitions, best kept (default 3)\n"
           "  --seed S         seed of the random weights (default 1)\n"
           "  --no-bandwidth   skip the read-bandwidth measurement (1 GiB buffer)\n"
           "  --json           print one JSON object instead of text\n"
           "  --list           list the known checkpoints with their parameter counts\n"
           "\n"
           "examples:\n"
           "  qrobust bench --arch deepseek-coder-1.3b-base\n"
           "  qrobust bench --arch starcoder2-3b --dtype f32 --prompt 64 --gen 16 --reps 1\n");
}

static int list(void) {
    printf("%-26s %-38s %16s  %s\n", "name", "repository", "parameters", "published size");
    for (int i = 0; i < qr_n_presets; i++) {
        const QrPreset *p = &qr_presets[i];
        printf("%-26s %-38s %16lld  %s\n", p->name, p->repo, (long long)p->n_params, p->published);
    }
    return 0;
}

static double peak_rss_bytes(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss * 1024.0; // Linux: kilobytes
}

typedef struct {
    double t_build, prefill_tps, decode_tps;
    double prefill_cpu_tps, decode_cpu_tps; // per second of this process's CPU time
} Timing;

// CPU seconds used by this process (all threads). On a shared machine the
// tokens per CPU-second stay meaningful when wall-clock rates do not.
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Prefill B sequences of P tokens (one matrix pass each), then G decode steps
// of B tokens; best of reps.
static int measure(QrModel *m, int P, int G, int B, int reps, Timing *t, QrErr *e) {
    int V = m->cfg.vocab_size, np = B * P;
    int *ids = malloc((size_t)np * sizeof *ids), *pos = malloc((size_t)np * sizeof *pos);
    int *seq = malloc((size_t)np * sizeof *seq);
    float *lg = malloc((size_t)B * V * sizeof *lg);
    uint8_t *want = calloc((size_t)np, 1);
    int rc = -1;
    if (!ids || !pos || !seq || !lg || !want) {
        qr_fail(e, "out of memory");
        goto done;
    }
    for (int s = 0; s < B; s++)
        for (int i = 0; i < P; i++) {
            int k = s * P + i;
            ids[k] = (int)(((uint64_t)k * 7919 + 13) % (uint64_t)V), pos[k] = i, seq[k] = s;
            want[k] = i == P - 1;
        }
    double best_pre = 1e30, best_dec = 1e30, cpu_pre = 1e30, cpu_dec = 1e30;
    for (int r = 0; r < reps; r++) {
        for (int s = 0; s < B; s++) qr_model_clear_seq(m, s);
        double t0 = qr_now(), c0 = cpu_now();
        for (int s = 0; s < B; s++) {
            QrBatch b = {P, ids + s * P, pos + s * P, seq + s * P, want + s * P};
            if (qr_model_forward(m, &b, lg + (size_t)s * V, e)) goto done;
        }
        double tp = qr_now() - t0, cp = cpu_now() - c0;
        if (tp < best_pre) best_pre = tp;
        if (cp < cpu_pre) cpu_pre = cp;
        int di[256], dp[256], ds[256];
        t0 = qr_now(), c0 = cpu_now();
        for (int g = 0; g < G; g++) {
            for (int s = 0; s < B; s++) di[s] = (g * 31 + s * 17 + 5) % V, dp[s] = P + g, ds[s] = s;
            uint8_t all[256];
            memset(all, 1, (size_t)B);
            QrBatch d = {B, di, dp, ds, all};
            if (qr_model_forward(m, &d, lg, e)) goto done;
        }
        double td = qr_now() - t0, cd = cpu_now() - c0;
        if (td < best_dec) best_dec = td;
        if (cd < cpu_dec) cpu_dec = cd;
    }
    t->prefill_tps = np / best_pre;
    t->decode_tps = (double)B * G / best_dec;
    t->prefill_cpu_tps = np / cpu_pre;
    t->decode_cpu_tps = (double)B * G / cpu_dec;
    rc = 0;
done:
    free(ids), free(pos), free(seq), free(lg), free(want);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    const char *arch = NULL, *dtype = "bf16", *precision = NULL, *thr = NULL;
    long long P = 128, G = 32, B = 1, threads = 0, reps = 3, seed = 1;
    int as_json = 0, bandwidth = 1;
    for (int i = 1; i < argc; i++) {
        int r;
        const char *v;
        struct { const char *flag; long long *dst, lo, hi; } N[] = {
            {"--prompt", &P, 1, 8192}, {"--gen", &G, 1, 8192},  {"--batch", &B, 1, 256},
            {"--threads", &threads, 1, 1024}, {"--reps", &reps, 1, 100}, {"--seed", &seed, 0, 1LL << 62},
        };
        int matched = 0;
        for (size_t k = 0; k < sizeof N / sizeof *N && !matched; k++)
            if ((r = cli_flag_value(argc, argv, &i, N[k].flag, &v))) {
                if (r < 0 || cli_parse_int(N[k].flag, v, N[k].dst)) return 2;
                if (*N[k].dst < N[k].lo || *N[k].dst > N[k].hi)
                    return cli_dief("%s must be between %lld and %lld", N[k].flag, N[k].lo, N[k].hi);
                matched = 1;
            }
        if (matched) continue;
        if ((r = cli_flag_value(argc, argv, &i, "--arch", &arch)) || (r = cli_flag_value(argc, argv, &i, "--dtype", &dtype)) ||
            (r = cli_flag_value(argc, argv, &i, "--precision", &precision)) ||
            (r = cli_flag_value(argc, argv, &i, "--int8-threshold", &thr))) {
            if (r < 0) return 2;
        } else if (cli_is_flag(argv, i, "--json")) as_json = 1;
        else if (cli_is_flag(argv, i, "--no-bandwidth")) bandwidth = 0;
        else if (cli_is_flag(argv, i, "--list")) return list();
        else return cli_dief("bench: unknown argument '%s' (see --help)", argv[i]);
    }
    if (!arch) return cli_dief("bench: --arch NAME is required (see --list)");
    QrDType dt;
    if (!strcmp(dtype, "bf16")) dt = QR_DT_BF16;
    else if (!strcmp(dtype, "f16")) dt = QR_DT_F16;
    else if (!strcmp(dtype, "f32")) dt = QR_DT_F32;
    else return cli_dief("--dtype '%s': expected bf16, f16 or f32", dtype);
    if (threads) omp_set_num_threads((int)threads);

    // The config: a known checkpoint, or a config.json file.
    const QrPreset *preset = qr_preset_find(arch);
    json_error_t je;
    json_t *cfg = preset ? json_loads(preset->config, 0, &je) : NULL;
    if (!preset) {
        if (!qr_file_exists(arch))
            return cli_dief("bench: '%s' is neither a known checkpoint (see --list) nor a config.json file", arch);
        if (!(cfg = json_load_file(arch, 0, &je))) return cli_dief("%s: invalid JSON: %s (line %d)", arch, je.text, je.line);
    } else if (!cfg) {
        return cli_dief("preset %s: invalid JSON: %s", preset->name, je.text);
    }
    const char *name = preset ? preset->name : arch;

    // Probed before and after the model, the higher kept: on a shared host one
    // probe can land in a moment of contention (seen: 16 GB/s against 30), and
    // a low probe would overstate the share.
    double bw_before = bandwidth ? qr_read_bandwidth_probe((size_t)1 << 30, 3) : 0, bw_after = 0;
    QrErr e;
    QrCheckpoint ck;
    Timing t = {0};
    double t0 = qr_now();
    if (qr_ckpt_random(&ck, cfg, dt, 0.02f, (uint64_t)seed, &e)) {
        json_decref(cfg);
        return cli_die(&e);
    }
    json_decref(cfg);
    QrModel *m;
    QrLoadOpts lo = {0};
    CliModelArgs ma = {.precision = precision, .int8_threshold = thr};
    if (cli_precision_opts(&ma, &lo, &e)) {
        qr_ckpt_close(&ck);
        return cli_die(&e);
    }
    if (qr_model_from_checkpoint(&m, &ck, &lo, &e)) return cli_die(&e);
    if (P + G > m->cfg.max_pos) {
        qr_model_free(m);
        return cli_dief("bench: --prompt + --gen = %lld exceeds the context of %s (%d)", P + G, name, m->cfg.max_pos);
    }
    if (qr_model_reserve(m, (int)B, (int)(P + G), (int)P, &e)) {
        qr_model_free(m);
        return cli_die(&e);
    }
    t.t_build = qr_now() - t0;
    if (measure(m, (int)P, (int)G, (int)B, (int)reps, &t, &e)) {
        qr_model_free(m);
        return cli_die(&e);
    }
    if (bandwidth) bw_after = qr_read_bandwidth_probe((size_t)1 << 30, 3);
    const double bw = bw_before > bw_after ? bw_before : bw_after;
    const QrConfig *c = &m->cfg;
    int64_t np = qr_model_n_params(m);
    size_t wbytes = qr_model_weight_bytes(m), per_step = qr_model_bytes_per_token(m);
    size_t kv = (size_t)2 * m->kv.n_layers * m->kv.n_slots * m->kv.max_seq * m->kv.kv_dim * sizeof(float);
    double steps_per_s = t.decode_tps / (double)B; // each step reads the weights once for the whole batch
    double gbps = per_step * steps_per_s / 1e9, rss = peak_rss_bytes();
    int nthreads = omp_get_max_threads();
    if (as_json) {
        json_t *o = json_object();
        json_object_set_new(o, "arch", json_string(name));
        json_object_set_new(o, "family", json_string(c->arch));
        json_object_set_new(o, "model_type", json_string(c->model_type));
        json_object_set_new(o, "parameters", json_integer(np));
        json_object_set_new(o, "dtype", json_string(dtype));
        json_object_set_new(o, "precision", json_string(precision ? precision : dtype));
        json_object_set_new(o, "threads", json_integer(nthreads));
        json_object_set_new(o, "prompt", json_integer(P));
        json_object_set_new(o, "gen", json_integer(G));
        json_object_set_new(o, "batch", json_integer(B));
        json_object_set_new(o, "build_seconds", json_real(t.t_build));
        json_object_set_new(o, "prefill_tokens_per_s", json_real(t.prefill_tps));
        json_object_set_new(o, "decode_tokens_per_s", json_real(t.decode_tps));
        json_object_set_new(o, "prefill_tokens_per_cpu_s", json_real(t.prefill_cpu_tps));
        json_object_set_new(o, "decode_tokens_per_cpu_s", json_real(t.decode_cpu_tps));
        json_object_set_new(o, "weight_bytes", json_integer((json_int_t)wbytes));
        json_object_set_new(o, "weight_bytes_per_step", json_integer((json_int_t)per_step));
        json_object_set_new(o, "decode_gb_per_s", json_real(gbps));
        json_object_set_new(o, "read_bandwidth_gb_per_s", bandwidth ? json_real(bw) : json_null());
        json_object_set_new(o, "read_bandwidth_probes_gb_per_s",
                            bandwidth ? json_pack("[f, f]", bw_before, bw_after) : json_null());
        json_object_set_new(o, "kv_cache_bytes", json_integer((json_int_t)kv));
        json_object_set_new(o, "peak_rss_bytes", json_integer((json_int_t)rss));
        char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        puts(s);
        free(s);
        json_decref(o);
    } else {
        printf("bench %s: %s (model_type %s), %lld parameters, %s weights%s%s, %d threads\n", name, c->arch,
               c->model_type, (long long)np, dtype, precision ? ", precision " : "", precision ? precision : "",
               nthreads);
        printf("  random weights built in %.1f s; weights %.3f GB, KV cache %.3f GB (%lld x %lld positions), "
               "peak RSS %.3f GB\n",
               t.t_build, wbytes / 1e9, kv / 1e9, B, P + G, rss / 1e9);
        printf("  prefill: %lld x %lld tokens  %8.1f tok/s  (%.1f tok per CPU-second)\n", B, P, t.prefill_tps,
               t.prefill_cpu_tps);
        printf("  decode:  batch %lld, %lld steps %8.2f tok/s  (%.2f tok per CPU-second; %.2f GB of weights read per "
               "step, %.1f GB/s",
               B, G, t.decode_tps, t.decode_cpu_tps, per_step / 1e9, gbps);
        if (bandwidth)
            printf(" = %.0f%% of the %.1f GB/s read bandwidth measured (%.1f before, %.1f after)", 100 * gbps / bw, bw,
                   bw_before, bw_after);
        printf(")\n");
    }
    qr_model_free(m);
    return 0;
}
