#include "eval/pyval.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------- construction

PyVal *pv_new(QrArena *a, PvKind kind) {
    PyVal *v = qr_arena_calloc(a, sizeof *v);
    if (v) v->kind = (uint8_t)kind;
    return v;
}

PyVal *pv_int(QrArena *a, int64_t x) {
    PyVal *v = pv_new(a, PV_INT);
    if (v) v->u.i = x;
    return v;
}

PyVal *pv_float(QrArena *a, double x) {
    PyVal *v = pv_new(a, PV_FLOAT);
    if (v) v->u.f = x;
    return v;
}

PyVal *pv_str(QrArena *a, const char *s, size_t n) {
    PyVal *v = pv_new(a, PV_STR);
    if (!v) return NULL;
    char *c = qr_arena_strndup(a, s, n);
    if (!c) return NULL;
    v->u.s = c;
    v->n = (uint32_t)n;
    return v;
}

PyVal *pv_container(QrArena *a, PvKind k, uint32_t n) {
    PyVal *v = pv_new(a, k);
    if (!v) return NULL;
    size_t slots = (size_t)n * (k == PV_DICT ? 2 : 1);
    v->u.items = qr_arena_calloc(a, (slots ? slots : 1) * sizeof(PyVal *));
    if (!v->u.items) return NULL;
    v->n = n;
    return v;
}

// ---------------------------------------------------------------- big ints
// Magnitudes are little-endian arrays of 15-bit digits, as in marshal.

// Builds an INT from a magnitude; small when it fits int64.
static PyVal *int_from_mag(QrArena *a, const uint16_t *d, size_t nd, int neg) {
    while (nd && d[nd - 1] == 0) nd--;
    if (nd <= 5) { // 75 bits: maybe fits
        unsigned __int128 m = 0;
        for (size_t i = nd; i-- > 0;) m = (m << 15) | d[i];
        if (!neg && m <= (unsigned __int128)INT64_MAX) return pv_int(a, (int64_t)m);
        if (neg && m <= (unsigned __int128)INT64_MAX + 1) return pv_int(a, (int64_t)(-(__int128)m));
    }
    PyVal *v = pv_new(a, PV_INT);
    if (!v) return NULL;
    uint16_t *c = qr_arena_alloc(a, nd * sizeof *c);
    if (!c) return NULL;
    memcpy(c, d, nd * sizeof *c);
    v->big = 1;
    v->neg = (uint8_t)(neg != 0);
    v->n = (uint32_t)nd;
    v->u.digits = c;
    return v;
}

// Magnitude of a small int into d (at least 5 digits of room); returns count.
static size_t mag_of_small(int64_t x, uint16_t *d) {
    unsigned __int128 m = x < 0 ? (unsigned __int128)(-(__int128)x) : (unsigned __int128)x;
    size_t n = 0;
    while (m) {
        d[n++] = (uint16_t)(m & 0x7fff);
        m >>= 15;
    }
    return n;
}

// Magnitude of an integral double (|f| >= 1) into a malloc'd array.
static uint16_t *mag_of_double(double f, size_t *nd) {
    int e;
    double m = frexp(fabs(f), &e); // |f| = m * 2^e, m in [0.5, 1)
    uint64_t mant = (uint64_t)ldexp(m, 53);
    int shift = e - 53;
    size_t n = (size_t)(e + 14) / 15;
    uint16_t *d = calloc(n ? n : 1, sizeof *d);
    if (!d) return NULL;
    for (int b = 0; b < e; b++) {
        int sb = b - shift;
        int bit = sb >= 0 && sb < 64 ? (int)((mant >> sb) & 1) : 0;
        if (bit) d[b / 15] |= (uint16_t)(1u << (b % 15));
    }
    *nd = n;
    return d;
}

void pv_int_decimal(const PyVal *v, QrSbuf *b) {
    if (v->kind == PV_BOOL || !v->big) {
        qr_sb_printf(b, "%lld", (long long)v->u.i);
        return;
    }
    size_t nd = v->n;
    uint16_t *t = malloc(nd * sizeof *t);
    char *out = malloc(nd * 5 + 8); // 15 bits < 4.52 decimal digits
    if (!t || !out) {
        free(t);
        free(out);
        qr_sb_puts(b, "<int: out of memory>");
        return;
    }
    memcpy(t, v->u.digits, nd * sizeof *t);
    size_t no = 0;
    while (nd) { // divide by 10^4 repeatedly
        uint32_t rem = 0;
        for (size_t i = nd; i-- > 0;) {
            uint32_t cur = (rem << 15) | t[i];
            t[i] = (uint16_t)(cur / 10000);
            rem = cur % 10000;
        }
        while (nd && t[nd - 1] == 0) nd--;
        for (int k = 0; k < 4; k++) {
            out[no++] = (char)('0' + rem % 10);
            rem /= 10;
            if (!nd && !rem) break;
        }
    }
    if (v->neg) qr_sb_putc(b, '-');
    while (no > 1 && out[no - 1] == '0') no--;
    for (size_t i = no; i-- > 0;) qr_sb_putc(b, out[i]);
    free(t);
    free(out);
}

// Parses decimal digits (already validated, underscores skipped) into an INT.
static PyVal *int_from_decimal(QrArena *a, const char *s, size_t n, int neg) {
    size_t cap = n / 4 + 2, nd = 0;
    uint16_t *d = calloc(cap, sizeof *d);
    if (!d) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '_') continue;
        uint32_t carry = (uint32_t)(s[i] - '0');
        for (size_t k = 0; k < nd; k++) {
            uint32_t t = (uint32_t)d[k] * 10 + carry;
            d[k] = (uint16_t)(t & 0x7fff);
            carry = t >> 15;
        }
        if (carry) d[nd++] = (uint16_t)carry;
    }
    PyVal *v = int_from_mag(a, d, nd, neg);
    free(d);
    return v;
}

// ---------------------------------------------------------------- literals

static void strip_ws(const char **s, size_t *n) {
    while (*n && isspace((unsigned char)**s)) (*s)++, (*n)--;
    while (*n && isspace((unsigned char)(*s)[*n - 1])) (*n)--;
}

PyVal *pv_parse_int(QrArena *a, const char *s, size_t n, QrErr *e) {
    const char *p = s;
    size_t m = n;
    strip_ws(&p, &m);
    int neg = 0;
    if (m && (*p == '+' || *p == '-')) neg = *p == '-', p++, m--;
    int ok = m > 0 && isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[m - 1]);
    for (size_t i = 0; ok && i < m; i++)
        ok = isdigit((unsigned char)p[i]) || (p[i] == '_' && p[i + 1] != '_');
    if (!ok) {
        qr_fail(e, "invalid literal for int(): '%.*s'", (int)(n > 60 ? 60 : n), s);
        return NULL;
    }
    return int_from_decimal(a, p, m, neg);
}

// Python's float(str) grammar (minus underscores, which never occur in the
// data): [sign] (digits [. digits] | . digits) [e [sign] digits] | inf | infinity | nan.
static int float_literal(const char *s, size_t n, double *out) {
    char buf[512];
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    const char *p = buf;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = *p == '-', p++;
    if (!strcasecmp(p, "inf") || !strcasecmp(p, "infinity")) {
        *out = neg ? -INFINITY : INFINITY;
        return 0;
    }
    if (!strcasecmp(p, "nan")) {
        *out = neg ? -NAN : NAN;
        return 0;
    }
    const char *q = p;
    int digits = 0;
    while (isdigit((unsigned char)*q)) q++, digits++;
    if (*q == '.') {
        q++;
        while (isdigit((unsigned char)*q)) q++, digits++;
    }
    if (!digits) return -1;
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-') q++;
        if (!isdigit((unsigned char)*q)) return -1;
        while (isdigit((unsigned char)*q)) q++;
    }
    if (*q) return -1;
    *out = strtod(buf, NULL); // overflow gives +-inf and underflow 0, as Python does
    return 0;
}

PyVal *pv_parse_float(QrArena *a, const char *s, size_t n, QrErr *e) {
    const char *p = s;
    size_t m = n;
    strip_ws(&p, &m);
    double d;
    if (float_literal(p, m, &d)) {
        qr_fail(e, "could not convert string to float: '%.*s'", (int)(n > 60 ? 60 : n), s);
        return NULL;
    }
    return pv_float(a, d);
}

PyVal *pv_parse_complex(QrArena *a, const char *s, size_t n, QrErr *e) {
    const char *p = s;
    size_t m = n;
    strip_ws(&p, &m);
    if (m >= 2 && p[0] == '(' && p[m - 1] == ')') {
        p++, m -= 2;
        strip_ws(&p, &m);
    }
    double re = 0, im = 0;
    int bad = m == 0;
    if (!bad && (p[m - 1] == 'j' || p[m - 1] == 'J')) {
        m--;
        // The imaginary part starts at the last sign that is not an exponent's.
        size_t k = m;
        for (size_t i = m; i-- > 1;)
            if ((p[i] == '+' || p[i] == '-') && p[i - 1] != 'e' && p[i - 1] != 'E') {
                k = i;
                break;
            }
        const char *ip = k < m ? p + k : p;
        size_t in = k < m ? m - k : m;
        if (k < m && float_literal(p, k, &re)) bad = 1;
        if (in == 0 || (in == 1 && (ip[0] == '+' || ip[0] == '-')))
            im = in && ip[0] == '-' ? -1.0 : 1.0;
        else if (float_literal(ip, in, &im))
            bad = 1;
    } else if (!bad && float_literal(p, m, &re)) {
        bad = 1;
    }
    if (bad) {
        qr_fail(e, "complex() arg is a malformed string: '%.*s'", (int)(n > 60 ? 60 : n), s);
        return NULL;
    }
    PyVal *v = pv_new(a, PV_COMPLEX);
    if (v) v->u.c[0] = re, v->u.c[1] = im;
    return v;
}

// ---------------------------------------------------------------- JSON

// Tag for tokens jansson cannot hold; a string starting with these 4 bytes.
static const char TAG[] = "\0qr:";
#define TAGLEN 4

json_t *pv_json_loads(const char *text, size_t len, json_error_t *jerr) {
    QrSbuf b;
    qr_sb_init(&b);
    size_t i = 0;
    while (i < len) {
        char c = text[i];
        if (c == '"') { // copy a string verbatim
            size_t j = i + 1;
            while (j < len && text[j] != '"') j += text[j] == '\\' ? 2 : 1;
            if (j >= len) j = len - 1;
            qr_sb_putn(&b, (const char *)text + i, j + 1 - i);
            i = j + 1;
            continue;
        }
        if (c == '-' || c == 'I' || c == 'N' || isdigit((unsigned char)c)) {
            size_t j = i + (c == '-');
            size_t end = 0;
            int tag = 0;
            if (len - j >= 8 && !memcmp(text + j, "Infinity", 8)) end = j + 8, tag = 1;
            else if (len - j >= 3 && !memcmp(text + j, "NaN", 3)) end = j + 3, tag = 1;
            else if (j < len && isdigit((unsigned char)text[j])) {
                size_t k = j;
                int real = 0;
                while (k < len && isdigit((unsigned char)text[k])) k++;
                if (k < len && text[k] == '.') {
                    real = 1, k++;
                    while (k < len && isdigit((unsigned char)text[k])) k++;
                }
                if (k < len && (text[k] == 'e' || text[k] == 'E')) {
                    real = 1, k++;
                    if (k < len && (text[k] == '+' || text[k] == '-')) k++;
                    while (k < len && isdigit((unsigned char)text[k])) k++;
                }
                end = k;
                char num[64];
                size_t nl = end - i;
                if (nl >= sizeof num) tag = 1;
                else {
                    memcpy(num, text + i, nl);
                    num[nl] = 0;
                    errno = 0;
                    if (real) (void)strtod(num, NULL);
                    else (void)strtoll(num, NULL, 10);
                    tag = errno == ERANGE;
                }
            }
            if (tag) {
                qr_sb_puts(&b, "\"\\u0000qr:");
                qr_sb_putn(&b, (const char *)text + i, end - i);
                qr_sb_putc(&b, '"');
                i = end;
                continue;
            }
            if (end > i) {
                qr_sb_putn(&b, (const char *)text + i, end - i);
                i = end;
                continue;
            }
        }
        qr_sb_putc(&b, c);
        i++;
    }
    json_t *j = json_loadb(b.s ? b.s : "", b.len, JSON_ALLOW_NUL | JSON_DECODE_ANY, jerr);
    qr_sb_free(&b);
    return j;
}

PyVal *pv_from_json(QrArena *a, const json_t *j, QrErr *e) {
    switch (json_typeof(j)) {
    case JSON_NULL: return pv_new(a, PV_NONE);
    case JSON_TRUE:
    case JSON_FALSE: {
        PyVal *v = pv_new(a, PV_BOOL);
        if (v) v->u.i = json_is_true(j);
        return v;
    }
    case JSON_INTEGER: return pv_int(a, (int64_t)json_integer_value(j));
    case JSON_REAL: return pv_float(a, json_real_value(j));
    case JSON_STRING: {
        const char *s = json_string_value(j);
        size_t n = json_string_length(j);
        if (n > TAGLEN && !memcmp(s, TAG, TAGLEN)) {
            const char *t = s + TAGLEN;
            size_t tn = n - TAGLEN;
            if (strpbrk(t, ".eEIN")) return pv_parse_float(a, t, tn, e);
            return pv_parse_int(a, t, tn, e);
        }
        return pv_str(a, s, n);
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        PyVal *v = pv_container(a, PV_LIST, (uint32_t)n);
        if (!v) return NULL;
        for (size_t i = 0; i < n; i++)
            if (!(v->u.items[i] = pv_from_json(a, json_array_get(j, i), e))) return NULL;
        return v;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(j), i = 0;
        PyVal *v = pv_container(a, PV_DICT, (uint32_t)n);
        if (!v) return NULL;
        // jansson iterates objects in insertion order, as Python dicts do.
        for (void *it = json_object_iter((json_t *)j); it; it = json_object_iter_next((json_t *)j, it), i++) {
            const char *k = json_object_iter_key(it);
            if (!(v->u.items[2 * i] = pv_str(a, k, json_object_iter_key_len(it)))) return NULL;
            if (!(v->u.items[2 * i + 1] = pv_from_json(a, json_object_iter_value(it), e))) return NULL;
        }
        return v;
    }
    }
    qr_fail(e, "unexpected JSON value");
    return NULL;
}

json_t *pv_to_json(const PyVal *v) {
    QrSbuf b;
    switch (v->kind) {
    case PV_NONE: return json_null();
    case PV_BOOL: return json_boolean(v->u.i);
    case PV_INT:
        if (!v->big) return json_integer((json_int_t)v->u.i);
        break;
    case PV_FLOAT:
        if (isfinite(v->u.f)) return json_real(v->u.f);
        break;
    case PV_STR:
    case PV_BYTES: return json_stringn_nocheck(v->u.s, v->n);
    case PV_LIST:
    case PV_TUPLE:
    case PV_SET:
    case PV_FROZENSET: {
        json_t *arr = json_array();
        for (uint32_t i = 0; i < v->n; i++) json_array_append_new(arr, pv_to_json(v->u.items[i]));
        return arr;
    }
    case PV_DICT: {
        int all_str = 1;
        for (uint32_t i = 0; i < v->n; i++) all_str &= v->u.items[2 * i]->kind == PV_STR;
        json_t *o = all_str ? json_object() : json_array();
        for (uint32_t i = 0; i < v->n; i++) {
            const PyVal *k = v->u.items[2 * i], *x = v->u.items[2 * i + 1];
            if (all_str) json_object_setn_new_nocheck(o, k->u.s, k->n, pv_to_json(x));
            else json_array_append_new(o, json_pack("[oo]", pv_to_json(k), pv_to_json(x)));
        }
        return o;
    }
    default: break;
    }
    // Big ints, non-finite floats, complex numbers, opaque objects: their repr.
    qr_sb_init(&b);
    pv_repr(v, &b, 0);
    json_t *s = json_stringn_nocheck(b.s ? b.s : "", b.len);
    qr_sb_free(&b);
    return s;
}

// ---------------------------------------------------------------- marshal

static void put_i32(QrSbuf *b, int32_t v) {
    uint32_t u = (uint32_t)v;
    char t[4] = {(char)u, (char)(u >> 8), (char)(u >> 16), (char)(u >> 24)};
    qr_sb_putn(b, t, 4);
}

void pv_marshal_list_header(QrSbuf *b, uint32_t n) {
    qr_sb_putc(b, '[');
    put_i32(b, (int32_t)n);
}

int pv_marshal(const PyVal *v, QrSbuf *b) {
    switch (v->kind) {
    case PV_NONE: qr_sb_putc(b, 'N'); break;
    case PV_BOOL: qr_sb_putc(b, v->u.i ? 'T' : 'F'); break;
    case PV_INT: {
        if (!v->big && v->u.i >= INT32_MIN && v->u.i <= INT32_MAX) {
            qr_sb_putc(b, 'i');
            put_i32(b, (int32_t)v->u.i);
            break;
        }
        uint16_t small[5];
        const uint16_t *d = v->u.digits;
        size_t nd = v->n;
        int neg = v->neg;
        if (!v->big) {
            nd = mag_of_small(v->u.i, small);
            d = small;
            neg = v->u.i < 0;
        }
        qr_sb_putc(b, 'l');
        put_i32(b, neg ? -(int32_t)nd : (int32_t)nd);
        for (size_t i = 0; i < nd; i++) {
            unsigned char t[2] = {(unsigned char)d[i], (unsigned char)(d[i] >> 8)};
            qr_sb_putn(b, (const char *)t, 2);
        }
        break;
    }
    case PV_FLOAT:
        qr_sb_putc(b, 'g');
        qr_sb_putn(b, (const char *)&v->u.f, 8); // x86-64 is little-endian, as marshal's format
        break;
    case PV_COMPLEX:
        qr_sb_putc(b, 'y');
        qr_sb_putn(b, (const char *)v->u.c, 16);
        break;
    case PV_STR:
    case PV_BYTES:
        qr_sb_putc(b, v->kind == PV_STR ? 'u' : 's');
        put_i32(b, (int32_t)v->n);
        qr_sb_putn(b, (const char *)v->u.s, v->n);
        break;
    case PV_LIST:
    case PV_TUPLE:
    case PV_SET:
    case PV_FROZENSET:
        qr_sb_putc(b, v->kind == PV_LIST ? '[' : v->kind == PV_TUPLE ? '(' : v->kind == PV_SET ? '<' : '>');
        put_i32(b, (int32_t)v->n);
        for (uint32_t i = 0; i < v->n; i++) pv_marshal(v->u.items[i], b);
        break;
    case PV_DICT:
        qr_sb_putc(b, '{');
        for (uint32_t i = 0; i < 2 * v->n; i++) pv_marshal(v->u.items[i], b);
        qr_sb_putc(b, '0');
        break;
    case PV_OPAQUE: qr_sb_putc(b, 'S'); break;
    case PV_ELLIPSIS: qr_sb_putc(b, '.'); break;
    }
    return 0;
}

typedef struct {
    const unsigned char *p, *end;
    QrArena *a;
    QrErr *e;
} MReader;

#define MARSHAL_MAX_DEPTH 2000

static int rd_n(MReader *r, size_t n, const unsigned char **out) {
    if ((size_t)(r->end - r->p) < n) return qr_fail(r->e, "marshal data truncated");
    *out = r->p;
    r->p += n;
    return 0;
}

static int rd_i32(MReader *r, int32_t *v) {
    const unsigned char *q = NULL;
    if (rd_n(r, 4, &q)) return -1;
    *v = (int32_t)((uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24);
    return 0;
}

static PyVal *m_read(MReader *r, int depth) {
    const unsigned char *q = NULL;
    if (depth > MARSHAL_MAX_DEPTH) {
        qr_fail(r->e, "marshal data nested deeper than %d", MARSHAL_MAX_DEPTH);
        return NULL;
    }
    if (rd_n(r, 1, &q)) return NULL;
    int code = q[0];
    if (code & 0x80) { // FLAG_REF: version >= 3 only; the worker writes version 2
        qr_fail(r->e, "marshal back-references are not supported (expected version 2 data)");
        return NULL;
    }
    int32_t n32;
    switch (code) {
    case 'N': return pv_new(r->a, PV_NONE);
    case 'T':
    case 'F': {
        PyVal *v = pv_new(r->a, PV_BOOL);
        if (v) v->u.i = code == 'T';
        return v;
    }
    case 'S': return pv_new(r->a, PV_OPAQUE);
    case '.': return pv_new(r->a, PV_ELLIPSIS);
    case 'i': return rd_i32(r, &n32) ? NULL : pv_int(r->a, n32);
    case 'l': {
        if (rd_i32(r, &n32)) return NULL;
        int neg = n32 < 0;
        size_t nd = neg ? (size_t)(-(int64_t)n32) : (size_t)n32;
        if (nd > (size_t)(r->end - r->p) / 2) {
            qr_fail(r->e, "marshal data truncated");
            return NULL;
        }
        uint16_t *d = malloc((nd ? nd : 1) * sizeof *d);
        if (!d) return NULL;
        for (size_t i = 0; i < nd; i++) {
            d[i] = (uint16_t)(r->p[0] | r->p[1] << 8);
            r->p += 2;
            if (d[i] > 0x7fff) {
                free(d);
                qr_fail(r->e, "marshal: bad digit in long");
                return NULL;
            }
        }
        PyVal *v = int_from_mag(r->a, d, nd, neg);
        free(d);
        return v;
    }
    case 'g': {
        if (rd_n(r, 8, &q)) return NULL;
        double f;
        memcpy(&f, q, 8);
        return pv_float(r->a, f);
    }
    case 'y': {
        if (rd_n(r, 16, &q)) return NULL;
        PyVal *v = pv_new(r->a, PV_COMPLEX);
        if (v) memcpy(v->u.c, q, 16);
        return v;
    }
    case 'u':
    case 't':
    case 'a':
    case 'A':
    case 's':
    case 'z':
    case 'Z': {
        size_t n;
        if (code == 'z' || code == 'Z') {
            if (rd_n(r, 1, &q)) return NULL;
            n = q[0];
        } else {
            if (rd_i32(r, &n32)) return NULL;
            if (n32 < 0) {
                qr_fail(r->e, "marshal: negative length");
                return NULL;
            }
            n = (size_t)n32;
        }
        if (rd_n(r, n, &q)) return NULL;
        PyVal *v = pv_str(r->a, (const char *)q, n);
        if (v && code == 's') v->kind = PV_BYTES;
        return v;
    }
    case '(':
    case ')':
    case '[':
    case '<':
    case '>': {
        size_t n;
        if (code == ')') {
            if (rd_n(r, 1, &q)) return NULL;
            n = q[0];
        } else {
            if (rd_i32(r, &n32)) return NULL;
            if (n32 < 0) {
                qr_fail(r->e, "marshal: negative length");
                return NULL;
            }
            n = (size_t)n32;
        }
        if (n > (size_t)(r->end - r->p)) { // each item takes at least one byte
            qr_fail(r->e, "marshal data truncated");
            return NULL;
        }
        PvKind k = code == '[' ? PV_LIST : code == '<' ? PV_SET : code == '>' ? PV_FROZENSET : PV_TUPLE;
        PyVal *v = pv_container(r->a, k, (uint32_t)n);
        if (!v) return NULL;
        for (size_t i = 0; i < n; i++)
            if (!(v->u.items[i] = m_read(r, depth + 1))) return NULL;
        return v;
    }
    case '{': {
        size_t cap = 8, n = 0;
        PyVal **items = malloc(cap * sizeof *items);
        if (!items) return NULL;
        for (;;) {
            if (r->p >= r->end) {
                free(items);
                qr_fail(r->e, "marshal data truncated");
                return NULL;
            }
            if (*r->p == '0') {
                r->p++;
                break;
            }
            if (n + 2 > cap) {
                cap *= 2;
                PyVal **ni = realloc(items, cap * sizeof *ni);
                if (!ni) {
                    free(items);
                    return NULL;
                }
                items = ni;
            }
            PyVal *k = m_read(r, depth + 1);
            PyVal *x = k ? m_read(r, depth + 1) : NULL;
            if (!x) {
                free(items);
                return NULL;
            }
            items[n++] = k;
            items[n++] = x;
        }
        PyVal *v = pv_container(r->a, PV_DICT, (uint32_t)(n / 2));
        if (v) memcpy(v->u.items, items, n * sizeof *items);
        free(items);
        return v;
    }
    }
    qr_fail(r->e, "marshal: unsupported type code 0x%02x", code);
    return NULL;
}

PyVal *pv_unmarshal(QrArena *a, const void *p, size_t n, size_t *used, QrErr *e) {
    MReader r = {p, (const unsigned char *)p + n, a, e};
    PyVal *v = m_read(&r, 0);
    if (v && used) *used = (size_t)(r.p - (const unsigned char *)p);
    if (!v && e && !e->msg[0]) qr_fail(e, "marshal: out of memory");
    return v;
}

// ---------------------------------------------------------------- equality

int pv_is_number(const PyVal *v) {
    return v->kind == PV_BOOL || v->kind == PV_INT || v->kind == PV_FLOAT || v->kind == PV_COMPLEX;
}

// Compares magnitudes; returns 1 when equal.
static int mag_eq(const uint16_t *a, size_t na, const uint16_t *b, size_t nb) {
    while (na && a[na - 1] == 0) na--;
    while (nb && b[nb - 1] == 0) nb--;
    return na == nb && !memcmp(a, b, na * sizeof *a);
}

// An integral-valued int (bool / small / big) == a double, exactly (Python
// compares int and float without rounding).
static int int_eq_double(const PyVal *iv, double f) {
    if (!isfinite(f) || f != trunc(f)) return 0;
    if (!iv->big) {
        if (f < -9223372036854775808.0 || f >= 9223372036854775808.0) return 0;
        return (int64_t)f == iv->u.i;
    }
    if ((f < 0) != (iv->neg != 0)) return 0;
    size_t nd;
    uint16_t *d = mag_of_double(f, &nd);
    if (!d) return 0;
    int eq = mag_eq(d, nd, iv->u.digits, iv->n);
    free(d);
    return eq;
}

static int num_eq(const PyVal *a, const PyVal *b) {
    if (a->kind == PV_COMPLEX || b->kind == PV_COMPLEX) {
        if (a->kind != PV_COMPLEX) {
            const PyVal *t = a;
            a = b, b = t;
        }
        if (b->kind == PV_COMPLEX) return a->u.c[0] == b->u.c[0] && a->u.c[1] == b->u.c[1];
        if (a->u.c[1] != 0) return 0;
        if (b->kind == PV_FLOAT) return a->u.c[0] == b->u.f;
        return int_eq_double(b, a->u.c[0]);
    }
    if (a->kind == PV_FLOAT || b->kind == PV_FLOAT) {
        if (a->kind != PV_FLOAT) {
            const PyVal *t = a;
            a = b, b = t;
        }
        if (b->kind == PV_FLOAT) return a->u.f == b->u.f;
        return int_eq_double(b, a->u.f);
    }
    // both bool/int
    if (a->big != b->big) return 0;
    if (!a->big) return a->u.i == b->u.i;
    return a->neg == b->neg && mag_eq(a->u.digits, a->n, b->u.digits, b->n);
}

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(const void *p, size_t n, uint64_t seed) {
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
    return mix64(h);
}

static uint64_t hash_mag(const uint16_t *d, size_t n, int neg) {
    while (n && d[n - 1] == 0) n--;
    return hash_bytes(d, n * sizeof *d, neg ? 7 : 5);
}

static uint64_t hash_real(double f) {
    if (isfinite(f) && f == trunc(f)) {
        if (f >= -9223372036854775808.0 && f < 9223372036854775808.0) return mix64((uint64_t)(int64_t)f);
        size_t nd;
        uint16_t *d = mag_of_double(f, &nd);
        uint64_t h = d ? hash_mag(d, nd, f < 0) : 0;
        free(d);
        return h;
    }
    uint64_t bits;
    memcpy(&bits, &f, 8);
    return mix64(bits ^ 0x9e3779b97f4a7c15ULL);
}

// A hash that agrees with pv_equal for hashable values (equal => same hash).
static uint64_t pv_hash(const PyVal *v) {
    switch (v->kind) {
    case PV_NONE: return 0x1234;
    case PV_ELLIPSIS: return 0x4321;
    case PV_BOOL: return mix64((uint64_t)v->u.i);
    case PV_INT: return v->big ? hash_mag(v->u.digits, v->n, v->neg) : mix64((uint64_t)v->u.i);
    case PV_FLOAT: return hash_real(v->u.f);
    case PV_COMPLEX: return v->u.c[1] == 0 ? hash_real(v->u.c[0]) : hash_real(v->u.c[0]) * 31 + hash_real(v->u.c[1]);
    case PV_STR: return hash_bytes(v->u.s, v->n, 1);
    case PV_BYTES: return hash_bytes(v->u.s, v->n, 2);
    case PV_TUPLE: {
        uint64_t h = 0x345678;
        for (uint32_t i = 0; i < v->n; i++) h = mix64(h * 1000003 ^ pv_hash(v->u.items[i]));
        return h;
    }
    case PV_SET:
    case PV_FROZENSET: {
        uint64_t h = 0x777;
        for (uint32_t i = 0; i < v->n; i++) h += pv_hash(v->u.items[i]);
        return mix64(h);
    }
    default: return (uint64_t)(uintptr_t)v; // unhashable or opaque: equal only to itself
    }
}

// Python's hash() would raise for these (lists, dicts, sets, and tuples holding them).
static int pv_hashable(const PyVal *v) {
    if (v->kind == PV_LIST || v->kind == PV_DICT || v->kind == PV_SET) return 0;
    if (v->kind == PV_TUPLE)
        for (uint32_t i = 0; i < v->n; i++)
            if (!pv_hashable(v->u.items[i])) return 0;
    return 1;
}

typedef struct {
    uint64_t h;
    const PyVal *v;
    const PyVal *val; // dict value (NULL for sets)
    int used;
} HItem;

static int hitem_cmp(const void *x, const void *y) {
    const HItem *a = x, *b = y;
    return a->h < b->h ? -1 : a->h > b->h;
}

// Builds a deduplicated, hash-sorted item table from n elements (and, for
// dicts, values: later duplicates win, as in Python's dict()). Returns the
// unique count, or -1 on out of memory.
static long unique_table(const PyVal *const *els, const PyVal *const *vals, size_t n, HItem **out) {
    HItem *t = malloc((n ? n : 1) * sizeof *t);
    if (!t) return -1;
    for (size_t i = 0; i < n; i++) t[i] = (HItem){pv_hash(els[i]), els[i], vals ? vals[i] : NULL, 0};
    qsort(t, n, sizeof *t, hitem_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int dup = 0;
        for (size_t k = m; k-- > 0 && t[k].h == t[i].h;)
            if (pv_equal(t[k].v, t[i].v)) {
                dup = 1;
                // qsort is not stable, so which duplicate "wins" is not
                // defined here; dict keys from Python are unique anyway.
                break;
            }
        if (!dup) t[m++] = t[i];
    }
    *out = t;
    return (long)m;
}

// Set / dict equality over unique tables: every item of a has an equal,
// not yet matched item of b (with an equal value for dicts).
static int tables_equal(HItem *ta, long na, HItem *tb, long nb, int dict) {
    if (na != nb) return 0;
    for (long i = 0; i < na; i++) {
        // first index in tb with hash >= ta[i].h
        long lo = 0, hi = nb;
        while (lo < hi) {
            long mid = (lo + hi) / 2;
            if (tb[mid].h < ta[i].h) lo = mid + 1;
            else hi = mid;
        }
        int found = 0;
        for (long k = lo; k < nb && tb[k].h == ta[i].h; k++) {
            if (tb[k].used || !pv_equal(ta[i].v, tb[k].v)) continue;
            if (dict && !pv_equal(ta[i].val, tb[k].val)) return 0;
            tb[k].used = 1;
            found = 1;
            break;
        }
        if (!found) return 0;
    }
    return 1;
}

static int collection_equal(const PyVal *a, const PyVal *b, int dict) {
    size_t step = dict ? 2 : 1;
    const PyVal **ka = malloc((a->n + 1) * sizeof *ka), **kb = malloc((b->n + 1) * sizeof *kb);
    const PyVal **va = dict ? malloc((a->n + 1) * sizeof *va) : NULL, **vb = dict ? malloc((b->n + 1) * sizeof *vb) : NULL;
    HItem *ta = NULL, *tb = NULL;
    int eq = 0;
    if (!ka || !kb || (dict && (!va || !vb))) goto done;
    for (uint32_t i = 0; i < a->n; i++) {
        ka[i] = a->u.items[i * step];
        if (dict) va[i] = a->u.items[i * 2 + 1];
    }
    for (uint32_t i = 0; i < b->n; i++) {
        kb[i] = b->u.items[i * step];
        if (dict) vb[i] = b->u.items[i * 2 + 1];
    }
    long na = unique_table(ka, va, a->n, &ta);
    long nb = unique_table(kb, vb, b->n, &tb);
    if (na >= 0 && nb >= 0) eq = tables_equal(ta, na, tb, nb, dict);
done:
    free(ka), free(kb), free(va), free(vb), free(ta), free(tb);
    return eq;
}

int pv_equal(const PyVal *a, const PyVal *b) {
    if (pv_is_number(a) && pv_is_number(b)) return num_eq(a, b);
    int sa = a->kind == PV_SET || a->kind == PV_FROZENSET, sb = b->kind == PV_SET || b->kind == PV_FROZENSET;
    if (sa && sb) return collection_equal(a, b, 0);
    if (a->kind != b->kind) return 0;
    switch (a->kind) {
    case PV_NONE:
    case PV_ELLIPSIS: return 1;
    case PV_STR:
    case PV_BYTES: return a->n == b->n && !memcmp(a->u.s, b->u.s, a->n);
    case PV_LIST:
    case PV_TUPLE:
        if (a->n != b->n) return 0;
        for (uint32_t i = 0; i < a->n; i++)
            if (!pv_equal(a->u.items[i], b->u.items[i])) return 0;
        return 1;
    case PV_DICT: return a->n == b->n && collection_equal(a, b, 1);
    default: return 0; // PV_OPAQUE
    }
}

// The elements Python's iter(v) yields, for set(v): containers' items, dict
// keys, the characters of a string, the ints of a bytes object. NULL when
// iter() would raise.
static const PyVal **iter_items(QrArena *tmp, const PyVal *v, size_t *n) {
    const PyVal **it;
    switch (v->kind) {
    case PV_LIST:
    case PV_TUPLE:
    case PV_SET:
    case PV_FROZENSET:
    case PV_DICT: {
        size_t step = v->kind == PV_DICT ? 2 : 1;
        it = qr_arena_alloc(tmp, (v->n + 1) * sizeof *it);
        if (!it) return NULL;
        for (uint32_t i = 0; i < v->n; i++) it[i] = v->u.items[i * step];
        *n = v->n;
        return it;
    }
    case PV_STR: {
        it = qr_arena_alloc(tmp, (v->n + 1) * sizeof *it);
        if (!it) return NULL;
        size_t k = 0;
        for (uint32_t i = 0; i < v->n;) { // one UTF-8 sequence per character
            uint32_t len = 1;
            unsigned char c = (unsigned char)v->u.s[i];
            if (c >= 0xf0) len = 4;
            else if (c >= 0xe0) len = 3;
            else if (c >= 0xc0) len = 2;
            if (i + len > v->n) len = v->n - i;
            if (!(it[k++] = pv_str(tmp, v->u.s + i, len))) return NULL;
            i += len;
        }
        *n = k;
        return it;
    }
    case PV_BYTES: {
        it = qr_arena_alloc(tmp, (v->n + 1) * sizeof *it);
        if (!it) return NULL;
        for (uint32_t i = 0; i < v->n; i++)
            if (!(it[i] = pv_int(tmp, (unsigned char)v->u.s[i]))) return NULL;
        *n = v->n;
        return it;
    }
    default: return NULL;
    }
}

int pv_set_of_equal(const PyVal *a, const PyVal *b) {
    QrArena tmp;
    qr_arena_init(&tmp, 0);
    size_t na = 0, nb = 0;
    const PyVal **ia = iter_items(&tmp, a, &na), **ib = iter_items(&tmp, b, &nb);
    int r = -1;
    if (ia && ib) {
        r = 0;
        for (size_t i = 0; i < na; i++)
            if (!pv_hashable(ia[i])) r = -1;
        for (size_t i = 0; i < nb; i++)
            if (!pv_hashable(ib[i])) r = -1;
        if (r == 0) {
            HItem *ta = NULL, *tb = NULL;
            long ua = unique_table(ia, NULL, na, &ta), ub = unique_table(ib, NULL, nb, &tb);
            r = ua >= 0 && ub >= 0 ? tables_equal(ta, ua, tb, ub, 0) : -1;
            free(ta), free(tb);
        }
    }
    qr_arena_free(&tmp);
    return r;
}

int pv_is_floats(const PyVal *v) {
    if (v->kind == PV_FLOAT) return 1;
    if ((v->kind == PV_LIST || v->kind == PV_TUPLE) && v->n) {
        for (uint32_t i = 0; i < v->n; i++)
            if (v->u.items[i]->kind != PV_FLOAT) return 0;
        return 1;
    }
    return 0;
}

int pv_to_double(const PyVal *v, double *out) {
    switch (v->kind) {
    case PV_BOOL: *out = (double)v->u.i; return 0;
    case PV_FLOAT: *out = v->u.f; return 0;
    case PV_INT:
        if (!v->big) {
            *out = (double)v->u.i;
            return 0;
        }
        {
            double d = 0;
            for (size_t i = v->n; i-- > 0;) d = d * 32768.0 + v->u.digits[i];
            if (!isfinite(d)) return -1; // Python: OverflowError
            *out = v->neg ? -d : d;
            return 0;
        }
    default: return -1;
    }
}

// ---------------------------------------------------------------- allclose

#define NDMAX 32
typedef struct {
    int nd;
    size_t shape[NDMAX];
    size_t len;   // product of shape
    double *re, *im; // flat, row-major
    int cplx;
} NdArr;

// numpy.asarray() of nested lists/tuples of numbers: nd_from takes the shape
// from the first element at each level and nd_fill checks that every sub-list
// agrees. -1 where numpy would build an object / string array (on which
// isclose raises) or reject ragged nesting.
static int nd_fill(const PyVal *v, NdArr *x, int depth, size_t *pos) {
    if (depth == x->nd) {
        if (!pv_is_number(v) || (v->kind == PV_INT && v->big)) return -1; // big: object dtype
        double re = 0, im = 0;
        if (v->kind == PV_COMPLEX) re = v->u.c[0], im = v->u.c[1];
        else if (pv_to_double(v, &re)) return -1;
        x->re[*pos] = re;
        x->im[*pos] = im;
        (*pos)++;
        return 0;
    }
    if ((v->kind != PV_LIST && v->kind != PV_TUPLE) || v->n != x->shape[depth]) return -1;
    for (uint32_t i = 0; i < v->n; i++)
        if (nd_fill(v->u.items[i], x, depth + 1, pos)) return -1;
    return 0;
}

static int nd_from(const PyVal *v, NdArr *x) {
    memset(x, 0, sizeof *x);
    const PyVal *c = v;
    while (c->kind == PV_LIST || c->kind == PV_TUPLE) {
        if (x->nd >= NDMAX) return -1;
        x->shape[x->nd++] = c->n;
        if (c->n == 0) break;
        c = c->u.items[0];
    }
    if (c->kind != PV_LIST && c->kind != PV_TUPLE && !pv_is_number(c)) return -1;
    x->len = 1;
    for (int i = 0; i < x->nd; i++) x->len *= x->shape[i];
    x->re = malloc((x->len + 1) * sizeof(double));
    x->im = malloc((x->len + 1) * sizeof(double));
    if (!x->re || !x->im) return -1;
    size_t pos = 0;
    if (nd_fill(v, x, 0, &pos)) return -1;
    for (size_t i = 0; i < x->len && !x->cplx; i++) x->cplx = x->im[i] != 0;
    return 0;
}

static int isclose1(double xr, double xi, double yr, double yi, double rtol, double atol) {
    int xf = isfinite(xr) && isfinite(xi), yf = isfinite(yr) && isfinite(yi);
    if (xf && yf) return hypot(xr - yr, xi - yi) <= atol + rtol * hypot(yr, yi);
    return xr == yr && xi == yi; // infinities equal only to themselves; nan never
}

int pv_allclose(const PyVal *a, const PyVal *b, double rtol, double atol) {
    NdArr x, y;
    memset(&x, 0, sizeof x);
    memset(&y, 0, sizeof y);
    int r = -1;
    if (nd_from(a, &x) || nd_from(b, &y)) goto done;
    // numpy broadcasting: align shapes from the right; sizes equal or 1.
    int nd = x.nd > y.nd ? x.nd : y.nd;
    size_t shape[NDMAX], sx[NDMAX], sy[NDMAX], total = 1;
    for (int i = 0; i < nd; i++) {
        int ix = i - (nd - x.nd), iy = i - (nd - y.nd);
        size_t dx = ix >= 0 ? x.shape[ix] : 1, dy = iy >= 0 ? y.shape[iy] : 1;
        if (dx != dy && dx != 1 && dy != 1) goto done;
        shape[i] = dx == 1 ? dy : dx;
        total *= shape[i];
    }
    // row-major strides, 0 for broadcast dimensions
    size_t st = 1;
    for (int i = nd; i-- > 0;) {
        int ix = i - (nd - x.nd);
        size_t dx = ix >= 0 ? x.shape[ix] : 1;
        sx[i] = dx == 1 ? 0 : st;
        st *= dx;
    }
    st = 1;
    for (int i = nd; i-- > 0;) {
        int iy = i - (nd - y.nd);
        size_t dy = iy >= 0 ? y.shape[iy] : 1;
        sy[i] = dy == 1 ? 0 : st;
        st *= dy;
    }
    r = 1;
    size_t idx[NDMAX] = {0};
    for (size_t k = 0; k < total && r; k++) {
        size_t ox = 0, oy = 0;
        for (int i = 0; i < nd; i++) ox += idx[i] * sx[i], oy += idx[i] * sy[i];
        if (!isclose1(x.re[ox], x.im[ox], y.re[oy], y.im[oy], rtol, atol)) r = 0;
        for (int i = nd; i-- > 0;) {
            if (++idx[i] < shape[i]) break;
            idx[i] = 0;
        }
    }
done:
    free(x.re), free(x.im), free(y.re), free(y.im);
    return r;
}

// ---------------------------------------------------------------- repr

static void str_repr(const char *s, size_t n, QrSbuf *b, int bytes) {
    int has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
    char quote = has_sq && !has_dq ? '"' : '\'';
    if (bytes) qr_sb_putc(b, 'b');
    qr_sb_putc(b, quote);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == (unsigned char)quote || c == '\\') qr_sb_putc(b, '\\'), qr_sb_putc(b, (char)c);
        else if (c == '\n') qr_sb_puts(b, "\\n");
        else if (c == '\r') qr_sb_puts(b, "\\r");
        else if (c == '\t') qr_sb_puts(b, "\\t");
        else if (c < 0x20 || c == 0x7f || (bytes && c >= 0x80)) qr_sb_printf(b, "\\x%02x", c);
        else qr_sb_putc(b, (char)c);
    }
    qr_sb_putc(b, quote);
}

static void repr_rec(const PyVal *v, QrSbuf *b, size_t limit) {
    if (limit && b->len > limit) return;
    switch (v->kind) {
    case PV_NONE: qr_sb_puts(b, "None"); break;
    case PV_ELLIPSIS: qr_sb_puts(b, "Ellipsis"); break;
    case PV_OPAQUE: qr_sb_puts(b, "<object of a non-builtin type>"); break;
    case PV_BOOL: qr_sb_puts(b, v->u.i ? "True" : "False"); break;
    case PV_INT: pv_int_decimal(v, b); break;
    case PV_FLOAT: qr_sb_put_pyfloat(b, v->u.f, 1); break;
    case PV_COMPLEX:
        if (v->u.c[0] == 0 && !signbit(v->u.c[0])) {
            qr_sb_put_pyfloat(b, v->u.c[1], 0);
            qr_sb_putc(b, 'j');
        } else {
            qr_sb_putc(b, '(');
            qr_sb_put_pyfloat(b, v->u.c[0], 0);
            if (!(v->u.c[1] < 0 || (v->u.c[1] == 0 && signbit(v->u.c[1]))) && !isnan(v->u.c[1]))
                qr_sb_putc(b, '+');
            qr_sb_put_pyfloat(b, v->u.c[1], 0);
            qr_sb_puts(b, "j)");
        }
        break;
    case PV_STR: str_repr(v->u.s, v->n, b, 0); break;
    case PV_BYTES: str_repr(v->u.s, v->n, b, 1); break;
    case PV_LIST:
    case PV_TUPLE:
    case PV_SET:
    case PV_FROZENSET: {
        if ((v->kind == PV_SET || v->kind == PV_FROZENSET) && v->n == 0) {
            qr_sb_puts(b, v->kind == PV_SET ? "set()" : "frozenset()");
            break;
        }
        const char *open = v->kind == PV_LIST ? "[" : v->kind == PV_TUPLE ? "(" : v->kind == PV_SET ? "{" : "frozenset({";
        const char *close = v->kind == PV_LIST ? "]" : v->kind == PV_TUPLE ? ")" : v->kind == PV_SET ? "}" : "})";
        qr_sb_puts(b, open);
        for (uint32_t i = 0; i < v->n; i++) {
            if (i) qr_sb_puts(b, ", ");
            if (limit && b->len > limit) break;
            repr_rec(v->u.items[i], b, limit);
        }
        if (v->kind == PV_TUPLE && v->n == 1) qr_sb_putc(b, ',');
        qr_sb_puts(b, close);
        break;
    }
    case PV_DICT:
        qr_sb_putc(b, '{');
        for (uint32_t i = 0; i < v->n; i++) {
            if (i) qr_sb_puts(b, ", ");
            if (limit && b->len > limit) break;
            repr_rec(v->u.items[2 * i], b, limit);
            qr_sb_puts(b, ": ");
            repr_rec(v->u.items[2 * i + 1], b, limit);
        }
        qr_sb_putc(b, '}');
        break;
    }
}

void pv_repr(const PyVal *v, QrSbuf *b, size_t max_bytes) {
    size_t start = b->len;
    repr_rec(v, b, max_bytes ? start + max_bytes : 0);
    if (max_bytes && b->len > start + max_bytes) {
        b->len = start + max_bytes;
        // do not cut a UTF-8 sequence in half
        while (b->len > start && ((unsigned char)b->s[b->len] & 0xc0) == 0x80) b->len--;
        b->s[b->len] = 0;
        qr_sb_puts(b, "...");
    }
}
