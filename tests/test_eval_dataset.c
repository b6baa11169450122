// eval/dataset + eval/pyval: the benchmark files load with the right counts,
// prompts and converted inputs; Python values round-trip through marshal
// byte-exactly; equality follows Python's ==.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "eval/dataset.h"
#include "eval/pyval.h"
#include "util/fileio.h"
#include "util/sha256.h"

static void hex_to_bytes(const char *hex, uint8_t *out, size_t *n) {
    *n = strlen(hex) / 2;
    for (size_t i = 0; i < *n; i++) sscanf(hex + 2 * i, "%2hhx", &out[i]);
}

// Bytes from CPython 3.11: python3 -c "import marshal; print(marshal.dumps(V, 2).hex())"
static const struct {
    const char *repr, *hex;
} MARSHAL_CASES[] = {
    {"[99999999999999999999999, -99999999999999999999999]",
     "5b020000006c06000000ff7fff6c2b053f16d05202006cfaffffffff7fff6c2b053f16d0520200"},
    {"(0.0, 1j)", "2802000000670000000000000000790000000000000000000000000000f03f"},
    {"[-inf, inf]", "5b0200000067000000000000f0ff67000000000000f07f"},
    {"{'a': (1, 2), 'b': None}", "7b7501000000612802000000690100000069020000007501000000624e30"},
    {"[True, 'h\xc3\xa9', b'x', 2147483648, -2147483648]",
     "5b0500000054750300000068c3a97301000000786c030000000000000002006900000080"},
};

static void test_marshal_roundtrip_matches_cpython(void **st) {
    (void)st;
    for (size_t k = 0; k < sizeof MARSHAL_CASES / sizeof *MARSHAL_CASES; k++) {
        uint8_t bytes[256];
        size_t n;
        hex_to_bytes(MARSHAL_CASES[k].hex, bytes, &n);
        QrArena a;
        qr_arena_init(&a, 0);
        QrErr e = {{0}};
        size_t used = 0;
        PyVal *v = pv_unmarshal(&a, bytes, n, &used, &e);
        assert_non_null(v);
        assert_int_equal(used, n);
        QrSbuf r;
        qr_sb_init(&r);
        pv_repr(v, &r, 0);
        assert_string_equal(r.s, MARSHAL_CASES[k].repr);
        QrSbuf m;
        qr_sb_init(&m);
        assert_int_equal(pv_marshal(v, &m), 0);
        assert_int_equal(m.len, n);
        assert_memory_equal(m.s, bytes, n);
        qr_sb_free(&r);
        qr_sb_free(&m);
        qr_arena_free(&a);
    }
}

static void test_marshal_rejects_garbage(void **st) {
    (void)st;
    QrArena a;
    qr_arena_init(&a, 0);
    QrErr e = {{0}};
    const uint8_t trunc[] = {'[', 5, 0, 0, 0, 'N'};
    assert_null(pv_unmarshal(&a, trunc, sizeof trunc, NULL, &e));
    assert_non_null(strstr(e.msg, "truncated"));
    const uint8_t bad[] = {'c', 0, 0, 0, 0};
    assert_null(pv_unmarshal(&a, bad, sizeof bad, NULL, &e));
    assert_non_null(strstr(e.msg, "unsupported"));
    // 3000 nested lists: deeper than marshal's own limit
    uint8_t *deep = malloc(3000 * 5 + 1);
    for (int i = 0; i < 3000; i++) memcpy(deep + 5 * i, "[\x01\x00\x00\x00", 5);
    deep[15000] = 'N';
    assert_null(pv_unmarshal(&a, deep, 15001, NULL, &e));
    assert_non_null(strstr(e.msg, "deeper"));
    free(deep);
    qr_arena_free(&a);
}

static PyVal *J(QrArena *a, const char *json) {
    json_error_t jerr;
    json_t *j = pv_json_loads(json, strlen(json), &jerr);
    assert_non_null(j);
    QrErr e;
    PyVal *v = pv_from_json(a, j, &e);
    json_decref(j);
    assert_non_null(v);
    return v;
}

static void test_relaxed_json_and_repr(void **st) {
    (void)st;
    QrArena a;
    qr_arena_init(&a, 0);
    QrSbuf b;
    qr_sb_init(&b);
    PyVal *v = J(&a, "[Infinity, -Infinity, NaN, 123456789012345678901234567890, -9223372036854775809, "
                     "9223372036854775807, 1e400, 0.1, 1e16, 1e-05, 123.0, \"Inf\\u0000x\", {\"k\": [1.5]}]");
    pv_repr(v, &b, 0);
    assert_string_equal(b.s, "[inf, -inf, nan, 123456789012345678901234567890, -9223372036854775809, "
                                "9223372036854775807, inf, 0.1, 1e+16, 1e-05, 123.0, 'Inf\\x00x', {'k': [1.5]}]");
    assert_int_equal(v->u.items[3]->big, 1);
    assert_int_equal(v->u.items[5]->big, 0);
    qr_sb_free(&b);
    qr_arena_free(&a);
}

static void test_python_equality(void **st) {
    (void)st;
    QrArena a;
    qr_arena_init(&a, 0);
#define EQ(x, y, want) assert_int_equal(pv_equal(J(&a, x), J(&a, y)), want)
    EQ("1", "1.0", 1);
    EQ("true", "1", 1);
    EQ("[1, 2]", "[1.0, 2]", 1);
    EQ("[1, 2]", "[2, 1]", 0);
    EQ("{\"a\": 1, \"b\": 2}", "{\"b\": 2, \"a\": 1.0}", 1);
    EQ("{\"a\": 1}", "{\"a\": 2}", 0);
    EQ("NaN", "NaN", 0);
    EQ("9007199254740993", "9007199254740992.0", 0); // exact int/float comparison
    EQ("9007199254740992", "9007199254740992.0", 1);
    EQ("99999999999999991611392", "1e23", 1); // 1e23 as a double is exactly that integer
    EQ("99999999999999991611393", "1e23", 0);
    EQ("\"a\"", "\"a\"", 1);
    EQ("null", "0", 0);
#undef EQ
    // sets: order-free, and set == frozenset; list != tuple
    PyVal *l = J(&a, "[3, 1, 2]"), *l2 = J(&a, "[2, 3, 1, 1]");
    PyVal *s1 = pv_container(&a, PV_SET, 3), *s2 = pv_container(&a, PV_FROZENSET, 3);
    memcpy(s1->u.items, l->u.items, 3 * sizeof(PyVal *));
    for (int i = 0; i < 3; i++) s2->u.items[i] = l2->u.items[i];
    assert_true(pv_equal(s1, s2));
    PyVal *t = pv_container(&a, PV_TUPLE, 3);
    memcpy(t->u.items, l->u.items, 3 * sizeof(PyVal *));
    assert_false(pv_equal(t, l));
    // set(x) == set(y): duplicates collapse; strings iterate by character
    assert_int_equal(pv_set_of_equal(l, l2), 1);
    assert_int_equal(pv_set_of_equal(J(&a, "\"abca\""), J(&a, "[\"c\", \"b\", \"a\"]")), 1);
    assert_int_equal(pv_set_of_equal(J(&a, "[[1]]"), J(&a, "[]")), -1); // unhashable
    assert_int_equal(pv_set_of_equal(J(&a, "5"), J(&a, "[]")), -1);     // not iterable
    PyVal *op = pv_new(&a, PV_OPAQUE);
    assert_false(pv_equal(op, op));
    qr_arena_free(&a);
}

static void test_allclose(void **st) {
    (void)st;
    QrArena a;
    qr_arena_init(&a, 0);
#define AC(x, y, atol, want) assert_int_equal(pv_allclose(J(&a, x), J(&a, y), 1e-7, atol), want)
    AC("1.0000001", "1.0", 1e-6, 1);
    AC("1.00001", "1.0", 1e-6, 0);
    AC("[1.0, 2.0]", "[1.0000001, 2.0]", 1e-6, 1);
    AC("[[1.0, 2.0]]", "[1.0, 2.0]", 1e-6, 1); // broadcasting
    AC("[1.0, 2.0, 3.0]", "[1.0, 2.0]", 1e-6, -1);
    AC("[[1.0], [2.0, 3.0]]", "[1.0]", 1e-6, -1); // ragged
    AC("Infinity", "Infinity", 1e-6, 1);
    AC("NaN", "NaN", 1e-6, 0);
    AC("\"x\"", "1.0", 1e-6, -1);
    AC("[]", "[]", 1e-6, 1);
#undef AC
    qr_arena_free(&a);
}

static void test_parse_literals(void **st) {
    (void)st;
    QrArena a;
    qr_arena_init(&a, 0);
    QrErr e;
    const char *cases[][2] = {{"(-0-1j)", "(-0-1j)"}, {"1e-100j", "1e-100j"}, {"(1+2j)", "(1+2j)"},
                              {"-3j", "-3j"},         {"5", "(5+0j)"},       {"(6+0j)", "(6+0j)"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        PyVal *v = pv_parse_complex(&a, cases[i][0], strlen(cases[i][0]), &e);
        assert_non_null(v);
        QrSbuf b;
        qr_sb_init(&b);
        pv_repr(v, &b, 0);
        assert_string_equal(b.s, cases[i][1]);
        qr_sb_free(&b);
    }
    assert_null(pv_parse_complex(&a, "1+", 2, &e));
    assert_null(pv_parse_float(&a, "0x10", 4, &e));
    PyVal *f = pv_parse_float(&a, " 1e-100 ", 8, &e);
    assert_true(f && f->u.f == 1e-100);
    qr_arena_free(&a);
}

static void test_sha256(void **st) {
    (void)st;
    char hex[65];
    qr_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    qr_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static char *input_repr(const QrProblem *t, int plus, uint32_t i) {
    QrArena a;
    qr_arena_init(&a, 0);
    QrErr e;
    PyVal *v = qr_problem_input(t, plus, i, &a, &e);
    assert_non_null(v);
    QrSbuf b;
    qr_sb_init(&b);
    pv_repr(v, &b, 0);
    qr_arena_free(&a);
    return qr_sb_take(&b);
}

static void expect_input(const QrProblem *t, int plus, uint32_t i, const char *want) {
    char *got = input_repr(t, plus, i);
    assert_string_equal(got, want);
    free(got);
}

static void test_humaneval_plus(void **st) {
    (void)st;
    QrDataset ds;
    QrErr e;
    assert_int_equal(qr_dataset_load(&ds, "humaneval+", NULL, &e), 0);
    assert_int_equal(ds.n_tasks, 164);
    assert_string_equal(ds.sha256, "272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101");
    size_t nb = 0, np = 0;
    for (size_t i = 0; i < ds.n_tasks; i++) nb += ds.tasks[i].base.n, np += ds.tasks[i].plus.n;
    assert_int_equal(nb, 1570);
    assert_int_equal(np, 122683);
    const QrProblem *t = qr_dataset_find(&ds, "HumanEval/0");
    assert_non_null(t);
    assert_string_equal(t->entry_point, "has_close_elements");
    const char *pre = "from typing import List\n\n\ndef has_close_elements(";
    assert_int_equal(strncmp(t->prompt, pre, strlen(pre)), 0);
    assert_int_equal(t->base.n, 7);
    expect_input(t, 0, 0, "[[1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3]");
    expect_input(qr_dataset_find(&ds, "HumanEval/22"), 1, 597, "[[99999999999999999999999, -99999999999999999999999]]");
    expect_input(qr_dataset_find(&ds, "HumanEval/53"), 1, 100, "[-1000000000000000000000, 1000000000000000000000]");
    assert_true(qr_dataset_find(&ds, "HumanEval/32")->atol == 1e-4);
    assert_true(qr_dataset_find(&ds, "HumanEval/2")->atol == 1e-6);
    char *prog = qr_problem_program(t, "    return False\n");
    assert_int_equal(strlen(prog), strlen(t->prompt) + 17);
    free(prog);
    assert_null(qr_dataset_find(&ds, "HumanEval/164"));
    qr_dataset_free(&ds);
}

static void test_mbpp_plus(void **st) {
    (void)st;
    QrDataset ds;
    QrErr e;
    assert_int_equal(qr_dataset_load(&ds, "mbpp+", NULL, &e), 0);
    assert_int_equal(ds.n_tasks, 378);
    size_t nb = 0, np = 0;
    for (size_t i = 0; i < ds.n_tasks; i++) nb += ds.tasks[i].base.n, np += ds.tasks[i].plus.n;
    assert_int_equal(nb, 1174);
    assert_int_equal(np, 39841);
    const QrProblem *t = qr_dataset_find(&ds, "Mbpp/2");
    assert_string_equal(t->prompt, "\"\"\"\nWrite a function to find the shared elements from the given two lists.\n"
                                   "assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))\n\"\"\"\n");
    assert_string_equal(t->text, "Write a function to find the shared elements from the given two lists.");
    assert_string_equal(t->entry_point, "similar_elements");
    assert_int_equal(t->n_asserts, 3);
    assert_string_equal(t->asserts[0], "assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)");
    // EvalPlus's mbpp_deserialize_inputs conversions
    expect_input(t, 0, 0, "[(3, 4, 5, 6), (5, 7, 4, 10)]");
    expect_input(qr_dataset_find(&ds, "Mbpp/124"), 0, 0, "(0.0, 1j)");
    expect_input(qr_dataset_find(&ds, "Mbpp/124"), 1, 3, "(1.0, (-0-1j))");
    expect_input(qr_dataset_find(&ds, "Mbpp/252"), 1, 0, "[(1+2j)]");
    expect_input(qr_dataset_find(&ds, "Mbpp/404"), 1, 9, "[-inf, inf]");
    qr_dataset_free(&ds);

    assert_int_equal(qr_dataset_load(&ds, "mbpp+v0.1.0", NULL, &e), 0);
    assert_int_equal(ds.n_tasks, 399);
    qr_dataset_free(&ds);
}

static void test_original_datasets(void **st) {
    (void)st;
    QrDataset ds;
    QrErr e;
    assert_int_equal(qr_dataset_load(&ds, "humaneval", NULL, &e), 0);
    assert_int_equal(ds.n_tasks, 164);
    assert_non_null(strstr(ds.tasks[0].test, "def check(candidate):"));
    assert_int_equal(ds.tasks[0].base.n, 0);
    qr_dataset_free(&ds);

    assert_int_equal(qr_dataset_load(&ds, "mbpp", NULL, &e), 0);
    assert_int_equal(ds.n_tasks, 500);
    assert_string_equal(ds.tasks[0].task_id, "Mbpp/11");
    assert_string_equal(ds.tasks[499].task_id, "Mbpp/510");
    assert_string_equal(ds.tasks[0].prompt,
                        "\"\"\"\nWrite a python function to remove first and last occurrence of a given character "
                        "from the string.\nassert remove_Occ(\"hello\",\"l\") == \"heo\"\n\"\"\"\n");
    assert_string_equal(ds.tasks[0].entry_point, "remove_Occ");
    assert_int_equal(ds.tasks[0].n_asserts, 3);
    for (size_t i = 0; i < ds.n_tasks; i++) assert_non_null(ds.tasks[i].entry_point);
    qr_dataset_free(&ds);
}

static void test_bad_files(void **st) {
    (void)st;
    char dir[] = "/tmp/qrdsXXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[256];
    snprintf(p, sizeof p, "%s/bad.jsonl", dir);
    QrDataset ds;
    QrErr e;
    const char *good = "{\"task_id\": \"HumanEval/0\", \"prompt\": \"def f():\\n\", \"entry_point\": \"f\", "
                       "\"canonical_solution\": \"    return 1\\n\", \"test\": \"\"}\n";
    char buf[1024];
    snprintf(buf, sizeof buf, "%s{\"task_id\": \"HumanEval/1\", \"prompt\": 5}\n", good);
    assert_int_equal(qr_write_file_atomic(p, buf, strlen(buf), &e), 0);
    assert_int_equal(qr_dataset_load(&ds, "humaneval", p, &e), -1);
    char want[300];
    snprintf(want, sizeof want, "%s:2: field 'prompt' missing or not a string", p);
    assert_string_equal(e.msg, want);

    snprintf(buf, sizeof buf, "%s\n{\"task_id\": oops}\n", good);
    assert_int_equal(qr_write_file_atomic(p, buf, strlen(buf), &e), 0);
    assert_int_equal(qr_dataset_load(&ds, "humaneval", p, &e), -1);
    snprintf(want, sizeof want, "%s:3: invalid JSON", p);
    assert_int_equal(strncmp(e.msg, want, strlen(want)), 0);

    assert_int_equal(qr_write_file_atomic(p, "", 0, &e), 0);
    assert_int_equal(qr_dataset_load(&ds, "humaneval", p, &e), -1);
    assert_non_null(strstr(e.msg, "no tasks"));

    assert_int_equal(qr_write_file_atomic(p, good, strlen(good), &e), 0);
    assert_int_equal(qr_dataset_load(&ds, "humaneval", p, &e), 0);
    assert_int_equal(ds.n_tasks, 1);
    assert_string_equal(ds.tasks[0].reference, "def f():\n    return 1\n");
    qr_dataset_free(&ds);
    assert_int_equal(qr_dataset_load(&ds, "nope", NULL, &e), -1);
    assert_non_null(strstr(e.msg, "unknown dataset 'nope'"));
    unlink(p);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_marshal_roundtrip_matches_cpython),
        cmocka_unit_test(test_marshal_rejects_garbage),
        cmocka_unit_test(test_relaxed_json_and_repr),
        cmocka_unit_test(test_python_equality),
        cmocka_unit_test(test_allclose),
        cmocka_unit_test(test_parse_literals),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_humaneval_plus),
        cmocka_unit_test(test_mbpp_plus),
        cmocka_unit_test(test_original_datasets),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
