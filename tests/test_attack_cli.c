// qrobust attack (the binary in $QROBUST_BIN): records are copied byte for
// byte except the members that change (bare Infinity/NaN, 17-digit floats and
// big integers survive), renames reach the code fields, statistics and diffs
// are printed, and bad input gives one line and exit status 2.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "util/fileio.h"

static char bin[512], tmp[64];
#define SAMPLE "tests/fixtures/attack/cli_sample.jsonl"

// Runs `bin args` with stdout+stderr captured; returns the exit status.
static int run(const char *args, char **out) {
    char cmd[2048], path[128];
    snprintf(path, sizeof path, "%s/out.txt", tmp);
    snprintf(cmd, sizeof cmd, "%s attack %s > %s 2>&1", bin, args, path);
    int st = system(cmd);
    size_t n;
    QrErr e;
    if (out && qr_read_file(path, out, &n, &e)) *out = strdup("");
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int setup(void **st) {
    (void)st;
    const char *b = getenv("QROBUST_BIN");
    snprintf(bin, sizeof bin, "%s", b ? b : "./qrobust");
    snprintf(tmp, sizeof tmp, "/tmp/qrtest_attack_XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static char *read_all(const char *path) {
    char *s;
    size_t n;
    QrErr e;
    return qr_read_file(path, &s, &n, &e) ? NULL : s;
}

// The bytes of a line after its "prompt" value.
static const char *after_prompt(const char *line) {
    const char *p = strstr(line, "\"prompt\":");
    assert_non_null(p);
    p = strchr(p + 9, '"') + 1;
    while (*p != '"') p += *p == '\\' ? 2 : 1;
    return p + 1;
}

static void test_char_bytes_kept(void **st) {
    (void)st;
    char args[512], o[128], *log;
    snprintf(o, sizeof o, "%s/char.jsonl", tmp);
    snprintf(args, sizeof args, "--dataset %s --attack char --seed 3 --out %s", SAMPLE, o);
    assert_int_equal(run(args, &log), 0);
    assert_non_null(strstr(log, "prompts changed       2/2 (100.0%)"));
    assert_non_null(strstr(log, "letters uppercased"));
    free(log);
    char *in = read_all(SAMPLE), *out = read_all(o);
    assert_non_null(out);
    char *il = in, *ol = out;
    for (int r = 0; r < 2; r++) {
        char *ie = strchr(il, '\n'), *oe = strchr(ol, '\n');
        *ie = *oe = 0;
        // Everything up to the prompt's value is the same.
        size_t pre = (size_t)(strstr(il, "\"prompt\":") - il);
        assert_memory_equal(il, ol, pre + 9);
        // After it: the rest of the record, then the added member.
        const char *ia = after_prompt(il), *oa = after_prompt(ol);
        size_t rest = strlen(ia) - 1; // without the closing '}'
        assert_memory_equal(ia, oa, rest);
        assert_true(!strncmp(oa + rest, ", \"qrobust_attack\": {\"attack\": \"char\", \"seed\": 3, \"units\": ", 58));
        assert_string_equal(oa + strlen(oa) - 2, "}}");
        il = ie + 1;
        ol = oe + 1;
    }
    assert_non_null(strstr(out, "[Infinity, -Infinity, NaN]"));
    assert_non_null(strstr(out, "\"atol\": 0.10000000000000001, \"big\": 123456789012345678901234567890"));
    free(in);
    free(out);
}

static void test_rename_reaches_code(void **st) {
    (void)st;
    char args[512], o[128], *log;
    snprintf(o, sizeof o, "%s/camel.jsonl", tmp);
    snprintf(args, sizeof args, "--dataset %s --attack func-camel --out %s --quiet", SAMPLE, o);
    assert_int_equal(run(args, &log), 0);
    assert_string_equal(log, ""); // --quiet
    free(log);
    char *out = read_all(o);
    assert_non_null(strstr(out, "\"entry_point\": \"similarElements\", \"canonical_solution\": \"def similarElements(a, b):"));
    assert_non_null(strstr(out, "\"assertion\": \"assert similarElements((1,2),(2,3)) == {2}\""));
    assert_non_null(strstr(out, "def hasCloseElements(numbers"));
    assert_non_null(strstr(out, "\"test\":\"def check(candidate):")); // no name to rename: untouched
    assert_null(strstr(out, "similar_elements"));
    free(out);
}

static void test_show_and_named_dataset(void **st) {
    (void)st;
    char *log;
    assert_int_equal(run("--dataset mbpp+ --attack word --seed 1 --show 1", &log), 0);
    assert_non_null(strstr(log, "attack word on mbpp+ (378 prompts, seed 1, engine qrobust word + WordNet 3.0)"));
    assert_non_null(strstr(log, "--- Mbpp/"));
    assert_non_null(strstr(log, "\n- Write"));
    assert_non_null(strstr(log, "\n+ "));
    assert_non_null(strstr(log, "mean words changed"));
    free(log);
}

static void test_errors(void **st) {
    (void)st;
    char *log, args[512];
    assert_int_equal(run("--dataset mbpp+ --attack bogus", &log), 2);
    assert_non_null(strstr(log, "qrobust: unknown attack 'bogus'"));
    free(log);
    assert_int_equal(run("--attack char", &log), 2);
    assert_non_null(strstr(log, "--dataset and --attack are required"));
    free(log);
    assert_int_equal(run("--dataset mbpp+ --attack char --p 2", &log), 2);
    free(log);
    snprintf(args, sizeof args, "--dataset %s --attack sentence", SAMPLE);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "%s", args);
    setenv("QROBUST_APERTIUM", "/nonexistent/apertium", 1);
    assert_int_equal(run(cmd, &log), 2);
    unsetenv("QROBUST_APERTIUM");
    assert_non_null(strstr(log, "Apertium is not installed"));
    free(log);
    snprintf(args, sizeof args, "--dataset %s --attack sentence --translator mbart:/x", SAMPLE);
    assert_int_equal(run(args, &log), 2);
    assert_non_null(strstr(log, "not a directory"));
    free(log);
    // A broken record names the file and the record.
    char bad[128];
    snprintf(bad, sizeof bad, "%s/bad.jsonl", tmp);
    FILE *f = fopen(bad, "w");
    fputs("{\"task_id\": \"a\", \"prompt\": \"x\"}\n{\"task_id\": \"b\", \"prompt\" \"y\"}\n", f);
    fclose(f);
    snprintf(args, sizeof args, "--dataset %s --attack char", bad);
    assert_int_equal(run(args, &log), 2);
    assert_non_null(strstr(log, "bad.jsonl: record 2: ':' expected"));
    free(log);
    assert_int_equal(run("--dataset /nonexistent.jsonl --attack char", &log), 2);
    assert_non_null(strstr(log, "/nonexistent.jsonl"));
    free(log);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_char_bytes_kept),
        cmocka_unit_test(test_rename_reaches_code),
        cmocka_unit_test(test_show_and_named_dataset),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
