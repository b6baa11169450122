// qrobust info: what a checkpoint is — family, config, tensors, parameters,
// dtypes and memory.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/model_args.h"
#include "runtime/presets.h"
#include "util/fileio.h"

static void usage(void) {
    printf("usage: qrobust info (--model PATH | --arch NAME) [--json]\n"
           "\n"
           "Loads and validates the checkpoint (every tensor the config implies present with the\n"
           "right shape and dtype) and describes it: format, family, config, tensor count, parameter\n"
           "count, stored dtypes, and memory (weights, bytes read per decoded token, KV cache per\n"
           "token). Nothing is computed.\n"
           "\n"
           "  --model PATH   a Hugging Face checkpoint directory, a .safetensors file in one, or a\n"
           "                 GGUF file\n"
           "  --arch NAME    instead of a checkpoint, a config alone: a known checkpoint's published\n"
           "                 config.json (see qrobust bench --list) or a config.json file; describes\n"
           "                 the model it implies (parameters, memory in its dtype) without weights\n"
           "  --json         print one JSON object instead of text\n"
           "\n"
           "example:\n"
           "  qrobust info --model ../shared/models/stories260K/stories260K.gguf\n"
           "  qrobust info --arch deepseek-coder-1.3b-base\n");
}

static const char *rope_name(QrRopeType t) {
    return t == QR_ROPE_LINEAR ? "linear" : t == QR_ROPE_LLAMA3 ? "llama3" : "default";
}

static const char *act_name(QrAct a) {
    return a == QR_ACT_GELU ? "gelu" : a == QR_ACT_GELU_TANH ? "gelu (tanh approximation)" : "silu";
}

static void count_tensor(void *ctx, const char *name, int ndim, const int64_t *shape) {
    (void)name, (void)ndim, (void)shape;
    ++*(int *)ctx;
}

// A model with a config and no weights: enough for the parameter count and
// the description (m->params stays empty).
static int config_only(const char *arch, QrModel *m, QrErr *e) {
    const QrPreset *p = qr_preset_find(arch);
    json_error_t je;
    json_t *j = p ? json_loads(p->config, 0, &je) : qr_file_exists(arch) ? json_load_file(arch, 0, &je) : NULL;
    if (!j && !p && !qr_file_exists(arch))
        return qr_fail(e, "'%s' is neither a known checkpoint (qrobust bench --list) nor a config.json file", arch);
    if (!j) return qr_fail(e, "%s: invalid JSON: %s (line %d)", p ? p->name : arch, je.text, je.line);
    char label[160];
    snprintf(label, sizeof label, "%s%s", p ? "published config.json of " : "", p ? p->repo : arch);
    qr_ckpt_init_memory(&m->ckpt, j, label);
    json_decref(j);
    if (qr_config_read(&m->ckpt, &m->arch, &m->cfg, e)) {
        qr_ckpt_close(&m->ckpt);
        return -1;
    }
    return 0;
}

static void human(char *buf, size_t n, double bytes) {
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (bytes >= 1024 && i < 4) bytes /= 1024, i++;
    snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", bytes, u[i]);
}

static void commas(char *buf, size_t n, long long v) {
    char t[32];
    snprintf(t, sizeof t, "%lld", v);
    size_t L = strlen(t), o = 0;
    for (size_t i = 0; i < L && o + 2 < n; i++) {
        if (i && (L - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = t[i];
    }
    buf[o] = 0;
}

int cmd_info(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    const char *path = NULL, *arch = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_flag_value(argc, argv, &i, "--model", &path)) || (r = cli_flag_value(argc, argv, &i, "--arch", &arch))) {
            if (r < 0) return 2;
        } else if (cli_is_flag(argv, i, "--json")) as_json = 1;
        else return cli_dief("info: unknown argument '%s' (see --help)", argv[i]);
    }
    if (!path == !arch) return cli_dief("info: exactly one of --model PATH and --arch NAME is required (see --help)");
    QrModel *m = NULL, stub = {0};
    QrErr e;
    if (arch && config_only(arch, &stub, &e)) return cli_die(&e);
    if (path && qr_model_load(&m, path, NULL, &e)) return cli_die(&e);
    if (arch) m = &stub, path = arch;
    const QrConfig *c = &m->cfg;
    const QrCheckpoint *ck = &m->ckpt;
    // dtype histogram over the checkpoint's tensors, bytes as stored
    int count[QR_DT_COUNT] = {0};
    size_t stored = 0;
    for (int i = 0; i < ck->n_tensors; i++) {
        count[ck->tensors[i].dtype]++;
        stored += ck->tensors[i].nbytes;
    }
    char fmt[96];
    if (arch) snprintf(fmt, sizeof fmt, "config only (%s), no weights", stub.ckpt.path);
    else if (ck->kind == QR_CKPT_GGUF) snprintf(fmt, sizeof fmt, "GGUF v%u", ck->gguf->version);
    else if (ck->n_shards > 1) snprintf(fmt, sizeof fmt, "Hugging Face safetensors, %d shards", ck->n_shards);
    else snprintf(fmt, sizeof fmt, "Hugging Face safetensors");
    int64_t np = qr_model_n_params(m);
    size_t loaded = qr_model_weight_bytes(m), per_tok = qr_model_bytes_per_token(m);
    if (arch) {
        // as the config's dtype would store them: all parameters; per token all but
        // the embedding rows not looked up (the whole table when it is also the head)
        size_t es = qr_dtype_size(c->dtype), emb = (size_t)c->vocab_size * c->dim;
        loaded = stored = (size_t)np * es;
        per_tok = loaded - (c->tie_embeddings ? 0 : (emb - c->dim) * es);
        m->arch->each_tensor(c, QR_CKPT_HF, &count[c->dtype], count_tensor);
    }
    int n_tensors = arch ? count[c->dtype] : ck->n_tensors;
    size_t kv_tok = (size_t)2 * c->n_layers * c->n_kv_heads * c->head_dim * sizeof(float);

    if (as_json) {
        json_t *o = json_object(), *cfg = json_object(), *dt = json_object(), *eos = json_array();
        json_object_set_new(o, "path", json_string(path));
        json_object_set_new(o, "format", json_string(fmt));
        json_object_set_new(o, "family", json_string(c->arch));
        json_object_set_new(o, "model_type", json_string(c->model_type));
        json_object_set_new(cfg, "hidden_size", json_integer(c->dim));
        json_object_set_new(cfg, "num_hidden_layers", json_integer(c->n_layers));
        json_object_set_new(cfg, "num_attention_heads", json_integer(c->n_heads));
        json_object_set_new(cfg, "num_key_value_heads", json_integer(c->n_kv_heads));
        json_object_set_new(cfg, "head_dim", json_integer(c->head_dim));
        json_object_set_new(cfg, "intermediate_size", json_integer(c->ffn_dim));
        json_object_set_new(cfg, "vocab_size", json_integer(c->vocab_size));
        json_object_set_new(cfg, "max_position_embeddings", json_integer(c->max_pos));
        json_object_set_new(cfg, "norm_eps", json_real(c->norm_eps));
        json_object_set_new(cfg, "rope_theta", json_real(c->rope_theta));
        json_object_set_new(cfg, "rope_scaling", json_string(rope_name(c->rope_type)));
        if (c->rope_type != QR_ROPE_DEFAULT) json_object_set_new(cfg, "rope_factor", json_real(c->rope_factor));
        json_object_set_new(cfg, "tie_word_embeddings", json_boolean(c->tie_embeddings));
        json_object_set_new(cfg, "rotary_dim", json_integer(c->rope_dim));
        json_object_set_new(cfg, "rotary_interleaved", json_boolean(c->rope_interleaved));
        json_object_set_new(cfg, "activation", json_string(act_name(c->act)));
        json_object_set_new(cfg, "sliding_window", c->sliding_window ? json_integer(c->sliding_window) : json_null());
        json_object_set_new(cfg, "attention_bias", json_boolean(c->attn_bias));
        json_object_set_new(cfg, "o_proj_bias", json_boolean(c->o_bias));
        json_object_set_new(cfg, "mlp_bias", json_boolean(c->mlp_bias));
        json_object_set_new(cfg, "bos_token_id", c->bos_id >= 0 ? json_integer(c->bos_id) : json_null());
        for (int i = 0; i < c->n_eos; i++) json_array_append_new(eos, json_integer(c->eos_ids[i]));
        json_object_set_new(cfg, "eos_token_id", eos);
        json_object_set_new(o, "config", cfg);
        json_object_set_new(o, "tensors", json_integer(n_tensors));
        json_object_set_new(o, "parameters", json_integer(np));
        for (int d = 0; d < QR_DT_COUNT; d++)
            if (count[d]) json_object_set_new(dt, qr_dtype_name((QrDType)d), json_integer(count[d]));
        json_object_set_new(o, "dtypes", dt);
        json_object_set_new(o, "bytes_stored", json_integer((json_int_t)stored));
        json_object_set_new(o, "bytes_loaded", json_integer((json_int_t)loaded));
        json_object_set_new(o, "bytes_per_token", json_integer((json_int_t)per_tok));
        json_object_set_new(o, "kv_bytes_per_token", json_integer((json_int_t)kv_tok));
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
        puts(s);
        free(s);
        json_decref(o);
    } else {
        char a[32], b[32], d[32], f[32], pc[32];
        commas(pc, sizeof pc, np);
        human(a, sizeof a, (double)stored);
        human(b, sizeof b, (double)loaded);
        human(d, sizeof d, (double)per_tok);
        human(f, sizeof f, (double)kv_tok);
        printf("model:       %s\n", path);
        printf("format:      %s\n", fmt);
        printf("family:      %s (model_type %s)\n", c->arch, c->model_type);
        printf("config:      hidden %d, layers %d, heads %d, kv heads %d, head dim %d, ffn %d, vocab %d, context %d\n",
               c->dim, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim, c->ffn_dim, c->vocab_size, c->max_pos);
        printf("             rope theta %g, scaling %s", c->rope_theta, rope_name(c->rope_type));
        if (c->rope_type == QR_ROPE_LINEAR) printf(" (factor %g)", c->rope_factor);
        if (c->rope_type == QR_ROPE_LLAMA3)
            printf(" (factor %g, low %g, high %g, original context %d)", c->rope_factor, c->rope_low_freq_factor,
                   c->rope_high_freq_factor, c->rope_orig_max_pos);
        if (c->rope_dim != c->head_dim) printf(", rotary dims %d of %d", c->rope_dim, c->head_dim);
        printf(" (%s pairs), norm eps %g\n", c->rope_interleaved ? "interleaved" : "half-split", c->norm_eps);
        printf("             activation %s", act_name(c->act));
        if (c->sliding_window) printf(", sliding window %d", c->sliding_window);
        printf("\n             head %s, attention bias %s, mlp bias %s, bos %d, eos", c->tie_embeddings ? "tied" : "untied",
               c->attn_bias ? (c->o_bias ? "q/k/v/o" : "q/k/v") : "no", c->mlp_bias ? "yes" : "no", c->bos_id);
        for (int i = 0; i < c->n_eos; i++) printf(" %d", c->eos_ids[i]);
        printf("%s\n", c->n_eos ? "" : " none");
        printf("tensors:     %d%s\n", n_tensors, arch ? " (implied by the config)" : "");
        printf("parameters:  %s\n", pc);
        printf("dtype:      ");
        for (int t = 0; t < QR_DT_COUNT; t++)
            if (count[t]) printf(" %s x %d", qr_dtype_name((QrDType)t), count[t]);
        printf("\nmemory:      weights %s stored, %s loaded; %s read per decoded token; KV cache %s per token\n", a,
               b, d, f);
    }
    if (arch) qr_ckpt_close(&stub.ckpt);
    else qr_model_free(m);
    return 0;
}
