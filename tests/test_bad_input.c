// Bad checkpoints: every defect gives one line on stderr naming the file and
// the problem and exit status 2 from the CLI, never a crash (and the same
// error from the library). Each case starts from a valid fixture and breaks
// one thing.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "runtime/model.h"
#include "util/fileio.h"

#define SRC "tests/fixtures/llama-tiny/tied-f32"
#define SHARDED "tests/fixtures/llama-tiny/untied-f32"
#define STORIES "tests/fixtures/stories260K/stories260K.gguf"

static char tmpdir[] = "/tmp/qrbadXXXXXX";

static void copy_file(const char *from, const char *to) {
    char *b;
    size_t n;
    QrErr e;
    if (qr_read_file(from, &b, &n, &e)) fail_msg("%s", e.msg);
    if (qr_write_file_atomic(to, b, n, &e)) fail_msg("%s", e.msg);
    free(b);
}

// A fresh copy of a fixture directory; returns its path (static buffer).
static const char *fresh(const char *name, const char *src) {
    static char d[256];
    char cmd[600];
    snprintf(d, sizeof d, "%s/%s", tmpdir, name);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", d, src, d);
    assert_int_equal(system(cmd), 0);
    return d;
}

// Rewrites a safetensors file with its header passed through `edit` (the data
// section is kept byte for byte).
static void edit_header(const char *path, void (*edit)(json_t *h, uint64_t data_len)) {
    char *b;
    size_t n;
    QrErr e;
    if (qr_read_file(path, &b, &n, &e)) fail_msg("%s", e.msg);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | (uint8_t)b[i];
    json_error_t je;
    json_t *h = json_loadb(b + 8, hl, 0, &je);
    assert_non_null(h);
    edit(h, n - 8 - hl);
    char *s = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
    size_t sl = strlen(s), nn = 8 + sl + (n - 8 - hl);
    char *out = malloc(nn);
    for (int i = 0; i < 8; i++) out[i] = (char)((uint64_t)sl >> (8 * i));
    memcpy(out + 8, s, sl);
    memcpy(out + 8 + sl, b + 8 + hl, n - 8 - hl);
    if (qr_write_file_atomic(path, out, nn, &e)) fail_msg("%s", e.msg);
    free(out);
    free(s);
    free(b);
    json_decref(h);
}

static void edit_config(const char *dir, const char *key, json_t *value) {
    char p[300];
    snprintf(p, sizeof p, "%s/config.json", dir);
    json_t *c = json_load_file(p, 0, NULL);
    assert_non_null(c);
    if (value) json_object_set_new(c, key, value);
    else json_object_del(c, key);
    assert_int_equal(json_dump_file(c, p, JSON_INDENT(1)), 0);
    json_decref(c);
}

// Runs `qrobust info --model path` and checks: exit 2, exactly one stderr
// line starting "qrobust: ", containing `file` and `problem`.
static void expect_cli_error(const char *path, const char *file, const char *problem) {
    const char *bin = getenv("QROBUST_BIN");
    if (!bin) bin = "./qrobust";
    char cmd[1024], errp[300];
    snprintf(errp, sizeof errp, "%s/stderr.txt", tmpdir);
    snprintf(cmd, sizeof cmd, "'%s' info --model '%s' >/dev/null 2>'%s'", bin, path, errp);
    int st = system(cmd);
    assert_true(WIFEXITED(st));
    char *err;
    size_t n;
    QrErr e;
    if (qr_read_file(errp, &err, &n, &e)) fail_msg("%s", e.msg);
    if (WEXITSTATUS(st) != 2) fail_msg("exit %d for %s (stderr: %s)", WEXITSTATUS(st), path, err);
    if (strncmp(err, "qrobust: ", 9) || n == 0 || err[n - 1] != '\n' || memchr(err, '\n', n - 1))
        fail_msg("not one 'qrobust: ' line: '%s'", err);
    if (!strstr(err, file)) fail_msg("'%s' does not name '%s'", err, file);
    if (!strstr(err, problem)) fail_msg("'%s' does not say '%s'", err, problem);
    // The library gives the same message (what the CLI prints after "qrobust: ").
    QrModel *m;
    assert_int_equal(qr_model_load(&m, path, NULL, &e), -1);
    err[n - 1] = 0;
    assert_string_equal(err + 9, e.msg);
    free(err);
}

static void test_truncated(void **st) {
    (void)st;
    const char *d = fresh("trunc", SRC);
    char p[300];
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    assert_int_equal(truncate(p, 100000), 0);
    expect_cli_error(d, "model.safetensors", "past the data section");
    assert_int_equal(truncate(p, 5), 0);
    expect_cli_error(d, "model.safetensors", "truncated");
    // GGUF cut short
    snprintf(p, sizeof p, "%s/short.gguf", tmpdir);
    copy_file(STORIES, p);
    assert_int_equal(truncate(p, 600000), 0);
    expect_cli_error(p, "short.gguf", "past the end");
}

static void test_header_length_past_end(void **st) {
    (void)st;
    const char *d = fresh("hlen", SRC);
    char p[300];
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    FILE *f = fopen(p, "r+b");
    uint8_t big[8] = {0, 0, 0, 0, 1, 0, 0, 0}; // 2^32
    fwrite(big, 1, 8, f);
    fclose(f);
    expect_cli_error(d, "model.safetensors", "header length 4294967296 past the end");
}

static void off_range(json_t *h, uint64_t dl) {
    json_t *t = json_object_get(h, "model.norm.weight");
    json_t *o = json_object_get(t, "data_offsets");
    json_array_set_new(o, 0, json_integer((json_int_t)dl - 64));
    json_array_set_new(o, 1, json_integer((json_int_t)dl + 192)); // 256 bytes = 64 floats, past the end
}
static void overlap(json_t *h, uint64_t dl) {
    (void)dl;
    json_t *a = json_object_get(json_object_get(h, "model.norm.weight"), "data_offsets");
    json_t *b = json_object_get(json_object_get(h, "model.layers.0.input_layernorm.weight"), "data_offsets");
    json_int_t a0 = json_integer_value(json_array_get(a, 0));
    json_int_t s = a0 >= 128 ? a0 - 128 : a0 + 128; // half inside a's 256 bytes
    json_array_set_new(b, 0, json_integer(s));
    json_array_set_new(b, 1, json_integer(s + 256));
}
static void begin_after_end(json_t *h, uint64_t dl) {
    (void)dl;
    json_t *o = json_object_get(json_object_get(h, "model.norm.weight"), "data_offsets");
    json_t *b = json_array_get(o, 0);
    json_array_set_new(o, 0, json_integer(json_integer_value(json_array_get(o, 1))));
    json_array_set_new(o, 1, json_integer(json_integer_value(b)));
}

static void test_offsets(void **st) {
    (void)st;
    char p[300];
    const char *d = fresh("offr", SRC);
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    edit_header(p, off_range);
    expect_cli_error(d, "model.norm.weight", "past the data section");
    d = fresh("ovl", SRC);
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    edit_header(p, overlap);
    expect_cli_error(d, "model.safetensors", "overlap");
    d = fresh("boe", SRC);
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    edit_header(p, begin_after_end);
    expect_cli_error(d, "model.norm.weight", "begin");
}

static void dtype_i32(json_t *h, uint64_t dl) {
    (void)dl;
    json_object_set_new(json_object_get(h, "model.layers.1.mlp.up_proj.weight"), "dtype", json_string("I32"));
}
static void dtype_f16(json_t *h, uint64_t dl) {
    (void)dl;
    json_object_set_new(json_object_get(h, "model.layers.1.mlp.up_proj.weight"), "dtype", json_string("F16"));
}
static void dtype_bogus(json_t *h, uint64_t dl) {
    (void)dl;
    json_object_set_new(json_object_get(h, "model.norm.weight"), "dtype", json_string("F24"));
}
static void shape_swap(json_t *h, uint64_t dl) {
    (void)dl;
    json_t *s = json_object_get(json_object_get(h, "model.layers.0.mlp.down_proj.weight"), "shape");
    json_array_set_new(s, 0, json_integer(88));
    json_array_set_new(s, 1, json_integer(64));
}
static void drop_tensor(json_t *h, uint64_t dl) {
    (void)dl;
    json_object_del(h, "model.layers.1.self_attn.k_proj.weight");
}

static void test_dtype_shape_missing(void **st) {
    (void)st;
    char p[300];
    const char *d = fresh("dt", SRC);
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    edit_header(p, dtype_i32);
    expect_cli_error(d, "model.layers.1.mlp.up_proj.weight", "dtype I32");
    d = fresh("dt16", SRC);
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    edit_header(p, dtype_f16); // byte length no longer matches
    expect_cli_error(d, "model.layers.1.mlp.up_proj.weight", "needs 11264");
    d = fresh("dtx", SRC);
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    edit_header(p, dtype_bogus);
    expect_cli_error(d, "model.norm.weight", "unknown dtype 'F24'");
    d = fresh("shape", SRC);
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    edit_header(p, shape_swap);
    expect_cli_error(d, "model.layers.0.mlp.down_proj.weight", "the config implies [64, 88]");
    d = fresh("cfgshape", SRC);
    edit_config(d, "intermediate_size", json_integer(96));
    expect_cli_error(d, "model.layers.0.mlp.gate_proj.weight", "shape [88, 64], the config implies [96, 64]");
    d = fresh("missing", SRC);
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    edit_header(p, drop_tensor);
    expect_cli_error(d, "model.layers.1.self_attn.k_proj.weight", "is missing");
    d = fresh("untie", SRC); // untied config: lm_head.weight must be there
    edit_config(d, "tie_word_embeddings", json_false());
    expect_cli_error(d, "lm_head.weight", "is missing");
}

static void test_invalid_json(void **st) {
    (void)st;
    char p[300];
    const char *d = fresh("badjson", SRC);
    snprintf(p, sizeof p, "%s/config.json", d);
    QrErr e;
    assert_int_equal(qr_write_file_atomic(p, "{\"model_type\": \"llama\",", 23, &e), 0);
    expect_cli_error(d, "config.json", "invalid JSON");
    d = fresh("badhdr", SRC);
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    FILE *f = fopen(p, "r+b");
    fseek(f, 8, SEEK_SET);
    fputc('[', f); // header starts "[" and no longer parses
    fclose(f);
    expect_cli_error(d, "model.safetensors", "invalid JSON header");
    d = fresh("badindex", SHARDED);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", d);
    assert_int_equal(qr_write_file_atomic(p, "{\"weight_map\": 3}", 17, &e), 0);
    expect_cli_error(d, "model.safetensors.index.json", "weight_map");
    d = fresh("noncfg", SRC);
    edit_config(d, "hidden_size", json_string("64"));
    expect_cli_error(d, "config.json", "\"hidden_size\" is not an integer");
    d = fresh("nohidden", SRC);
    edit_config(d, "hidden_size", NULL);
    expect_cli_error(d, "config.json", "missing \"hidden_size\"");
    d = fresh("heads", SRC);
    edit_config(d, "num_key_value_heads", json_integer(3));
    expect_cli_error(d, "config.json", "not a multiple of num_key_value_heads 3");
}

static void test_unknown_architecture(void **st) {
    (void)st;
    const char *d = fresh("arch", SRC);
    edit_config(d, "model_type", json_string("mamba"));
    expect_cli_error(d, "config.json", "unknown architecture model_type 'mamba'");
    d = fresh("rope", SRC);
    json_t *rs = json_object();
    json_object_set_new(rs, "rope_type", json_string("yarn"));
    json_object_set_new(rs, "factor", json_real(4));
    edit_config(d, "rope_scaling", rs);
    expect_cli_error(d, "config.json", "rope scaling type 'yarn' is not supported");
    d = fresh("act", SRC);
    edit_config(d, "hidden_act", json_string("gelu"));
    expect_cli_error(d, "config.json", "hidden_act 'gelu'");
}

static void test_unreadable_path(void **st) {
    (void)st;
    char p[300];
    snprintf(p, sizeof p, "%s/does-not-exist", tmpdir);
    expect_cli_error(p, "does-not-exist", "no such file or directory");
    const char *d = fresh("nocfg", SRC);
    snprintf(p, sizeof p, "%s/config.json", d);
    unlink(p);
    expect_cli_error(d, "config.json", "no config.json");
    d = fresh("noweights", SRC);
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    unlink(p);
    expect_cli_error(d, "nowei", "no model.safetensors or model.safetensors.index.json");
    d = fresh("shardgone", SHARDED);
    snprintf(p, sizeof p, "%s/model-00002-of-00003.safetensors", d);
    unlink(p);
    expect_cli_error(d, "model-00002-of-00003.safetensors", "cannot open");
    snprintf(p, sizeof p, "%s/notamodel.txt", tmpdir);
    QrErr e;
    assert_int_equal(qr_write_file_atomic(p, "hello", 5, &e), 0);
    expect_cli_error(p, "notamodel.txt", "not a checkpoint");
}

// The sharded index and its shards must agree.
static void test_index_mismatch(void **st) {
    (void)st;
    const char *d = fresh("idx", SHARDED);
    char p[300];
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", d);
    json_t *j = json_load_file(p, 0, NULL);
    json_t *wm = json_object_get(j, "weight_map");
    const char *f = json_string_value(json_object_get(wm, "model.norm.weight"));
    char other[64];
    snprintf(other, sizeof other, "%s",
             strcmp(f, "model-00001-of-00003.safetensors") ? "model-00001-of-00003.safetensors"
                                                             : "model-00002-of-00003.safetensors");
    json_object_set_new(wm, "model.norm.weight", json_string(other));
    json_dump_file(j, p, 0);
    json_decref(j);
    expect_cli_error(d, "model.norm.weight", "is indexed in");
    d = fresh("idx2", SHARDED);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", d);
    j = json_load_file(p, 0, NULL);
    json_object_set_new(json_object_get(j, "weight_map"), "../../etc/passwd", json_string("../x"));
    json_dump_file(j, p, 0);
    json_decref(j);
    expect_cli_error(d, "model.safetensors.index.json", "not a file in the checkpoint directory");
}

// Parser-level cases on hand-made images.
static void st_expect(const char *hdr, size_t data_len, const char *problem) {
    size_t hl = strlen(hdr), n = 8 + hl + data_len;
    uint8_t *b = calloc(1, n);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, hdr, hl);
    QrSafetensors s;
    QrErr e;
    int rc = qr_st_parse(&s, b, n, "x.safetensors", &e);
    if (problem) {
        if (rc == 0) fail_msg("accepted: %s", hdr);
        if (!strstr(e.msg, "x.safetensors") || !strstr(e.msg, problem)) fail_msg("'%s' lacks '%s'", e.msg, problem);
    } else {
        if (rc) fail_msg("rejected %s: %s", hdr, e.msg);
        qr_st_close(&s);
    }
    free(b);
}

static void test_safetensors_parser(void **st) {
    (void)st;
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, NULL);
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},\"__metadata__\":{\"format\":\"pt\"}}", 4,
              NULL);
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
              "\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}", 3, NULL); // empty overlaps nothing
    st_expect("[]", 0, "not an object");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "invalid JSON");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "shape[0]");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "data_offsets");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "past the data section");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", 8,
              "needs");
    st_expect("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype");
    st_expect("{\"a\":3}", 0, "not an object");
    st_expect("{\"__metadata__\":[1]}", 0, "__metadata__");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlap");
    st_expect("{}", 0, NULL);
    st_expect("{", 0, "implausible header length 1");
}

static int setup(void **st) {
    (void)st;
    return mkdtemp(tmpdir) ? 0 : -1;
}
static int teardown(void **st) {
    (void)st;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated),        cmocka_unit_test(test_header_length_past_end),
        cmocka_unit_test(test_offsets),          cmocka_unit_test(test_dtype_shape_missing),
        cmocka_unit_test(test_invalid_json),     cmocka_unit_test(test_unknown_architecture),
        cmocka_unit_test(test_unreadable_path),  cmocka_unit_test(test_index_mismatch),
        cmocka_unit_test(test_safetensors_parser),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
