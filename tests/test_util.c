// util/: errors, file reads (plain and gzip), atomic writes.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "util/err.h"
#include "util/fileio.h"

static void test_fail_formats(void **st) {
    (void)st;
    QrErr e;
    assert_int_equal(qr_fail(&e, "%s: bad %d", "f.json", 7), -1);
    assert_string_equal(e.msg, "f.json: bad 7");
    qr_err_prefix(&e, "load %s", "m");
    assert_string_equal(e.msg, "load m: f.json: bad 7");
}

static void test_read_plain_and_gz(void **st) {
    (void)st;
    char dir[] = "/tmp/qrtestXXXXXX";
    assert_non_null(mkdtemp(dir));
    char p1[256], p2[256];
    snprintf(p1, sizeof p1, "%s/a.txt", dir);
    snprintf(p2, sizeof p2, "%s/a.txt.gz", dir);
    QrErr e;
    assert_int_equal(qr_write_file_atomic(p1, "hello\nworld", 11, &e), 0);
    gzFile g = gzopen(p2, "wb");
    gzwrite(g, "hello\nworld", 11);
    gzclose(g);
    char *buf;
    size_t n;
    assert_int_equal(qr_read_file(p1, &buf, &n, &e), 0);
    assert_int_equal(n, 11);
    assert_string_equal(buf, "hello\nworld");
    free(buf);
    assert_int_equal(qr_read_file(p2, &buf, &n, &e), 0);
    assert_int_equal(n, 11);
    assert_string_equal(buf, "hello\nworld");
    free(buf);
    // A truncated gzip stream is an error, not a short file.
    FILE *f = fopen(p2, "r+b");
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fclose(f);
    assert_int_equal(truncate(p2, sz - 6), 0);
    assert_int_equal(qr_read_file(p2, &buf, &n, &e), -1);
    assert_non_null(strstr(e.msg, p2));
    assert_int_equal(qr_read_file("/nonexistent/x", &buf, &n, &e), -1);
    assert_non_null(strstr(e.msg, "/nonexistent/x"));
    unlink(p1);
    unlink(p2);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_formats),
        cmocka_unit_test(test_read_plain_and_gz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
