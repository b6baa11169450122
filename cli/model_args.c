#include "cli/model_args.h"
#include <errno.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "util/fileio.h"

const char CLI_MODEL_HELP[] =
    "  --model PATH        a Hugging Face checkpoint directory (config.json + model.safetensors or\n"
    "                      sharded model-0000i-of-0000n.safetensors + model.safetensors.index.json),\n"
    "                      a .safetensors file inside one, or a GGUF file (required)\n"
    "  --tokenizer PATH    tokenizer.json, tokenizer.model, directory or GGUF (default: --model)\n"
    "  --threads N         CPU threads (default: all cores, or OMP_NUM_THREADS)\n"
    "  --dtype D           convert the weights at load: f32, bf16 or f16 (default: as stored)\n"
    "  --precision P       fp32, fp16, bf16: every matrix in that type (as --dtype);\n"
    "                      int8, nf4: the linear layers of the blocks quantized on load exactly as\n"
    "                      bitsandbytes does (LLM.int8; NF4 + double quant), embeddings, norms and\n"
    "                      output head as stored. A checkpoint saved quantized by transformers +\n"
    "                      bitsandbytes (or qrobust quantize) loads as it is (default: as stored)\n"
    "  --int8-threshold T  LLM.int8 outlier threshold; 0 = pure int8 (default 6.0, or the\n"
    "                      checkpoint's llm_int8_threshold)\n"
    "  --nf4-compute D     NF4 compute dtype f32, f16 or bf16 (default f32, or the checkpoint's\n"
    "                      bnb_4bit_compute_dtype)\n"
    "  --device D          cpu or cuda (cuda: a `make CUDA=1` build and an NVIDIA GPU; llama-family\n"
    "                      models; default cpu)\n";
const char CLI_PROMPT_HELP[] =
    "  --prompt TEXT       the prompt text\n"
    "  --prompt-file F     read the prompt from file F (bytes as they are)\n"
    "  --ids \"1 2 3\"       the prompt as token ids (no tokenizer needed)\n"
    "                      (exactly one of --prompt, --prompt-file, --ids)\n"
    "  --no-bos            do not add BOS when encoding the prompt text\n";

int cli_model_flag(int argc, char **argv, int *i, CliModelArgs *a) {
    const char *v;
    int r;
    if ((r = cli_flag_value(argc, argv, i, "--model", &a->model))) return r;
    if ((r = cli_flag_value(argc, argv, i, "--tokenizer", &a->tokenizer))) return r;
    if ((r = cli_flag_value(argc, argv, i, "--prompt", &a->prompt))) return r;
    if ((r = cli_flag_value(argc, argv, i, "--prompt-file", &a->prompt_file))) return r;
    if ((r = cli_flag_value(argc, argv, i, "--ids", &a->ids))) return r;
    if ((r = cli_flag_value(argc, argv, i, "--dtype", &a->dtype))) return r;
    if ((r = cli_flag_value(argc, argv, i, "--device", &a->device))) return r;
    if ((r = cli_flag_value(argc, argv, i, "--precision", &a->precision))) return r;
    if ((r = cli_flag_value(argc, argv, i, "--int8-threshold", &a->int8_threshold))) return r;
    if ((r = cli_flag_value(argc, argv, i, "--nf4-compute", &a->nf4_compute))) return r;
    if ((r = cli_flag_value(argc, argv, i, "--threads", &v))) {
        if (r < 0) return -1;
        if (cli_parse_int("--threads", v, &a->threads)) return -1;
        if (a->threads < 1 || a->threads > 1024) {
            cli_dief("--threads must be between 1 and 1024");
            return -1;
        }
        return 1;
    }
    if (cli_is_flag(argv, *i, "--no-bos")) {
        a->no_bos = 1;
        return 1;
    }
    return 0;
}

static int parse_compute(const char *flag, const char *v, QrComputeType *c, QrErr *e) {
    if (!strcmp(v, "f32")) *c = QR_COMPUTE_F32;
    else if (!strcmp(v, "f16")) *c = QR_COMPUTE_F16;
    else if (!strcmp(v, "bf16")) *c = QR_COMPUTE_BF16;
    else return qr_fail(e, "%s '%s': expected f32, f16 or bf16", flag, v);
    return 0;
}

int cli_precision_opts(const CliModelArgs *a, QrLoadOpts *o, QrErr *e) {
    if (a->precision) {
        const char *p = a->precision;
        QrWeightFormat f;
        if (!strcmp(p, "fp32")) f = QR_WF_F32;
        else if (!strcmp(p, "fp16")) f = QR_WF_F16;
        else if (!strcmp(p, "bf16")) f = QR_WF_BF16;
        else if (!strcmp(p, "int8")) f = QR_WF_INT8;
        else if (!strcmp(p, "nf4")) f = QR_WF_NF4;
        else return qr_fail(e, "--precision '%s': expected fp32, fp16, bf16, int8 or nf4", p);
        if (f == QR_WF_INT8 || f == QR_WF_NF4) {
            o->quant.fmt = f;
        } else {
            if (o->convert && o->weight_format != f)
                return qr_fail(e, "--precision %s and --dtype %s disagree", p, a->dtype);
            o->convert = 1;
            o->weight_format = f;
        }
    }
    if (a->int8_threshold) {
        char *end;
        const double t = strtod(a->int8_threshold, &end);
        if (end == a->int8_threshold || *end || !(t >= 0) || t > 65504)
            return qr_fail(e, "--int8-threshold '%s': expected a number in [0, 65504]", a->int8_threshold);
        o->quant.int8_threshold = (float)t;
        o->quant.set_threshold = 1;
    }
    if (a->nf4_compute) {
        if (parse_compute("--nf4-compute", a->nf4_compute, &o->quant.compute, e)) return -1;
        o->quant.set_compute = 1;
    }
    return 0;
}

int cli_open_model(const CliModelArgs *a, QrModel **m, Tokenizer **tok, int need_tok, QrErr *e) {
    *m = NULL;
    if (tok) *tok = NULL;
    if (!a->model) return qr_fail(e, "--model PATH is required (see --help)");
    if (a->threads > 0) omp_set_num_threads((int)a->threads);
    QrLoadOpts o = {0};
    if (a->dtype) {
        o.convert = 1;
        if (!strcmp(a->dtype, "f32")) o.weight_format = QR_WF_F32;
        else if (!strcmp(a->dtype, "bf16")) o.weight_format = QR_WF_BF16;
        else if (!strcmp(a->dtype, "f16")) o.weight_format = QR_WF_F16;
        else return qr_fail(e, "--dtype '%s': expected f32, bf16 or f16", a->dtype);
    }
    if (cli_precision_opts(a, &o, e)) return -1;
    if (a->device) {
        if (!strcmp(a->device, "cuda")) o.device = QR_DEVICE_CUDA;
        else if (strcmp(a->device, "cpu")) return qr_fail(e, "--device '%s': expected cpu or cuda", a->device);
    }
    if (qr_model_load(m, a->model, &o, e)) return -1;
    if (a->precision && o.quant.fmt == QR_WF_F32 && qr_model_quant_format(*m) != QR_WF_F32) {
        qr_fail(e, "%s: the checkpoint is quantized (%s); --precision %s cannot undo that", a->model,
                qr_wf_name(qr_model_quant_format(*m)), a->precision);
        qr_model_free(*m);
        *m = NULL;
        return -1;
    }
    if (tok) {
        QrErr te;
        if (tok_load(tok, a->tokenizer ? a->tokenizer : a->model, &te)) {
            *tok = NULL;
            if (need_tok || a->tokenizer) {
                qr_model_free(*m);
                *m = NULL;
                memcpy(e, &te, sizeof te);
                return -1;
            }
        }
    }
    return 0;
}

int cli_parse_ids(const char *s, int32_t **ids, int *n, QrErr *e) {
    size_t cap = 16;
    int k = 0;
    int32_t *v = malloc(cap * sizeof *v);
    if (!v) return qr_fail(e, "out of memory");
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < 0 || x > INT32_MAX || (*end && !strchr(" ,\t\n", *end))) {
            free(v);
            return qr_fail(e, "--ids: '%.20s' is not a token id", p);
        }
        if ((size_t)k == cap) {
            int32_t *nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) {
                free(v);
                return qr_fail(e, "out of memory");
            }
            v = nv;
        }
        v[k++] = (int32_t)x;
        p = end;
    }
    if (!k) {
        free(v);
        return qr_fail(e, "--ids: no token ids given");
    }
    *ids = v;
    *n = k;
    return 0;
}

int cli_prompt_ids(const CliModelArgs *a, const Tokenizer *tok, int32_t **ids, int *n, QrErr *e) {
    if (!!a->prompt + !!a->prompt_file + !!a->ids != 1)
        return qr_fail(e, "give exactly one of --prompt, --prompt-file or --ids (see --help)");
    if (a->ids) return cli_parse_ids(a->ids, ids, n, e);
    if (!tok)
        return qr_fail(e, "%s: no tokenizer found for the prompt text (give --tokenizer PATH, or --ids)",
                       a->tokenizer ? a->tokenizer : a->model);
    char *buf = NULL;
    size_t len;
    const char *text = a->prompt;
    if (a->prompt_file) {
        if (qr_read_file(a->prompt_file, &buf, &len, e)) return -1;
        text = buf;
    } else {
        len = strlen(text);
    }
    size_t nn;
    int rc = tok_encode(tok, text, len, a->no_bos ? 0 : TOK_ADD_SPECIAL, ids, &nn, e);
    free(buf);
    if (rc) return -1;
    if (nn == 0) {
        free(*ids);
        return qr_fail(e, "the prompt encodes to no tokens");
    }
    *n = (int)nn;
    return 0;
}
