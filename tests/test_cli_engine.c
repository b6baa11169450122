// The engine commands end to end through the binary: generate reproduces the
// stories260K reference continuation, stop strings cut the completion, logits
// prints one JSON object, info describes, bad flags exit 2, --help teaches.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "tests/run_util.h"
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define STORIES "tests/fixtures/stories260K/stories260K.gguf"
#define TINY "tests/fixtures/llama-tiny/untied-f32"

// The reference output documented by llama2.c (shared/README.md).
static const char REFERENCE[] =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw "
    "a big, red ball. She wanted to play with it, but it was too high";

// Runs `qrobust <args>`; returns the exit status, stdout in *out (malloc'd).
static int run(const char *args, char **out, char **err) {
    char bin[1024], cmd[2048];
    rt_bin(bin, sizeof bin);
    snprintf(cmd, sizeof cmd, "'%s' %s 2>/tmp/qr_cli_engine_err", bin, args);
    int st = rt_capture(cmd, out, NULL);
    assert_non_null(*out);
    if (err) {
        *err = rt_slurp("/tmp/qr_cli_engine_err");
        if (!*err) *err = strdup("");
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_generate_stories_reference(void **st) {
    (void)st;
    char *out;
    assert_int_equal(run("generate --model " STORIES " --prompt \"Once upon a time\" --temperature 0 --echo", &out, NULL),
                     0);
    if (strncmp(out, REFERENCE, strlen(REFERENCE))) fail_msg("got: %s", out);
    free(out);
    // Without --echo: the completion only.
    assert_int_equal(run("generate --model " STORIES " --prompt \"Once upon a time\" --temperature 0 "
                         "--max-new-tokens 27", &out, NULL), 0);
    assert_string_equal(out, ", there was a little girl named Lily. She loved to play outside in the park.\n");
    free(out);
}

static void test_generate_stop_strings(void **st) {
    (void)st;
    char *out, *err;
    assert_int_equal(run("generate --model " STORIES " --prompt \"Once upon a time\" --stop \" red\" --stop xyz "
                         "--stats", &out, &err), 0);
    assert_string_equal(out, ", there was a little girl named Lily. She loved to play outside in the park. One day, "
                             "she saw a big,\n");
    assert_non_null(strstr(err, "finish: stop"));
    free(out);
    free(err);
    // A stop string straddling two tokens (".\nLily" spans "." "<0x0A>" "Lily").
    assert_int_equal(run("generate --model " STORIES " --prompt \"Once upon a time\" --stop 'high.\nL' "
                         "--max-new-tokens 100", &out, NULL), 0);
    assert_non_null(strstr(out, "but it was too \n"));
    free(out);
}

static void test_generate_sampling_seeded(void **st) {
    (void)st;
    char *a, *b, *c;
    const char *args = "generate --model " STORIES " --prompt \"Once upon a time\" --temperature 1 --top-p 0.9 "
                       "--seed 7 --max-new-tokens 40";
    assert_int_equal(run(args, &a, NULL), 0);
    assert_int_equal(run(args, &b, NULL), 0);
    assert_string_equal(a, b); // same seed, same text
    assert_int_equal(run("generate --model " STORIES " --prompt \"Once upon a time\" --temperature 1 --top-p 0.9 "
                         "--seed 8 --max-new-tokens 40", &c, NULL), 0);
    assert_string_not_equal(a, c);
    free(a);
    free(b);
    free(c);
}

static void test_generate_ids_no_tokenizer(void **st) {
    (void)st;
    char *out, *err;
    // HF fixture without tokenizer: ids in, ids out; equals transformers' greedy.
    json_t *ref = json_load_file(TINY "/reference.json", 0, NULL);
    assert_non_null(ref);
    char want[1024] = "";
    json_t *g = json_object_get(ref, "greedy");
    for (int i = 0; i < 10; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? " " : "",
                 (long long)json_integer_value(json_array_get(g, i)));
    strcat(want, "\n");
    char args[512] = "generate --model " TINY " --max-new-tokens 10 --ids \"";
    json_t *gp = json_object_get(ref, "greedy_prompt");
    for (size_t i = 0; i < json_array_size(gp); i++)
        snprintf(args + strlen(args), sizeof args - strlen(args), "%lld ",
                 (long long)json_integer_value(json_array_get(gp, i)));
    strcat(args, "\"");
    assert_int_equal(run(args, &out, NULL), 0);
    assert_string_equal(out, want);
    free(out);
    json_decref(ref);
    // text prompt without a tokenizer: exit 2, one line naming the model
    assert_int_equal(run("generate --model " TINY " --prompt hi", &out, &err), 2);
    assert_non_null(strstr(err, "qrobust: " TINY ": no tokenizer"));
    free(out);
    free(err);
}

static void test_logits_json(void **st) {
    (void)st;
    char *out;
    assert_int_equal(run("logits --model " STORIES " --prompt \"Once upon\" --top 3", &out, NULL), 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    assert_non_null(j);
    json_t *top = json_object_get(j, "top");
    assert_int_equal(json_array_size(top), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(top, 0), "id")), 261); // "▁a"
    double l0 = json_real_value(json_object_get(json_array_get(top, 0), "logit"));
    double l1 = json_real_value(json_object_get(json_array_get(top, 1), "logit"));
    assert_true(l0 > l1);
    json_t *ids = json_object_get(j, "ids");
    assert_int_equal(json_array_size(ids), 3);
    assert_int_equal(json_integer_value(json_array_get(ids, 0)), 1);
    json_decref(j);
    free(out);
    // all logits, ids given: the transformers reference at the last position
    assert_int_equal(run("logits --model " TINY " --ids \"1 105 116 158\"", &out, NULL), 0);
    j = json_loads(out, 0, &je);
    assert_non_null(j);
    json_t *lg = json_object_get(j, "logits");
    assert_int_equal(json_array_size(lg), 256);
    json_t *ref = json_load_file(TINY "/reference.json", 0, NULL);
    json_t *row = json_array_get(json_object_get(ref, "logits"), 3);
    double md = 0, mr = 0;
    for (int i = 0; i < 256; i++) {
        double a = json_number_value(json_array_get(lg, i)), b = json_number_value(json_array_get(row, i));
        md = fmax(md, fabs(a - b));
        mr = fmax(mr, fabs(b));
    }
    assert_true(md / mr < 1e-4);
    json_decref(ref);
    json_decref(j);
    free(out);
}

static void test_info(void **st) {
    (void)st;
    char *out;
    assert_int_equal(run("info --model " STORIES, &out, NULL), 0);
    assert_non_null(strstr(out, "family:      llama"));
    assert_non_null(strstr(out, "parameters:  292,800"));
    assert_non_null(strstr(out, "tensors:     48"));
    assert_non_null(strstr(out, "F32 x 48"));
    free(out);
    assert_int_equal(run("info --model " TINY " --json", &out, NULL), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "parameters")), 91456);
    assert_int_equal(json_integer_value(json_object_get(j, "tensors")), 21);
    assert_string_equal(json_string_value(json_object_get(j, "family")), "llama");
    json_decref(j);
    free(out);
}

static void test_usage_errors_and_help(void **st) {
    (void)st;
    const char *cmds[] = {"generate", "logits", "info"};
    for (int i = 0; i < 3; i++) {
        char args[128], *out, *err;
        snprintf(args, sizeof args, "%s --help", cmds[i]);
        assert_int_equal(run(args, &out, NULL), 0);
        assert_non_null(strstr(out, "usage: qrobust"));
        assert_non_null(strstr(out, "--model"));
        assert_non_null(strstr(out, "example"));
        free(out);
        snprintf(args, sizeof args, "%s --bogus", cmds[i]);
        assert_int_equal(run(args, &out, &err), 2);
        assert_non_null(strstr(err, "unknown argument '--bogus'"));
        free(out);
        free(err);
        snprintf(args, sizeof args, "%s", cmds[i]);
        assert_int_equal(run(args, &out, &err), 2);
        assert_non_null(strstr(err, "--model PATH"));
        assert_non_null(strstr(err, "required"));
        free(out);
        free(err);
    }
    char *out, *err;
    assert_int_equal(run("generate --model " STORIES " --prompt x --temperature -1", &out, &err), 2);
    assert_non_null(strstr(err, "--temperature"));
    free(out);
    free(err);
    assert_int_equal(run("logits --model " STORIES " --ids \"1 2 x\"", &out, &err), 2);
    assert_non_null(strstr(err, "'x' is not a token id"));
    free(out);
    free(err);
    assert_int_equal(run("logits --model " STORIES " --ids \"1 9999\"", &out, &err), 2);
    assert_non_null(strstr(err, "token id 9999 outside the vocabulary"));
    free(out);
    free(err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_stories_reference), cmocka_unit_test(test_generate_stop_strings),
        cmocka_unit_test(test_generate_sampling_seeded),   cmocka_unit_test(test_generate_ids_no_tokenizer),
        cmocka_unit_test(test_logits_json),                cmocka_unit_test(test_info),
        cmocka_unit_test(test_usage_errors_and_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
