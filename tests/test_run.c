// The main job end to end, on the fake backend (eval/backend_fake.c) and on
// the real stages (the tiny stories260K model, real prompts, the sandboxed
// evaluator): the whole matrix runs and is judged; a run killed with SIGKILL
// part-way (with a torn last line, as a kill inside write() would leave) and
// resumed equals an uninterrupted run; 3 shards merged equal the unsharded
// run; the results store's crash rules; the real backend's EvalPlus cut.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "eval/backend.h"
#include "eval/plan.h"
#include "eval/postprocess.h"
#include "eval/results.h"
#include "tests/run_util.h"
#include "util/sha256.h"

static char bin[1024], tmp[256];

// A study: its run flags, how many generation lines it makes (each judged:
// as many execution lines) and the fake backend's delay to slow it for the kill.
typedef struct {
    const char *name;
    const char *args[24];
    int lines;
    const char *delay;
} Study;

static const Study FAKE = {
    "fake",
    {"--backend", "fake", "--model", "fake:tiny-a", "--model", "fake:tiny-b", "--precisions", "fp32,int8,nf4",
     "--noise-levels", "1e-3,1e-2", "--noise-targets", "all,unquantized-only,pre-quant,post-quant", "--limit", "5", NULL},
    // 2 models x (fp32: clean,char,word,sentence + 2 kinds x 2 levels = 8;
    //             int8, nf4: 4 + 2 kinds x 4 targets x 2 levels = 20 each) x 2 datasets x 5 tasks
    2 * (8 + 20 + 20) * 2 * 5, "3"};

// The real engine on the real tiny model (tests/fixtures/stories260K), judged
// by the sandboxed evaluator. Datasets: the first tasks of HumanEval+ and
// MBPP+ as cut down in tests/fixtures/eval ($QROBUST_DATA, set up below), so
// that the expected outputs take a second to compute, not the minutes of the
// full sets; prompts and tests are the real ones. One thread: the model is
// too small to share, and on a busy machine OpenMP threads waiting for each
// other cost far more than they compute.
static const Study REAL = {
    "real",
    {"--model", "tests/fixtures/stories260K/stories260K.gguf", "--precisions", "fp32,nf4", "--attacks",
     "clean,char,word,gaussian", "--noise-levels", "3e-2", "--noise-targets", "all,pre-quant,post-quant", "--limit", "2",
     "--max-new-tokens", "6", "--parallel", "2", "--threads", "1", NULL},
    // (fp32: clean, char, word, gaussian all; nf4: clean, char, word + gaussian x 3 targets) x 2 datasets x 2 tasks
    (4 + 6) * 2 * 2, NULL};

// argv: bin run <study args> <extra...> NULL
static void study_argv(const char **argv, const Study *st, const char *const *extra) {
    int k = 0;
    argv[k++] = bin;
    argv[k++] = "run";
    for (int i = 0; st->args[i]; i++) argv[k++] = st->args[i];
    for (int i = 0; extra[i]; i++) argv[k++] = extra[i];
    argv[k] = NULL;
}

// Runs of a study see no fake delay unless asked (the kill sets one).
static const char *const NO_DELAY[] = {"QROBUST_FAKE_DELAY_MS", NULL};

static int run(const char *const *argv) { return rt_run(argv, NO_DELAY); }

static int run_study(const Study *st, const char *dir, const char *shard) {
    const char *argv[48];
    const char *extra[] = {"--out", dir, "--quiet", shard ? "--shard" : NULL, shard, NULL};
    study_argv(argv, st, extra);
    return run(argv);
}

// The REAL study's datasets: the fixture subsets under the names the real
// backend loads, and a private cache for their expected outputs (exported,
// so every qrobust started by this test uses them).
static int real_data_env(void) {
    char data[300], cache[300], src[PATH_MAX], dst[400];
    snprintf(data, sizeof data, "%s/data", tmp);
    snprintf(cache, sizeof cache, "%s/cache", tmp);
    if (mkdir(data, 0700)) return -1;
    const char *map[][2] = {{"tests/fixtures/eval/heplus.jsonl", "HumanEvalPlus.jsonl.gz"},
                            {"tests/fixtures/eval/mbppplus.jsonl", "MbppPlus.jsonl.gz"}}; // gzopen reads plain text too
    for (int i = 0; i < 2; i++) {
        snprintf(dst, sizeof dst, "%s/%s", data, map[i][1]);
        if (!realpath(map[i][0], src) || symlink(src, dst)) return -1;
    }
    setenv("QROBUST_DATA", data, 1);
    setenv("QROBUST_CACHE", cache, 1);
    return 0;
}

static int setup(void **state) {
    (void)state;
    rt_bin(bin, sizeof bin);
    if (rt_mkdtemp(tmp, sizeof tmp, "run") || real_data_env()) return -1;
    const Study *studies[] = {&FAKE, &REAL};
    for (int i = 0; i < 2; i++) {
        char d[512];
        snprintf(d, sizeof d, "%s/%s-full", tmp, studies[i]->name);
        if (run_study(studies[i], d, NULL)) return -1;
    }
    return 0;
}

static int teardown(void **st) {
    (void)st;
    return rt_sh("rm -rf '%s'", tmp) == 0 ? 0 : -1;
}

static void path_in(char *out, size_t n, const char *dir, const char *file) { snprintf(out, n, "%s/%s", dir, file); }

static void whole_matrix(const Study *st) {
    char p[600], d[512];
    snprintf(d, sizeof d, "%s/%s-full", tmp, st->name);
    path_in(p, sizeof p, d, "generations.jsonl");
    assert_int_equal(rt_count_lines(p), st->lines);
    path_in(p, sizeof p, d, "executions.jsonl");
    assert_int_equal(rt_count_lines(p), st->lines);
    path_in(p, sizeof p, d, "plan.json");
    assert_true(access(p, R_OK) == 0);
    // A rerun finds nothing to do and writes nothing.
    assert_int_equal(run_study(st, d, NULL), 0);
    path_in(p, sizeof p, d, "generations.jsonl");
    assert_int_equal(rt_count_lines(p), st->lines);
    path_in(p, sizeof p, d, "executions.jsonl");
    assert_int_equal(rt_count_lines(p), st->lines);
    // Lines are self-describing.
    QrStore s;
    QrErr e;
    assert_int_equal(qr_store_open(&s, d, 0, &e), 0);
    json_t *l = s.lines[QR_GEN][0];
    const char *fields[] = {"key", "model", "precision", "condition", "dataset", "task_id", "sample", "seed", "gen",
                            "prompt_sha256", "completion", "finish", "seconds", "qrobust", "backend"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) assert_non_null(json_object_get(l, fields[i]));
    assert_non_null(json_object_get(json_object_get(l, "model"), "config_sha256"));
    json_t *x = s.lines[QR_EXEC][0];
    assert_non_null(json_object_get(json_object_get(x, "verdicts"), "humaneval+"));
    assert_non_null(json_object_get(x, "completion_sha256"));
    qr_store_close(&s);
}

static void test_whole_matrix(void **state) { (void)state; whole_matrix(&FAKE); }

static const char *str_at(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

// The real model: greedy completions of real prompts, noise changes them,
// every completion cut as EvalPlus cuts it, and each judged in the sandbox:
// a 260K-parameter story model writes prose, which never loads as Python.
static void test_whole_matrix_real(void **state) {
    (void)state;
    whole_matrix(&REAL);
    char d[512];
    snprintf(d, sizeof d, "%s/real-full", tmp);
    QrStore s;
    QrErr e;
    assert_int_equal(qr_store_open(&s, d, 0, &e), 0);
#define KEY(prec, cond) "stories260K@25bfdf5fb49f|" prec "|" cond "|humaneval|greedy,max=6,seed=0|HumanEval/0|0"
    json_t *clean = qr_store_get(&s, QR_GEN, KEY("fp32", "clean"));
    json_t *q = qr_store_get(&s, QR_GEN, KEY("nf4", "clean"));
    json_t *noisy = qr_store_get(&s, QR_GEN, KEY("nf4", "gaussian(level=0.03,target=pre-quant)"));
    assert_non_null(qr_store_get(&s, QR_GEN, KEY("nf4", "gaussian(level=0.03,target=post-quant)")));
    assert_non_null(qr_store_get(&s, QR_GEN, KEY("fp32", "gaussian(level=0.03,target=all)")));
    json_t *ch = qr_store_get(&s, QR_GEN, KEY("fp32", "char(p=0.5,cap=5)"));
    assert_non_null(clean);
    assert_non_null(q);
    assert_non_null(noisy);
    assert_non_null(ch);
    assert_int_equal(json_integer_value(json_object_get(clean, "n_gen_tokens")), 6);
    assert_string_equal(str_at(clean, "finish"), "length");
    // stories260K's greedy continuation of the HumanEval/0 docstring: a story.
    assert_string_equal(str_at(clean, "completion"), "Lily. She sm");
    assert_string_not_equal(str_at(q, "completion"), str_at(noisy, "completion"));
    // The attacked prompt is recorded with its engine; the prose changed, the signature did not.
    const char *prompt = str_at(ch, "prompt");
    assert_non_null(prompt);
    assert_string_equal(str_at(ch, "attack_engine"), "qrobust");
    assert_non_null(strstr(prompt, "def has_close_elements(numbers: List[float], threshold: float) -> bool:"));
    assert_string_not_equal(str_at(ch, "prompt_sha256"), str_at(clean, "prompt_sha256"));
    // Every completion: EvalPlus's post-processing of its dataset, so no stop
    // string and no tab is left in it.
    for (int i = 0; i < s.n[QR_GEN]; i++) {
        json_t *g = s.lines[QR_GEN][i];
        int mbpp = !strcmp(str_at(g, "dataset"), "mbpp");
        assert_string_equal(str_at(g, "postprocess"), mbpp ? "evalplus-mbpp" : "evalplus-humaneval");
        const char *const *stops;
        size_t ns = qr_stop_strings(mbpp ? QR_DS_MBPP_PLUS : QR_DS_HUMANEVAL_PLUS, &stops);
        for (size_t k = 0; k < ns; k++) assert_null(strstr(str_at(g, "completion"), stops[k]));
        assert_null(strchr(str_at(g, "completion"), '\t'));
    }
    // Every execution: the completion of the same key, judged on the dataset's
    // base and plus tests; prose after a docstring fails to load (status
    // "error"), and the plus verdict repeats the failed base one (EvalPlus's
    // "+" score needs both).
    int n_he = 0, n_mbpp = 0;
    for (int i = 0; i < s.n[QR_EXEC]; i++) {
        json_t *x = s.lines[QR_EXEC][i];
        json_t *g = qr_store_get(&s, QR_GEN, str_at(x, "key"));
        assert_non_null(g);
        char sha[65];
        qr_sha256_hex(str_at(g, "completion"), strlen(str_at(g, "completion")), sha);
        assert_string_equal(str_at(x, "completion_sha256"), sha);
        int mbpp = !strcmp(str_at(x, "dataset"), "mbpp");
        n_he += !mbpp, n_mbpp += mbpp;
        json_t *v = json_object_get(x, "verdicts");
        assert_int_equal(json_object_size(v), 2);
        json_t *base = json_object_get(v, mbpp ? "mbpp" : "humaneval"), *plus = json_object_get(v, mbpp ? "mbpp+" : "humaneval+");
        assert_string_equal(str_at(base, "status"), "error");
        assert_true(!strncmp(str_at(base, "detail"), "loading the solution raised ", 28));
        assert_true(json_equal(base, plus));
    }
    assert_int_equal(n_he, REAL.lines / 2);
    assert_int_equal(n_mbpp, REAL.lines / 2);
    json_t *xc = qr_store_get(&s, QR_EXEC, KEY("fp32", "clean"));
    assert_non_null(xc);
    // "Lily. She sm" after the docstring: line 12 of the program is not Python.
    assert_string_equal(str_at(json_object_get(json_object_get(xc, "verdicts"), "humaneval+"), "detail"),
                        "loading the solution raised SyntaxError: invalid syntax (<string>, line 12)");
    qr_store_close(&s);
    // The report from these lines: pass@1 0 on both tasks.
    char csv[600];
    assert_int_equal(rt_sh("'%s' report '%s' --quiet", bin, d), 0);
    snprintf(csv, sizeof csv, "%s/report/pass_rates.csv", d);
    char *t = rt_slurp(csv);
    assert_non_null(t);
    assert_non_null(strstr(t, "\nstories260K,fp32,clean,humaneval,2,0,"));
    assert_non_null(strstr(t, "\nstories260K,nf4,clean,mbpp+,2,0,"));
    free(t);
}

static void kill_and_resume(const Study *st) {
    char d[512], gp[600], xp[600];
    snprintf(d, sizeof d, "%s/%s-killed", tmp, st->name);
    path_in(gp, sizeof gp, d, "generations.jsonl");
    path_in(xp, sizeof xp, d, "executions.jsonl");
    const char *args[48];
    const char *extra[] = {"--out", d, "--quiet", NULL};
    study_argv(args, st, extra);
    const int LINES = st->lines;
    // fake: 3 ms per completion, ~3 s in all; real: ~0.1 s per unit (the
    // sandbox judges each unit after generating it).
    char delay[64];
    snprintf(delay, sizeof delay, "QROBUST_FAKE_DELAY_MS=%s", st->delay ? st->delay : "0");
    const char *env[] = {delay, NULL};
    pid_t pid = rt_spawn(args, env);
    // Killed once a third is generated and something is judged.
    int lines = 0, judged = 0;
    for (int i = 0; i < 4000 && (lines < LINES / 3 || judged < 1); i++) {
        nanosleep(&(struct timespec){0, 5000000}, NULL);
        lines = rt_count_lines(gp);
        judged = rt_count_lines(xp);
    }
    kill(pid, SIGKILL);
    int stw;
    waitpid(pid, &stw, 0);
    assert_true(WIFSIGNALED(stw));
    lines = rt_count_lines(gp);
    judged = rt_count_lines(xp);
    assert_true(lines >= LINES / 3 && lines < LINES);
    assert_true(judged >= 1 && judged < LINES);
    // What a kill inside write() would leave: a line without its newline.
    const char *torn[] = {gp, xp};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(torn[i], "a");
        fputs("{\"type\":\"generation\",\"key\":\"tiny-a@", f);
        fclose(f);
    }
    assert_int_equal(run(args), 0);
    assert_int_equal(rt_count_lines(gp), LINES);
    assert_int_equal(rt_count_lines(xp), LINES);
    int na, nb;
    char full[512];
    snprintf(full, sizeof full, "%s/%s-full", tmp, st->name);
    char *a = rt_canon(full, &na), *b = rt_canon(d, &nb);
    assert_int_equal(na, 2 * LINES);
    assert_int_equal(nb, 2 * LINES);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

static void test_kill_and_resume(void **state) { (void)state; kill_and_resume(&FAKE); }
static void test_kill_and_resume_real(void **state) { (void)state; kill_and_resume(&REAL); }

static void shards_merge(const Study *st) {
    char sd[3][400], m[400], full[400];
    int total = 0, total_x = 0;
    const int LINES = st->lines;
    for (int i = 0; i < 3; i++) {
        snprintf(sd[i], sizeof sd[i], "%s/%s-shard%d", tmp, st->name, i);
        char sh[16];
        snprintf(sh, sizeof sh, "%d/3", i);
        assert_int_equal(run_study(st, sd[i], sh), 0);
        char gp[1300];
        path_in(gp, sizeof gp, sd[i], "generations.jsonl");
        int n = rt_count_lines(gp);
        assert_true(n > 0 && n < LINES);
        total += n;
        path_in(gp, sizeof gp, sd[i], "executions.jsonl");
        assert_int_equal(rt_count_lines(gp), n);
        total_x += n;
    }
    assert_int_equal(total, LINES); // disjoint and complete
    assert_int_equal(total_x, LINES);
    snprintf(m, sizeof m, "%s/%s-merged", tmp, st->name);
    const char *margs[] = {bin, "merge", sd[0], sd[1], sd[2], "--out", m, "--quiet", NULL};
    assert_int_equal(run(margs), 0);
    assert_int_equal(run(margs), 0); // idempotent
    snprintf(full, sizeof full, "%s/%s-full", tmp, st->name);
    int na, nb;
    char *a = rt_canon(full, &na), *b = rt_canon(m, &nb);
    assert_int_equal(na, 2 * LINES);
    assert_int_equal(nb, 2 * LINES);
    assert_string_equal(a, b);
    free(a);
    free(b);
    char gp[1300];
    path_in(gp, sizeof gp, m, "generations.jsonl");
    assert_int_equal(rt_count_lines(gp), LINES);
    path_in(gp, sizeof gp, m, "executions.jsonl");
    assert_int_equal(rt_count_lines(gp), LINES);
}

static void test_shards_merge(void **state) { (void)state; shards_merge(&FAKE); }
static void test_shards_merge_real(void **state) { (void)state; shards_merge(&REAL); }

// What the real backend stores for a model's raw output: EvalPlus's cut with
// the stop strings of the dataset family, not one list for both.
static void test_real_completion_cut(void **st) {
    (void)st;
    const char *post;
    struct {
        const char *genset, *raw, *stored;
    } cases[] = {
        // HumanEval: a new top-level def ends the completion; tabs become 4 spaces.
        {"humaneval", "    return sorted(numbers)\n\tpass\n\ndef helper():\n    return 1\n", "    return sorted(numbers)\n    pass\n"},
        // A comment at column 0 is not a stop (EvalPlus has no "\n#"); print( is.
        {"humaneval", "    x = 1\n# note\n    return x\nprint(f(1))\n", "    x = 1\n# note\n    return x"},
        {"humaneval", "    return 1\nimport os\n", "    return 1"},
        // MBPP: the model writes the function itself; helpers and imports stay,
        // the first assert (or a docstring opening at column 0) ends it.
        {"mbpp", "def f(a):\n    return g(a)\n\ndef g(a):\n    return a\nimport os\n\nassert f(1) == 1\n",
         "def f(a):\n    return g(a)\n\ndef g(a):\n    return a\nimport os\n"},
        {"mbpp", "def f():\n    return 1\n\"\"\"\nWrite a function", "def f():\n    return 1"},
        {"mbpp", "def f():\n    return 1</s>def g", "def f():\n    return 1"},
        {"humaneval", "", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *c = qr_real_completion(cases[i].genset, cases[i].raw, &post);
        assert_string_equal(c, cases[i].stored);
        assert_string_equal(post, !strcmp(cases[i].genset, "mbpp") ? "evalplus-mbpp" : "evalplus-humaneval");
        free(c);
    }
}

static void test_store_crash_rules(void **st) {
    (void)st;
    char d[512], gp[600];
    snprintf(d, sizeof d, "%s/store", tmp);
    snprintf(gp, sizeof gp, "%s/store/generations.jsonl", tmp);
    QrStore s, s2;
    QrErr e;
    assert_int_equal(qr_store_open(&s, d, 1, &e), 0);
    // A second writer is refused while the first holds the lock.
    assert_int_equal(qr_store_open(&s2, d, 1, &e), -1);
    assert_non_null(strstr(e.msg, "another qrobust process"));
    assert_int_equal(qr_store_append(&s, QR_GEN, json_pack("{s:s, s:i}", "key", "a", "v", 1), &e), 0);
    qr_store_close(&s);
    // Garbage in the middle, a duplicate, a line without key, a torn tail.
    FILE *f = fopen(gp, "a");
    fputs("not json\n{\"key\":\"a\",\"v\":2}\n{\"nokey\":1}\n{\"key\":\"b\",\"v\":3}\n{\"key\":\"c\",\"v", f);
    fclose(f);
    assert_int_equal(qr_store_open(&s, d, 0, &e), 0);
    assert_int_equal(s.n[QR_GEN], 2);
    assert_int_equal(s.n_torn, 1);
    assert_int_equal(s.n_bad, 2);
    assert_int_equal(s.n_dup, 1);
    assert_int_equal(json_integer_value(json_object_get(qr_store_get(&s, QR_GEN, "a"), "v")), 1);
    assert_null(qr_store_get(&s, QR_GEN, "c"));
    qr_store_close(&s);
    // A writer cuts the torn tail before appending, so the new line is whole.
    assert_int_equal(qr_store_open(&s, d, 1, &e), 0);
    assert_int_equal(qr_store_append(&s, QR_GEN, json_pack("{s:s, s:i}", "key", "c", "v", 4), &e), 0);
    qr_store_close(&s);
    assert_int_equal(qr_store_open(&s, d, 0, &e), 0);
    assert_int_equal(s.n_torn, 0);
    assert_int_equal(json_integer_value(json_object_get(qr_store_get(&s, QR_GEN, "c"), "v")), 4);
    qr_store_close(&s);
    assert_int_equal(qr_store_open(&s, "/nonexistent/dir", 0, &e), -1);
    assert_non_null(strstr(e.msg, "/nonexistent/dir"));
}

// Bad flags and configs fail before any work: exit 2 and no results directory.
static void test_bad_input(void **st) {
    (void)st;
    char d[512], cfg[512];
    snprintf(d, sizeof d, "%s/never", tmp);
    snprintf(cfg, sizeof cfg, "%s/bad.json", tmp);
    const char *cases[][12] = {
        {bin, "run", "--backend", "fake", "--model", "fake:a", "--precisions", "fp32,int9", "--out", d, NULL},
        {bin, "run", "--backend", "fake", "--model", "fake:a", "--noise-levels", "0.01,x", "--out", d, NULL},
        {bin, "run", "--backend", "fake", "--model", "fake:a", "--shard", "3/3", "--out", d, NULL},
        {bin, "run", "--backend", "fake", "--model", "fake:a", "--n-samples", "5", "--out", d, NULL},
        {bin, "run", "--backend", "fake", "--model", "fake:a", "--frobnicate", "1", "--out", d, NULL},
        {bin, "run", "--backend", "fake", "--out", d, NULL},
        {bin, "run", "--model", "/nonexistent/model", "--out", d, NULL},
        {bin, "run", "--backend", "fake", "--model", "fake:a", "--model", "fake:a", "--out", d, NULL},
        {bin, "run", "--config", cfg, "--out", d, NULL},
        {bin, "run", "--backend", "fake", "--model", "fake:a", NULL},
        {bin, "merge", "/nonexistent/x", "--out", d, NULL},
        {bin, "run", "--backend", "fake", "--model", "fake:a", "--device", "gpu", "--out", d, NULL},
        {bin, "run", "--backend", "fake", "--model", "fake:a", "--device", "cuda", "--out", d, NULL},
    };
    rt_write_text(cfg, "{\"models\": [\"fake:a\"], \"backend\": \"fake\", \"precision\": [\"fp32\", 3.5]}");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(run(cases[i]), 2);
        assert_true(access(d, F_OK) != 0);
    }
    // Config errors name the file.
    rt_write_text(cfg, "{\"models\": [\"fake:a\"], \"bogus\": 1}");
    QrPlan *p = malloc(sizeof *p);
    QrErr e;
    qr_plan_defaults(p);
    assert_int_equal(qr_plan_load_config(p, cfg, &e), -1);
    assert_non_null(strstr(e.msg, "bad.json"));
    assert_non_null(strstr(e.msg, "bogus"));
    rt_write_text(cfg, "{\"models\": [\"fake:a\"], ");
    assert_int_equal(qr_plan_load_config(p, cfg, &e), -1);
    assert_non_null(strstr(e.msg, "invalid JSON"));
    // A good config with flags on top; units and shards are deterministic.
    rt_write_text(cfg, "{\"models\": [{\"name\": \"x\", \"path\": \"fake:1\"}, \"fake:y\"], \"backend\": \"fake\","
                    " \"precisions\": [\"fp32\", \"nf4\"], \"attacks\": \"clean,gaussian\", \"noise_levels\": [0.001, 0.01],"
                    " \"noise_targets\": [\"all\", \"post-quant\"], \"limit\": 3}");
    qr_plan_defaults(p);
    assert_int_equal(qr_plan_load_config(p, cfg, &e), 0);
    assert_int_equal(qr_plan_set(p, "shard", "1/2", &e), 0);
    assert_int_equal(qr_plan_finalize(p, &e), 0);
    assert_string_equal(p->models[0].name, "x");
    assert_string_equal(p->models[1].name, "y");
    assert_int_equal(p->n_conds, 5); // clean + gaussian x {all, post-quant} x 2 levels
    assert_string_equal(p->conds[1].id, "gaussian(level=0.001,target=all)");
    QrUnit *u;
    int nu;
    assert_int_equal(qr_plan_units(p, &u, &nu, &e), 0);
    // per model: fp32 (clean + 2 levels of all) = 3, nf4 5; x 2 datasets x 2 models
    assert_int_equal(nu, (3 + 5) * 2 * 2);
    assert_string_equal(u[0].id, "x@e9ed68bb4e49|fp32|clean|humaneval|greedy,max=512,seed=0");
    int mine = 0;
    for (int i = 0; i < nu; i++) mine += qr_unit_in_shard(p, &u[i]);
    assert_int_equal(mine, nu / 2);
    assert_false(qr_unit_in_shard(p, &u[0]));
    free(u);
    // --device cuda on the real backend: refused before any work by a build
    // without the CUDA backend.
    qr_plan_defaults(p);
    assert_int_equal(qr_plan_set(p, "model", "tests/fixtures/stories260K/stories260K.gguf", &e), 0);
    assert_int_equal(qr_plan_set(p, "attacks", "clean", &e), 0);
    assert_int_equal(qr_plan_set(p, "device", "cuda", &e), 0);
    assert_string_equal(p->device, "cuda");
#ifdef QR_CUDA
    assert_int_equal(qr_plan_finalize(p, &e), 0);
#else
    assert_int_equal(qr_plan_finalize(p, &e), -1);
    assert_string_equal(e.msg, "--device cuda: this build has no CUDA backend (build it with make CUDA=1)");
#endif
    assert_int_equal(qr_plan_set(p, "device", "tpu", &e), -1);
    assert_non_null(strstr(e.msg, "cpu, cuda"));
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_matrix),
        cmocka_unit_test(test_kill_and_resume),
        cmocka_unit_test(test_shards_merge),
        cmocka_unit_test(test_whole_matrix_real),
        cmocka_unit_test(test_kill_and_resume_real),
        cmocka_unit_test(test_shards_merge_real),
        cmocka_unit_test(test_real_completion_cut),
        cmocka_unit_test(test_store_crash_rules),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
