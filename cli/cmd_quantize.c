// qrobust quantize: writes a checkpoint quantized exactly as transformers +
// bitsandbytes would save it (runtime/qsave.h).
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/model_args.h"
#include "runtime/qsave.h"

static void usage(void) {
    printf("usage: qrobust quantize --model DIR --precision int8|nf4 --out DIR\n"
           "                        [--int8-threshold T] [--nf4-compute D] [--threads N] [--force]\n"
           "\n"
           "Quantizes the linear layers of every block of a Hugging Face checkpoint exactly as\n"
           "transformers + bitsandbytes do when loading with BitsAndBytesConfig(load_in_8bit=True)\n"
           "(LLM.int8: row-wise absmax int8 weights + SCB) or (load_in_4bit=True,\n"
           "bnb_4bit_quant_type=\"nf4\", bnb_4bit_use_double_quant=True) (NF4 blocks of 64 with\n"
           "double-quantized absmax), and writes the checkpoint save_pretrained would write:\n"
           "model.safetensors in bitsandbytes' tensor layout (embeddings, norms and the output head\n"
           "unchanged), config.json with its \"quantization_config\", and the source directory's\n"
           "other files (tokenizer, generation config). qrobust and transformers load the result\n"
           "as a pre-quantized checkpoint; it gives the same tokens as --precision int8|nf4 on the\n"
           "source.\n"
           "\n"
           "  --model DIR         the source: a Hugging Face checkpoint directory (f32, bf16 or f16)\n"
           "  --precision P       int8 or nf4 (required)\n"
           "  --out DIR           where to write (created if missing; required)\n"
           "  --int8-threshold T  llm_int8_threshold recorded for inference (default 6.0)\n"
           "  --nf4-compute D     bnb_4bit_compute_dtype recorded: f32, f16 or bf16 (default f32)\n"
           "  --threads N         CPU threads (default: all cores)\n"
           "  --force             replace a model already in --out\n"
           "\n"
           "example:\n"
           "  qrobust quantize --model models/deepseek-coder-1.3b-base --precision nf4 \\\n"
           "                   --out models/deepseek-coder-1.3b-base-nf4\n"
           "  qrobust generate --model models/deepseek-coder-1.3b-base-nf4 --prompt 'def fib(n):'\n");
}

int cmd_quantize(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    CliModelArgs a = {0};
    const char *out = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_model_flag(argc, argv, &i, &a))) {
            if (r < 0) return 2;
        } else if ((r = cli_flag_value(argc, argv, &i, "--out", &out))) {
            if (r < 0) return 2;
        } else if (cli_is_flag(argv, i, "--force")) {
            force = 1;
        } else {
            return cli_dief("quantize: unknown argument '%s' (see --help)", argv[i]);
        }
    }
    if (!a.model || !out || !a.precision) return cli_dief("quantize: --model, --precision and --out are required (see --help)");
    if (strcmp(a.precision, "int8") && strcmp(a.precision, "nf4"))
        return cli_dief("quantize: --precision '%s': expected int8 or nf4", a.precision);
    if (a.prompt || a.prompt_file || a.ids || a.tokenizer || a.dtype)
        return cli_dief("quantize: only --model, --precision, --out, --int8-threshold, --nf4-compute, --threads, "
                        "--force apply");
    QrErr e;
    QrModel *m;
    if (cli_open_model(&a, &m, NULL, 0, &e)) return cli_die(&e);
    int rc = qr_model_save_quantized(m, out, force, &e);
    qr_model_free(m);
    if (rc) return cli_die(&e);
    fprintf(stderr, "wrote %s (%s)\n", out, a.precision);
    return 0;
}
