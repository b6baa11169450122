// Flags shared by the commands that run a model (generate, logits, info):
// which checkpoint, which tokenizer, the prompt as text or ids, threads and
// the weight format to compute from.
#pragma once
#include <stdint.h>
#include "runtime/model.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    const char *model;       // --model PATH (HF directory, .safetensors in one, or .gguf)
    const char *tokenizer;   // --tokenizer PATH (default: the model path)
    const char *prompt;      // --prompt TEXT
    const char *prompt_file; // --prompt-file F
    const char *ids;         // --ids "1 2 3"
    const char *dtype;       // --dtype f32|bf16|f16 (convert weights at load)
    const char *precision;   // --precision fp32|fp16|bf16|int8|nf4 (the study's precisions)
    const char *int8_threshold; // --int8-threshold T (LLM.int8 outlier threshold)
    const char *nf4_compute; // --nf4-compute f32|f16|bf16 (NF4 compute dtype)
    const char *device;      // --device cpu|cuda
    long long threads;       // --threads N (0: OpenMP default)
    int no_bos;              // --no-bos: do not add BOS when encoding the prompt
} CliModelArgs;

// The help lines for these flags (prompt: include --prompt/--prompt-file/--ids).
extern const char CLI_MODEL_HELP[];
extern const char CLI_PROMPT_HELP[];

// If argv[*i] is one of these flags, consumes it (and its value) and returns 1;
// 0 if it is not; -1 after printing a usage error.
int cli_model_flag(int argc, char **argv, int *i, CliModelArgs *a);
// Adds --precision / --int8-threshold / --nf4-compute to load options
// (after --dtype has set o->convert); errors name the flag.
int cli_precision_opts(const CliModelArgs *a, QrLoadOpts *o, QrErr *e);
// Loads the model (and, unless tok is NULL, the tokenizer; a tokenizer that
// fails to load is an error only if need_tok). Sets the thread count.
int cli_open_model(const CliModelArgs *a, QrModel **m, Tokenizer **tok, int need_tok, QrErr *e);
// The prompt's token ids: --ids as given, or --prompt/--prompt-file encoded
// (BOS added as the tokenizer says unless --no-bos). *ids is malloc'd.
int cli_prompt_ids(const CliModelArgs *a, const Tokenizer *tok, int32_t **ids, int *n, QrErr *e);
// Parses "1 2 3" (spaces or commas) into ids; errors name the bad item.
int cli_parse_ids(const char *s, int32_t **ids, int *n, QrErr *e);
