// qrobust tokenize: ids on one line (llama.cpp's reference lines, for a sample
// of texts of each vocabulary GGUF), --add-special, --decode byte-exact,
// --pieces, and exit status 2 with one "qrobust: ..." line on bad input.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "tests/run_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "util/fileio.h"

static const char *bin(void) {
    const char *b = getenv("QROBUST_BIN");
    return b ? b : "./qrobust";
}

// Runs `qrobust tokenize ARGS` with stdin from `in`; returns the exit status
// and the stdout (malloc'd) in *out; stderr goes to *err_out when non-NULL.
static int run(const char *args, const char *in, size_t in_len, char **out, size_t *out_len, char **err_out) {
    char inp[] = "/tmp/qrtokcliXXXXXX", errp[] = "/tmp/qrtokcleXXXXXX";
    int fd = mkstemp(inp), fe = mkstemp(errp);
    assert_true(fd >= 0 && fe >= 0);
    if (in_len) assert_int_equal(write(fd, in, in_len), (ssize_t)in_len);
    close(fd);
    close(fe);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s tokenize %s < %s 2> %s", bin(), args, inp, errp);
    int st = rt_capture(cmd, out, out_len);
    assert_non_null(*out);
    if (err_out) {
        size_t el;
        QrErr e;
        assert_int_equal(qr_read_file(errp, err_out, &el, &e), 0);
    }
    unlink(inp);
    unlink(errp);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_reference_lines(void **st) {
    (void)st;
    static const char *V[] = {"llama-spm", "gpt-2", "starcoder", "refact", "deepseek-coder", "deepseek-llm"};
    size_t checked = 0;
    for (size_t v = 0; v < 6; v++) {
        char p[256], *inp, *outp;
        size_t il, ol;
        QrErr e;
        snprintf(p, sizeof p, "tests/fixtures/tok/gguf/ggml-vocab-%s.gguf.inp", V[v]);
        assert_int_equal(qr_read_file(p, &inp, &il, &e), 0);
        snprintf(p, sizeof p, "tests/fixtures/tok/gguf/ggml-vocab-%s.gguf.out", V[v]);
        assert_int_equal(qr_read_file(p, &outp, &ol, &e), 0);
        char *text = inp, *line = outp;
        for (int k = 0;; k++) {
            char *sep = strstr(text, "\n__ggml_vocab_test__\n");
            if (!sep) break;
            char *nl = strchr(line, '\n');
            *nl = 0;
            if ((size_t)k % 7 == v) { // a sample: every 7th text, a different one per vocabulary
                char args[512], *out, *err;
                snprintf(args, sizeof args, "--tokenizer tests/fixtures/tok/gguf/ggml-vocab-%s.gguf.gz --file -", V[v]);
                assert_int_equal(run(args, text, (size_t)(sep - text), &out, NULL, &err), 0);
                char *end = out + strlen(out);
                while (end > out && (end[-1] == '\n' || end[-1] == ' ')) *--end = 0;
                while (*line == ' ') line++;
                if (strcmp(out, line)) fail_msg("%s text %d: got '%s', reference '%s' (%s)", V[v], k, out, line, err);
                free(out);
                free(err);
                checked++;
            }
            text = sep + strlen("\n__ggml_vocab_test__\n");
            line = nl + 1;
        }
        free(inp);
        free(outp);
    }
    assert_true(checked >= 30);
}

static void test_flags(void **st) {
    (void)st;
    char *out;
    size_t n;
    const char *g = "--tokenizer tests/fixtures/stories260K/stories260K.gguf";
    char args[512];
    snprintf(args, sizeof args, "%s --text 'Once upon a time' --add-special", g);
    assert_int_equal(run(args, "", 0, &out, NULL, NULL), 0);
    assert_string_equal(out, "1 403 407 261 378\n");
    free(out);
    snprintf(args, sizeof args, "%s --text 'Once upon a time'", g);
    assert_int_equal(run(args, "", 0, &out, NULL, NULL), 0);
    assert_string_equal(out, "403 407 261 378\n");
    free(out);
    // --decode gives the text back byte for byte (no newline added).
    snprintf(args, sizeof args, "%s --decode --text '1 403 407 261 378'", g);
    assert_int_equal(run(args, "", 0, &out, &n, NULL), 0);
    assert_int_equal(n, 19);
    assert_string_equal(out, "<s>Once upon a time");
    free(out);
    snprintf(args, sizeof args, "%s --decode --skip-special --file -", g);
    assert_int_equal(run(args, "1 403 407\n", 10, &out, &n, NULL), 0);
    assert_string_equal(out, "Once upon");
    free(out);
    snprintf(args, sizeof args, "%s --pieces --text ' a'", g);
    assert_int_equal(run(args, "", 0, &out, NULL, NULL), 0);
    assert_string_equal(out, "410\t\xE2\x96\x81\n261\t\xE2\x96\x81" "a\n");
    free(out);
    // Special-token strings are matched unless --no-parse-special.
    snprintf(args, sizeof args, "--tokenizer tests/fixtures/tok/hf/llama3 --text 'a<|end_of_text|>'");
    assert_int_equal(run(args, "", 0, &out, NULL, NULL), 0);
    assert_string_equal(out, "64 128001\n");
    free(out);
    snprintf(args, sizeof args, "--tokenizer tests/fixtures/tok/hf/llama3 --no-parse-special --text 'a<|end_of_text|>'");
    assert_int_equal(run(args, "", 0, &out, NULL, NULL), 0);
    assert_string_not_equal(out, "64 128001\n");
    free(out);
    assert_int_equal(run("--help", "", 0, &out, NULL, NULL), 0);
    assert_non_null(strstr(out, "--add-special"));
    free(out);
}

static void test_bad_input(void **st) {
    (void)st;
    char *out, *err;
    static const struct { const char *args, *msg; } C[] = {
        {"--text x", "--tokenizer PATH is required"},
        {"--tokenizer /nonexistent --text x", "/nonexistent"},
        {"--tokenizer tests/fixtures/stories260K/stories260K.gguf", "exactly one of --text or --file"},
        {"--tokenizer tests/fixtures/stories260K/stories260K.gguf --text a --bogus", "unknown argument '--bogus'"},
        {"--tokenizer tests/fixtures/stories260K/stories260K.gguf --decode --text '1 999999'", "999999"},
        {"--tokenizer tests/fixtures/stories260K/stories260K.gguf --decode --text '1 x'", "'x' is not a token id"},
        {"--tokenizer tests/fixtures/tok/NOTICE.md --text a", "NOTICE.md"},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        assert_int_equal(run(C[i].args, "", 0, &out, NULL, &err), 2);
        if (strncmp(err, "qrobust: ", 9) || !strstr(err, C[i].msg) || strchr(err, '\n') != err + strlen(err) - 1)
            fail_msg("case %zu: stderr '%s' (want one line with '%s')", i, err, C[i].msg);
        free(out);
        free(err);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_reference_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
