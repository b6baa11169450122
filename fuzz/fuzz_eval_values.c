// libFuzzer target: the parsers of untrusted values in eval/pyval.h. Worker
// output arrives as marshal bytes written by generated code, so pv_unmarshal
// must reject anything malformed without reading out of bounds, and what it
// accepts must survive repr, ==, set(), allclose and re-marshalling. The
// relaxed JSON reader (dataset lines) gets the same bytes.
// Seeds: marshal.dumps(x, 2) of any values, or lines of data/*.jsonl.gz.
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "eval/judge.h"
#include "eval/pyval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    QrArena a;
    qr_arena_init(&a, 0);
    QrErr e;
    size_t used = 0;
    PyVal *v = pv_unmarshal(&a, data, size, &used, &e);
    if (v) {
        QrSbuf b;
        qr_sb_init(&b);
        pv_repr(v, &b, 4096);
        qr_sb_clear(&b);
        pv_marshal(v, &b);
        // round trip: our encoding decodes and re-encodes to the same bytes
        PyVal *w = pv_unmarshal(&a, b.s, b.len, NULL, &e);
        QrSbuf b2;
        qr_sb_init(&b2);
        if (w) pv_marshal(w, &b2);
        if (!w || b2.len != b.len || memcmp(b.s, b2.s, b.len)) __builtin_trap();
        qr_sb_free(&b2);
        qr_sb_free(&b);
        (void)pv_set_of_equal(v, v);
        (void)pv_allclose(v, v, 1e-7, 1e-6);
        double atol = 0;
        char why[128];
        for (int o = QR_ORACLE_NONE; o <= QR_ORACLE_FIND_ZERO; o++) (void)qr_judge((QrOracle)o, v, v, v, &atol, why, sizeof why);
        json_decref(pv_to_json(v));
    }
    json_error_t je;
    json_t *j = pv_json_loads((const char *)data, size, &je);
    if (j) {
        PyVal *x = pv_from_json(&a, j, &e);
        if (x) {
            QrSbuf b;
            qr_sb_init(&b);
            pv_marshal(x, &b);
            qr_sb_free(&b);
        }
        json_decref(j);
    }
    qr_arena_free(&a);
    return 0;
}
