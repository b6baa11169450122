// The main job end to end, on the fake backend (eval/backend_fake.c) and on
// the real stages (the tiny stories260K model, real prompts, the sandboxed
// evaluator): the whole matrix runs and is judged; a run killed with SIGKILL
// part-way (with a torn last line, as a kill inside write() would leave) and
// resumed equals an uninterrupted run; 3 shards merged equal the unsharded
// run; the results store's crash rules; the real backend's EvalPlus cut and
// EvalPlus's post-processing of a hand-written output; a directory of one
// post-processing mode refuses a run of the other.
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
#include "eval/dataset.h"
#include "eval/plan.h"
#include "eval/postprocess.h"
#include "eval/results.h"
#include "eval/runner.h"
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
    {"--model", "tests/fixtures/stories260K/stories260K.gguf", "--precisions", "fp32,int8,nf4", "--attacks",
     "clean,char,word,gaussian,uniform", "--noise-levels", "3e-2", "--noise-targets",
     "all,unquantized-only,pre-quant,post-quant", "--limit", "2", "--max-new-tokens", "6", "--parallel", "2",
     "--threads", "1", NULL},
    // The study's whole matrix but the sentence attack (it needs apertium or an
    // mBART checkpoint; the fake study covers it): (fp32: clean, char, word,
    // gaussian and uniform on all weights; int8 and nf4 each: clean, char, word +
    // 2 kinds x 4 targets) x 2 datasets x 2 tasks
    (5 + 2 * 11) * 2 * 2, NULL};

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

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

// The real model: greedy completions of real prompts as EvalPlus gives them
// to a base model, noise changes them, every completion cut as EvalPlus cuts
// it, and each judged in the sandbox as EvalPlus's sanitized solution: a
// 260K-parameter story model writes prose, so the sanitizer keeps at most the
// prompt's own code, which never passes.
static void test_whole_matrix_real(void **state) {
    (void)state;
    whole_matrix(&REAL);
    char d[512];
    snprintf(d, sizeof d, "%s/real-full", tmp);
    QrStore s;
    QrErr e;
    assert_int_equal(qr_store_open(&s, d, 0, &e), 0);
#define KEY(prec, cond) "stories260K@25bfdf5fb49f|" prec "|" cond "|humaneval|greedy,max=6,seed=0,post=evalplus|HumanEval/0|0"
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
    char sha[65];
    qr_sha256_hex(str_at(ch, "prompt"), strlen(str_at(ch, "prompt")), sha);
    assert_string_equal(str_at(ch, "prompt_sha256"), sha);
    // The prompt hash is of what the model received: HumanEval/2's prompt
    // starts with two newlines, which EvalPlus strips (codegen.py:80).
    QrDataset ds;
    assert_int_equal(qr_dataset_load(&ds, "humaneval+", "tests/fixtures/eval/heplus.jsonl", &e), 0);
    const char *p2 = qr_dataset_find(&ds, "HumanEval/2")->prompt;
    assert_true(!strncmp(p2, "\n\ndef truncate_number(", 22));
    char *recv = qr_model_prompt("evalplus", p2);
    assert_string_equal(recv, p2 + 2);
    json_t *g2 = qr_store_get(&s, QR_GEN, "stories260K@25bfdf5fb49f|fp32|clean|humaneval|greedy,max=6,seed=0,post=evalplus|"
                                          "HumanEval/2|0");
    assert_non_null(g2);
    qr_sha256_hex(recv, strlen(recv), sha);
    assert_string_equal(str_at(g2, "prompt_sha256"), sha);
    assert_string_equal(str_at(g2, "completion"), "They see");
    free(recv);
    qr_dataset_free(&ds);
    // Every completion: EvalPlus's post-processing of its dataset, so no stop
    // string and no tab is left in it.
    for (int i = 0; i < s.n[QR_GEN]; i++) {
        json_t *g = s.lines[QR_GEN][i];
        int mbpp = !strcmp(str_at(g, "dataset"), "mbpp");
        assert_string_equal(str_at(g, "postprocess"), "evalplus");
        const char *const *stops;
        size_t ns = qr_stop_strings(mbpp ? QR_DS_MBPP_PLUS : QR_DS_HUMANEVAL_PLUS, &stops);
        for (size_t k = 0; k < ns; k++) assert_null(strstr(str_at(g, "completion"), stops[k]));
        assert_null(strchr(str_at(g, "completion"), '\t'));
    }
    // Every execution: the completion of the same key, judged on the dataset's
    // base and plus tests as EvalPlus's sanitized solution (recorded). The
    // sanitizer keeps the longest valid run of lines, i.e. the prompt without
    // the prose: a function with only a docstring has no return and is
    // dropped (sanitize.py:133-139) unless nothing else is left
    // (sanitize.py:170-171), so HumanEval/0 keeps its import alone and its
    // entry point is missing (error), HumanEval/2 keeps the bare function,
    // which returns None (fail), and an MBPP prompt is a docstring with no
    // function at all (error). The plus verdict repeats the failed base one
    // (EvalPlus's "+" score needs both).
    int n_he = 0, n_mbpp = 0, n_fail = 0, n_name_error = 0, n_key_error = 0;
    static const char NAME_ERROR[] = "loading the solution raised NameError: name '";
    for (int i = 0; i < s.n[QR_EXEC]; i++) {
        json_t *x = s.lines[QR_EXEC][i];
        json_t *g = qr_store_get(&s, QR_GEN, str_at(x, "key"));
        assert_non_null(g);
        qr_sha256_hex(str_at(g, "completion"), strlen(str_at(g, "completion")), sha);
        assert_string_equal(str_at(x, "completion_sha256"), sha);
        int mbpp = !strcmp(str_at(x, "dataset"), "mbpp");
        n_he += !mbpp, n_mbpp += mbpp;
        json_t *v = json_object_get(x, "verdicts");
        assert_int_equal(json_object_size(v), 2);
        json_t *base = json_object_get(v, mbpp ? "mbpp" : "humaneval"), *plus = json_object_get(v, mbpp ? "mbpp+" : "humaneval+");
        const char *task = str_at(x, "task_id"), *sol = str_at(x, "solution");
        assert_non_null(sol);
        if (!strcmp(task, "HumanEval/2")) {
            // The docstring may carry the char/word attack; the code is the prompt's.
            assert_true(!strncmp(sol, "def truncate_number(number: float) -> float:\n    \"\"\" ", 53));
            assert_non_null(strstr(sol, "    0.5\n    \"\"\""));
            // Under uniform noise the model's first line can start at column 0
            // ("Surse, but", "\"Sure,\""): a valid top-level statement, which
            // EvalPlus's sanitizer keeps after the function. A bare name raises
            // at load; anything else leaves the fail.
            if (!strcmp(str_at(base, "status"), "fail")) {
                assert_string_equal(str_at(base, "detail"), "input 0: expected 0.5 (within atol), got None");
                n_fail++;
            } else {
                assert_string_equal(str_at(base, "status"), "error");
                assert_true(!strncmp(str_at(base, "detail"), NAME_ERROR, strlen(NAME_ERROR)));
                assert_false(ends_with(sol, "    0.5\n    \"\"\""));
                n_name_error++;
            }
        } else {
            char want[100];
            const char *entry = !strcmp(task, "HumanEval/0") ? "has_close_elements"
                                : !strcmp(task, "Mbpp/2")      ? "similar_elements"
                                                               : "is_not_prime";
            snprintf(want, sizeof want, "loading the solution raised KeyError: '%s'", entry);
            assert_string_equal(str_at(base, "status"), "error");
            if (!strcmp(str_at(base, "detail"), want)) {
                if (!strcmp(task, "HumanEval/0")) assert_string_equal(sol, "from typing import List");
                else assert_true(!strncmp(sol, "\"\"\"\n", 4) && !strstr(sol, "def ")); // docstrings only
                n_key_error++;
            } else {
                // a bare name at column 0 kept as a statement, as above
                assert_true(!strncmp(str_at(base, "detail"), NAME_ERROR, strlen(NAME_ERROR)));
                n_name_error++;
            }
        }
        assert_true(json_equal(base, plus));
    }
    assert_int_equal(n_he, REAL.lines / 2);
    assert_int_equal(n_mbpp, REAL.lines / 2);
    // Of the 27 conditions per task: HumanEval/2 fails 24 times and raises
    // NameError 3 times (fp32 and int8 uniform on all weights, int8 uniform
    // unquantized-only); Mbpp/2 raises NameError once; the rest KeyError.
    assert_int_equal(n_fail, 24);
    assert_int_equal(n_name_error, 4);
    assert_int_equal(n_key_error, 3 * REAL.lines / 4 - 1);
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
        char *c = qr_real_completion(cases[i].genset, cases[i].raw);
        assert_string_equal(c, cases[i].stored);
        free(c);
    }
}

// EvalPlus's post-processing of a hand-written base-model output, through
// the real backend as `qrobust run` uses it: the prompt EvalPlus gives the
// model, the cut output, and the judged solution, byte for byte as EvalPlus
// v0.3.1 writes it (tools/make_postprocess_cases.py: its codegen steps with
// its own tree-sitter sanitizer).
static void test_evalplus_postprocess(void **st) {
    (void)st;
    struct {
        const char *genset, *output, *completion, *solution;
    } cases[] = {
        // The first stop is "\nif __name__"; tabs become spaces; the sanitizer
        // drops the blank lines after the import and the unreachable UNUSED.
        {"humaneval",
         "\tfor i, a in enumerate(numbers):\n\t\tfor b in numbers[i + 1:]:\n\t\t\tif abs(a - b) < threshold:\n"
         "\t\t\t\treturn True\n\treturn False\n\n\nUNUSED = 3\n\nif __name__ == \"__main__\":\n"
         "    print(has_close_elements([1.0, 2.0], 0.5))\n",
         "    for i, a in enumerate(numbers):\n        for b in numbers[i + 1:]:\n            if abs(a - b) < threshold:\n"
         "                return True\n    return False\n\n\nUNUSED = 3\n",
         "from typing import List\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
         "    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n"
         "    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n"
         "    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    \"\"\"\n"
         "    for i, a in enumerate(numbers):\n        for b in numbers[i + 1:]:\n            if abs(a - b) < threshold:\n"
         "                return True\n    return False"},
        // MBPP: the model writes the function; the first "\nassert" ends it;
        // the sanitizer drops the prompt's docstring and the unreachable
        // helper, keeps the import and the helper the entry point calls.
        {"mbpp",
         "import math\n\ndef similar_elements(test_tup1, test_tup2):\n\treturn tuple(set(test_tup1) & _as_set(test_tup2))\n\n"
         "def _as_set(t):\n    return set(t)\n\ndef unused_helper():\n    return math.pi\n\n"
         "assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))\n",
         "import math\n\ndef similar_elements(test_tup1, test_tup2):\n    return tuple(set(test_tup1) & _as_set(test_tup2))\n\n"
         "def _as_set(t):\n    return set(t)\n\ndef unused_helper():\n    return math.pi\n",
         "import math\ndef similar_elements(test_tup1, test_tup2):\n    return tuple(set(test_tup1) & _as_set(test_tup2))\n"
         "def _as_set(t):\n    return set(t)"},
    };
    QrBackend b;
    QrErr e;
    assert_int_equal(qr_backend_real(&b, &e), 0);
    QrPlan *p = malloc(sizeof *p);
    qr_plan_defaults(p);
    assert_string_equal(p->postprocess, "evalplus");
    p->parallel = 2;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        QrRunTaskList tl;
        assert_int_equal(b.load_tasks(&b, cases[i].genset, &tl, &e), 0);
        const QrRunTask *t = &tl.tasks[0]; // HumanEval/0, Mbpp/2
        char *prompt = qr_model_prompt(p->postprocess, t->prompt);
        char *completion = qr_real_completion(cases[i].genset, cases[i].output);
        assert_string_equal(completion, cases[i].completion);
        QrExecResult r;
        const char *pr = prompt, *co = completion;
        if (b.evaluate(&b, p, cases[i].genset, 1, &t, &pr, &co, &r, &e)) fail_msg("%s", e.msg);
        assert_non_null(r.solution);
        assert_string_equal(r.solution, cases[i].solution);
        // and it is right: both test sets pass
        assert_string_equal(r.base.status, "pass");
        assert_string_equal(r.plus.status, "pass");
        free(r.solution);
        // raw: the dataset prompt + completion, nothing recorded as solution
        snprintf(p->postprocess, sizeof p->postprocess, "raw");
        if (b.evaluate(&b, p, cases[i].genset, 1, &t, &pr, &co, &r, &e)) fail_msg("%s", e.msg);
        assert_null(r.solution);
        // the HumanEval completion still works after the prompt; the MBPP one
        // is cut right, the docstring before it is harmless
        assert_string_equal(r.base.status, "pass");
        snprintf(p->postprocess, sizeof p->postprocess, "evalplus");
        free(prompt);
        free(completion);
        qr_tasklist_free(&tl);
    }
    free(p);
    b.destroy(&b);
}

// One directory holds one post-processing mode: the keys differ, so a run of
// the other mode would add a second set of results, not resume; it is
// refused before any work (exit 2, nothing written, plan.json kept).
static void test_postprocess_modes_not_mixed(void **st) {
    (void)st;
    char d[512], gp[600], pj[600];
    snprintf(d, sizeof d, "%s/raw-mode", tmp);
    path_in(gp, sizeof gp, d, "generations.jsonl");
    path_in(pj, sizeof pj, d, "plan.json");
    const char *raw[] = {bin, "run", "--backend", "fake", "--model", "fake:a", "--attacks", "clean", "--precisions", "fp32",
                         "--limit", "2", "--postprocess", "raw", "--out", d, "--quiet", NULL};
    assert_int_equal(run(raw), 0);
    assert_int_equal(rt_count_lines(gp), 4);
    QrStore s;
    QrErr e;
    assert_int_equal(qr_store_open(&s, d, 0, &e), 0);
    assert_non_null(qr_store_get(&s, QR_GEN, "a@6193c5311023|fp32|clean|humaneval|greedy,max=512,seed=0|HumanEval/0|0"));
    assert_string_equal(str_at(s.lines[QR_GEN][0], "postprocess"), "raw");
    qr_store_close(&s);
    char *plan = rt_slurp(pj);
    assert_non_null(strstr(plan, "\"postprocess\": \"raw\""));
    const char *evalplus[] = {bin, "run", "--backend", "fake", "--model", "fake:a", "--attacks", "clean", "--precisions",
                              "fp32", "--limit", "2", "--out", d, "--quiet", NULL};
    assert_int_equal(run(evalplus), 2);
    const char *dry[] = {bin, "run", "--backend", "fake", "--model", "fake:a", "--out", d, "--dry-run", NULL};
    assert_int_equal(run(dry), 2);
    assert_int_equal(rt_count_lines(gp), 4);
    char *plan2 = rt_slurp(pj);
    assert_string_equal(plan, plan2);
    free(plan2);
    // The message names the directory, both modes and the way out.
    assert_int_equal(qr_store_open(&s, d, 0, &e), 0);
    assert_int_equal(qr_store_check_postprocess(&s, "evalplus", &e), -1);
    char want[900];
    snprintf(want, sizeof want, "%s: holds generations post-processed as 'raw', this run's are 'evalplus': use another "
                                "--out or --postprocess raw (one directory holds one mode)", d);
    assert_string_equal(e.msg, want);
    assert_int_equal(qr_store_check_postprocess(&s, "raw", &e), 0);
    qr_store_close(&s);
    // The same raw run resumes: nothing to do.
    assert_int_equal(run(raw), 0);
    assert_int_equal(rt_count_lines(gp), 4);
    free(plan);
}

// The prompt EvalPlus gives a base model: Python's str.strip() + "\n"
// (values from Python 3.11), or the prompt as is in raw mode.
static void test_model_prompt(void **st) {
    (void)st;
    struct {
        const char *in, *out;
    } cases[] = {
        {"\n\n  def f():\n    pass\n\n\n", "def f():\n    pass\n"},
        {"\x1c\xc2\xa0x\xe3\x80\x80", "x\n"},       // U+001C, U+00A0, U+3000 are str.isspace()
        {"\xe2\x80\x8bx \xc2\x85", "\xe2\x80\x8bx\n"}, // U+200B is not; U+0085 is
        {" \t\r\x0b\x0c", "\n"},
        {"", "\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *a = qr_model_prompt("evalplus", cases[i].in), *b = qr_model_prompt("raw", cases[i].in);
        assert_string_equal(a, cases[i].out);
        assert_string_equal(b, cases[i].in);
        free(a);
        free(b);
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
        {bin, "run", "--backend", "fake", "--model", "fake:a", "--postprocess", "bogus", "--out", d, NULL},
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
    assert_string_equal(u[0].id, "x@e9ed68bb4e49|fp32|clean|humaneval|greedy,max=512,seed=0,post=evalplus");
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
    assert_int_equal(qr_plan_set(p, "postprocess", "bogus", &e), -1);
    assert_string_equal(e.msg, "--postprocess: unknown value 'bogus' (one of: evalplus, raw)");
    assert_string_equal(p->postprocess, "evalplus");
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
        cmocka_unit_test(test_model_prompt),
        cmocka_unit_test(test_evalplus_postprocess),
        cmocka_unit_test(test_postprocess_modes_not_mixed),
        cmocka_unit_test(test_store_crash_rules),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
