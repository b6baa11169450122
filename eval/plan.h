// The plan of a study run: models x precisions x conditions x datasets x
// samples, built from flags and/or a small JSON config file, validated before
// any work starts, and cut into deterministic shards.
//
// Units of work. A unit is (model, precision, condition, generation set); a
// generation set is "humaneval" (scored as HumanEval and HumanEval+ from the
// same completions, as EvalPlus does) or "mbpp" (the MBPP+ tasks, scored with
// the base tests as "mbpp" and with the plus tests as "mbpp+"). Every unit
// has a stable id; a result line's key is "<unit id>|<task_id>|<sample>".
// Shard i of N owns the units whose index in the canonical order below is
// i mod N, so shards never overlap and together cover the plan.
//
// Canonical order: models in the order given, then precisions, then
// conditions (clean, char, word, sentence, then each noise kind x target x
// level), then generation sets. Noise targets other than `all` apply only to
// quantized precisions (for float weights they coincide with `all`).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "util/err.h"

#define QR_MAX_MODELS 64
#define QR_MAX_PREC 8
#define QR_MAX_LEVELS 16
#define QR_MAX_TARGETS 4
#define QR_MAX_CONDS 256
#define QR_MAX_GENSETS 2

typedef enum { QR_COND_CLEAN, QR_COND_CHAR, QR_COND_WORD, QR_COND_SENTENCE, QR_COND_GAUSSIAN, QR_COND_UNIFORM } QrCondKind;

typedef struct {
    QrCondKind kind;
    double level;      // noise: standard deviation (gaussian) or half-width (uniform)
    char target[24];   // noise: all | unquantized-only | pre-quant | post-quant
    char id[128];      // canonical id, e.g. "gaussian(level=0.001,target=all)", "char(p=0.5,cap=5)"
} QrCond;

typedef struct {
    char name[128];       // display name: --model NAME=PATH, else the file/dir name
    char path[1024];
    char config_sha256[65]; // of config.json (HF dir), of the GGUF header (first MiB), of the name (fake)
    char id[160];         // "<name>@<first 12 hex of config_sha256>"
} QrModelSpec;

typedef struct {
    // what to run
    QrModelSpec models[QR_MAX_MODELS];
    int n_models;
    char precisions[QR_MAX_PREC][8];
    int n_prec;
    char attacks[8][12]; // clean, char, word, sentence, gaussian, uniform
    int n_attacks;
    double levels[QR_MAX_LEVELS];
    int n_levels;
    char targets[QR_MAX_TARGETS][24];
    int n_targets;
    char gensets[QR_MAX_GENSETS][12]; // humaneval, mbpp
    int n_gensets;
    // generation
    int n_samples, max_new_tokens, batch;
    // How prompts and outputs are post-processed (eval/postprocess.h):
    // "evalplus" (default; part of the generation settings: ",post=evalplus")
    // or "raw" (no suffix: the keys of results written before the mode existed).
    char postprocess[12];
    double temperature, top_p;
    uint64_t seed;
    int limit; // first N tasks of each dataset (0 = all)
    // prompt attacks (see attacks/)
    double char_p, word_p;
    int char_cap, word_k;
    char sentence_engine[16]; // mbart | apertium
    char translator[1024];    // mBART checkpoint dir for engine mbart
    // execution
    char backend[16]; // real | fake
    char device[8];   // cpu | cuda (a `make CUDA=1` build; not part of any key, recorded as the lines' backend)
    int generate_only; // --generate-only: generations now, verdicts by a later run (not part of any key)
    int threads, parallel;
    // scale-out
    int shard_i, shard_n;
    // derived by qr_plan_finalize
    QrCond conds[QR_MAX_CONDS];
    int n_conds;
    char gen_id[96]; // "greedy,max=512,seed=0,post=evalplus" or "sample(t=0.8,top_p=0.95,n=10),max=512,seed=0" (raw)
    int finalized;
} QrPlan;

// Defaults of the study: fp32,int8,nf4; clean,char,word,sentence,gaussian,
// uniform; levels 1e-4,1e-3,3e-3,5e-3,1e-2; targets all; humaneval,mbpp;
// greedy n = 1, 512 new tokens; char p 0.5 cap 5; word p 0.15 k 3; mbart;
// post-processing evalplus.
void qr_plan_defaults(QrPlan *p);
// Sets one option from its text value; names as the flags without "--"
// (underscores accepted for dashes, as in config files). "model" appends
// ("NAME=PATH" or "PATH"); list options take comma-separated values and
// replace the default list. Errors name the option and the bad value.
int qr_plan_set(QrPlan *p, const char *name, const char *value, QrErr *e);
// Reads a JSON config object whose keys are option names; lists may be JSON
// arrays; "models" may hold strings or {"name":..., "path":...} objects.
// Unknown keys are errors.
int qr_plan_load_config(QrPlan *p, const char *path, QrErr *e);
// Validates everything and derives conds/gen_id/model ids; model paths must
// exist for the real backend (their config is checksummed). Nothing is run.
int qr_plan_finalize(QrPlan *p, QrErr *e);

int qr_prec_is_quantized(const char *prec);
int qr_cond_is_noise(const QrCond *c);
int qr_cond_is_prompt_attack(const QrCond *c);
// Parses a condition in the short form used by flags and the pass-rates CSV:
// clean | char | word | sentence | gaussian:LEVEL[:TARGET] | uniform:LEVEL[:TARGET]
// (also accepts the canonical ids written into results).
int qr_cond_parse(const QrPlan *defaults, const char *s, QrCond *c, QrErr *e);
void qr_cond_make_id(const QrPlan *p, QrCond *c);
// Scored datasets of a generation set: base and plus names.
const char *qr_genset_base(const char *genset);
const char *qr_genset_plus(const char *genset);

// Units in canonical order (see top). Fills *n with the count; returns 0.
typedef struct {
    int model, prec, cond, genset;
    int index; // position in the canonical order
    char id[512];
} QrUnit;
int qr_plan_units(const QrPlan *p, QrUnit **units, int *n, QrErr *e);
int qr_unit_in_shard(const QrPlan *p, const QrUnit *u);
void qr_key(char *out, size_t n, const char *unit_id, const char *task_id, int sample);
// Seed of one (task, sample): FNV-1a of the plan seed, task id and sample (63 bits).
uint64_t qr_sample_seed(const QrPlan *p, const char *task_id, int sample);
