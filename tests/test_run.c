// The main job end to end on the fake backend (eval/backend_fake.c): the whole
// matrix runs; a run killed with SIGKILL part-way (with a torn last line, as
// a kill inside write() would leave) and resumed equals an uninterrupted run;
// 3 shards merged equal the unsharded run; the results store's crash rules.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "eval/plan.h"
#include "eval/results.h"

static char bin[1024], tmp[256];

// A study: its run flags, how many generation lines it makes, whether it is
// judged (executions) and the fake backend's delay to slow it for the kill.
typedef struct {
    const char *name;
    const char *args[24];
    int lines, judged;
    const char *delay;
} Study;

static const Study FAKE = {
    "fake",
    {"--backend", "fake", "--model", "fake:tiny-a", "--model", "fake:tiny-b", "--precisions", "fp32,int8,nf4",
     "--noise-levels", "1e-3,1e-2", "--noise-targets", "all,unquantized-only,pre-quant,post-quant", "--limit", "5", NULL},
    // 2 models x (fp32: clean,char,word,sentence + 2 kinds x 2 levels = 8;
    //             int8, nf4: 4 + 2 kinds x 4 targets x 2 levels = 20 each) x 2 datasets x 5 tasks
    2 * (8 + 20 + 20) * 2 * 5, 1, "3"};

// The real engine on the real tiny model (tests/fixtures/stories260K) and the
// real datasets (data/): what this build's stages can run. Generations only
// until the sandboxed evaluator lands (then drop --generate-only).
static const Study REAL = {
    "real",
    {"--model", "tests/fixtures/stories260K/stories260K.gguf", "--precisions", "fp32,nf4", "--attacks",
     "clean,char,word,gaussian", "--noise-levels", "3e-2", "--noise-targets", "all,pre-quant,post-quant", "--limit", "1",
     "--max-new-tokens", "6", "--generate-only", NULL},
    // (fp32: clean, char, word, gaussian all; nf4: clean, char, word + gaussian x 3 targets) x 2 datasets x 1 task
    (4 + 6) * 2 * 1, 0, NULL};

// argv: bin run <study args> <extra...> NULL
static void study_argv(const char **argv, const Study *st, const char *const *extra) {
    int k = 0;
    argv[k++] = bin;
    argv[k++] = "run";
    for (int i = 0; st->args[i]; i++) argv[k++] = st->args[i];
    for (int i = 0; extra[i]; i++) argv[k++] = extra[i];
    argv[k] = NULL;
}

static pid_t spawn(const char *const *args, const char *delay) {
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        if (delay) setenv("QROBUST_FAKE_DELAY_MS", delay, 1);
        else unsetenv("QROBUST_FAKE_DELAY_MS");
        execv(bin, (char *const *)args);
        _exit(127);
    }
    return pid;
}

static int run(const char *const *args) {
    int st;
    waitpid(spawn(args, NULL), &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// The store's content as sorted "key\tessence" lines, for comparing runs.
static char *canon(const char *dir, int *n_out) {
    QrStore s;
    QrErr e;
    assert_int_equal(qr_store_open(&s, dir, 0, &e), 0);
    int n = s.n[0] + s.n[1];
    char **rows = malloc(sizeof(char *) * (size_t)n);
    int k = 0;
    for (int f = 0; f < 2; f++)
        for (int i = 0; i < s.n[f]; i++) {
            json_t *es = qr_result_essence(s.lines[f][i]);
            rows[k++] = json_dumps(es, JSON_COMPACT | JSON_SORT_KEYS);
            json_decref(es);
        }
    qsort(rows, (size_t)n, sizeof(char *), cmp_str);
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(rows[i]) + 1;
    char *out = malloc(len), *p = out;
    for (int i = 0; i < n; i++) {
        p = stpcpy(p, rows[i]);
        *p++ = '\n';
        free(rows[i]);
    }
    *p = 0;
    free(rows);
    qr_store_close(&s);
    *n_out = n;
    return out;
}

static int run_study(const Study *st, const char *dir, const char *shard) {
    const char *argv[48];
    const char *extra[] = {"--out", dir, "--quiet", shard ? "--shard" : NULL, shard, NULL};
    study_argv(argv, st, extra);
    return run(argv);
}

static int setup(void **state) {
    (void)state;
    const char *b = getenv("QROBUST_BIN");
    snprintf(bin, sizeof bin, "%s", b ? b : "./qrobust");
    snprintf(tmp, sizeof tmp, "/tmp/qrtest_run_XXXXXX");
    if (!mkdtemp(tmp)) return -1;
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
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static void whole_matrix(const Study *st) {
    char p[600], d[512];
    snprintf(d, sizeof d, "%s/%s-full", tmp, st->name);
    snprintf(p, sizeof p, "%s/generations.jsonl", d);
    assert_int_equal(count_lines(p), st->lines);
    snprintf(p, sizeof p, "%s/executions.jsonl", d);
    assert_int_equal(count_lines(p), st->judged ? st->lines : 0);
    snprintf(p, sizeof p, "%s/plan.json", d);
    assert_true(access(p, R_OK) == 0);
    // A rerun finds nothing to do and writes nothing.
    assert_int_equal(run_study(st, d, NULL), 0);
    snprintf(p, sizeof p, "%s/generations.jsonl", d);
    assert_int_equal(count_lines(p), st->lines);
    // Lines are self-describing.
    QrStore s;
    QrErr e;
    assert_int_equal(qr_store_open(&s, d, 0, &e), 0);
    json_t *l = s.lines[QR_GEN][0];
    const char *fields[] = {"key", "model", "precision", "condition", "dataset", "task_id", "sample", "seed", "gen",
                            "prompt_sha256", "completion", "finish", "seconds", "qrobust", "backend"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) assert_non_null(json_object_get(l, fields[i]));
    assert_non_null(json_object_get(json_object_get(l, "model"), "config_sha256"));
    if (st->judged) {
        json_t *x = s.lines[QR_EXEC][0];
        assert_non_null(json_object_get(json_object_get(x, "verdicts"), "humaneval+"));
    }
    qr_store_close(&s);
}

static void test_whole_matrix(void **state) { (void)state; whole_matrix(&FAKE); }

// The real model: greedy completions of real prompts, noise changes them.
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
    assert_string_equal(json_string_value(json_object_get(clean, "finish")), "length");
    // stories260K's known greedy continuation shape: real text, not empty.
    assert_true(strlen(json_string_value(json_object_get(clean, "completion"))) > 6);
    assert_string_not_equal(json_string_value(json_object_get(q, "completion")),
                            json_string_value(json_object_get(noisy, "completion")));
    // The attacked prompt is recorded with its engine; the prose changed, the signature did not.
    const char *prompt = json_string_value(json_object_get(ch, "prompt"));
    assert_non_null(prompt);
    assert_string_equal(json_string_value(json_object_get(ch, "attack_engine")), "qrobust");
    assert_non_null(strstr(prompt, "def has_close_elements(numbers: List[float], threshold: float) -> bool:"));
    assert_string_not_equal(json_string_value(json_object_get(ch, "prompt_sha256")),
                            json_string_value(json_object_get(clean, "prompt_sha256")));
    qr_store_close(&s);
}

static void kill_and_resume(const Study *st) {
    char d[512], gp[600];
    snprintf(d, sizeof d, "%s/%s-killed", tmp, st->name);
    snprintf(gp, sizeof gp, "%s/generations.jsonl", d);
    const char *args[48];
    const char *extra[] = {"--out", d, "--quiet", NULL};
    study_argv(args, st, extra);
    const int LINES = st->lines;
    pid_t pid = spawn(args, st->delay); // fake: 3 ms per completion, ~3 s in all
    int lines = 0;
    for (int i = 0; i < 4000 && lines < LINES / 3; i++) {
        nanosleep(&(struct timespec){0, 5000000}, NULL);
        lines = count_lines(gp);
    }
    kill(pid, SIGKILL);
    int stw;
    waitpid(pid, &stw, 0);
    assert_true(WIFSIGNALED(stw));
    lines = count_lines(gp);
    assert_true(lines >= LINES / 3 && lines < LINES);
    // What a kill inside write() would leave: a line without its newline.
    FILE *f = fopen(gp, "a");
    fputs("{\"type\":\"generation\",\"key\":\"tiny-a@", f);
    fclose(f);
    assert_int_equal(run(args), 0);
    assert_int_equal(count_lines(gp), LINES);
    int na, nb;
    char full[512];
    snprintf(full, sizeof full, "%s/%s-full", tmp, st->name);
    char *a = canon(full, &na), *b = canon(d, &nb);
    assert_int_equal(na, (st->judged ? 2 : 1) * LINES);
    assert_int_equal(nb, (st->judged ? 2 : 1) * LINES);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

static void test_kill_and_resume(void **state) { (void)state; kill_and_resume(&FAKE); }
static void test_kill_and_resume_real(void **state) { (void)state; kill_and_resume(&REAL); }

static void shards_merge(const Study *st) {
    char sd[3][400], m[400], full[400];
    int total = 0;
    const int LINES = st->lines;
    for (int i = 0; i < 3; i++) {
        snprintf(sd[i], sizeof sd[i], "%s/%s-shard%d", tmp, st->name, i);
        char sh[16];
        snprintf(sh, sizeof sh, "%d/3", i);
        assert_int_equal(run_study(st, sd[i], sh), 0);
        char gp[1300];
        snprintf(gp, sizeof gp, "%s/generations.jsonl", sd[i]);
        int n = count_lines(gp);
        assert_true(n > 0 && n < LINES);
        total += n;
    }
    assert_int_equal(total, LINES); // disjoint and complete
    snprintf(m, sizeof m, "%s/%s-merged", tmp, st->name);
    const char *margs[] = {bin, "merge", sd[0], sd[1], sd[2], "--out", m, "--quiet", NULL};
    assert_int_equal(run(margs), 0);
    assert_int_equal(run(margs), 0); // idempotent
    snprintf(full, sizeof full, "%s/%s-full", tmp, st->name);
    int na, nb;
    char *a = canon(full, &na), *b = canon(m, &nb);
    assert_int_equal(na, nb);
    assert_string_equal(a, b);
    free(a);
    free(b);
    char gp[1300];
    snprintf(gp, sizeof gp, "%s/generations.jsonl", m);
    assert_int_equal(count_lines(gp), LINES);
}

static void test_shards_merge(void **state) { (void)state; shards_merge(&FAKE); }
static void test_shards_merge_real(void **state) { (void)state; shards_merge(&REAL); }

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
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
    };
    write_text(cfg, "{\"models\": [\"fake:a\"], \"backend\": \"fake\", \"precision\": [\"fp32\", 3.5]}");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(run(cases[i]), 2);
        assert_true(access(d, F_OK) != 0);
    }
    // Config errors name the file.
    write_text(cfg, "{\"models\": [\"fake:a\"], \"bogus\": 1}");
    QrPlan *p = malloc(sizeof *p);
    QrErr e;
    qr_plan_defaults(p);
    assert_int_equal(qr_plan_load_config(p, cfg, &e), -1);
    assert_non_null(strstr(e.msg, "bad.json"));
    assert_non_null(strstr(e.msg, "bogus"));
    write_text(cfg, "{\"models\": [\"fake:a\"], ");
    assert_int_equal(qr_plan_load_config(p, cfg, &e), -1);
    assert_non_null(strstr(e.msg, "invalid JSON"));
    // A good config with flags on top; units and shards are deterministic.
    write_text(cfg, "{\"models\": [{\"name\": \"x\", \"path\": \"fake:1\"}, \"fake:y\"], \"backend\": \"fake\","
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
        cmocka_unit_test(test_store_crash_rules),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
