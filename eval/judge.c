#include "eval/judge.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

QrOracle qr_oracle_for(QrDatasetKind kind, const char *ep) {
    if (kind == QR_DS_HUMANEVAL_PLUS) return !strcmp(ep, "find_zero") ? QR_ORACLE_FIND_ZERO : QR_ORACLE_NONE;
    if (kind != QR_DS_MBPP_PLUS && kind != QR_DS_MBPP_PLUS_V010) return QR_ORACLE_NONE;
    // evalplus/eval/_special_oracle.py: MBPP_OUTPUT_SET_EQ_TASKS, MBPP_OUTPUT_NOT_NONE_TASKS
    static const char *set_eq[] = {"similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
                                   "larg_nnum",        "intersection_array", "find_dissimilar",    "Diff"};
    static const char *not_none[] = {"check_str", "text_match_three", "text_starta_endb"};
    if (!strcmp(ep, "are_equivalent")) return QR_ORACLE_ANY;
    if (!strcmp(ep, "sum_div")) return QR_ORACLE_SUM_DIV;
    if (!strcmp(ep, "surface_Area")) return QR_ORACLE_SURFACE_AREA;
    if (!strcmp(ep, "digit_distance_nums")) return QR_ORACLE_DIGIT_DISTANCE;
    for (size_t i = 0; i < sizeof set_eq / sizeof *set_eq; i++)
        if (!strcmp(ep, set_eq[i])) return QR_ORACLE_SET_EQ;
    for (size_t i = 0; i < sizeof not_none / sizeof *not_none; i++)
        if (!strcmp(ep, not_none[i])) return QR_ORACLE_NOT_NONE;
    return QR_ORACLE_NONE;
}

int qr_has_nan(const PyVal *v) {
    switch (v->kind) {
    case PV_FLOAT: return isnan(v->u.f);
    case PV_COMPLEX: return isnan(v->u.c[0]) || isnan(v->u.c[1]);
    case PV_LIST:
    case PV_TUPLE:
    case PV_SET:
    case PV_FROZENSET:
        for (uint32_t i = 0; i < v->n; i++)
            if (qr_has_nan(v->u.items[i])) return 1;
        return 0;
    case PV_DICT:
        for (uint32_t i = 0; i < 2 * v->n; i++)
            if (qr_has_nan(v->u.items[i])) return 1;
        return 0;
    default: return 0;
    }
}

int qr_judge_needs_values(QrOracle o, int exp_has_nan) {
    return exp_has_nan || o == QR_ORACLE_SET_EQ || o == QR_ORACLE_FIND_ZERO;
}

static const PyVal *arg(const PyVal *inp, uint32_t i) {
    if (!inp || (inp->kind != PV_LIST && inp->kind != PV_TUPLE) || i >= inp->n) return NULL;
    return inp->u.items[i];
}

// Python's round(x) for a float: nearest integer, ties to even.
static double py_round(double x) { return nearbyint(x); }

// _surface_Area(base_edge, height) of evalplus/eval/_special_oracle.py:
//   slant = sqrt((b / 2) ** 2 + h ** 2); total = b ** 2 + 4 * (b * slant) / 2
//   return round(total)
// with Python's arithmetic (b / 2 is true division; int ** 2 stays an int
// until it meets a float). -1 where Python would raise.
static int surface_area(const PyVal *inp, double *out) {
    const PyVal *b = arg(inp, 0), *h = arg(inp, 1);
    double bd, hd;
    if (!b || !h || pv_to_double(b, &bd) || pv_to_double(h, &hd)) return -1;
    double half = bd / 2.0;
    double h2 = hd * hd; // exact for the small ints of the data; Python converts int h**2 to float here
    if (h->kind != PV_FLOAT && !h->big) h2 = (double)((__int128)h->u.i * h->u.i);
    double slant = sqrt(half * half + h2);
    double base_area = b->kind != PV_FLOAT && !b->big ? (double)((__int128)b->u.i * b->u.i) : bd * bd;
    double total = base_area + 4.0 * (bd * slant) / 2.0;
    if (!isfinite(total)) return -1; // round() of inf/nan raises
    *out = py_round(total);
    return 0;
}

// _digit_distance_nums(n1, n2): zero-pad the decimal strings to the same
// length and sum |digit differences|. str() of a negative number holds '-',
// and int('-') raises, so only non-negative ints have an oracle value.
static int digit_distance(const PyVal *inp, int64_t *out) {
    const PyVal *a = arg(inp, 0), *b = arg(inp, 1);
    if (!a || !b || a->kind != PV_INT || b->kind != PV_INT) return -1;
    QrSbuf sa, sb;
    qr_sb_init(&sa);
    qr_sb_init(&sb);
    pv_int_decimal(a, &sa);
    pv_int_decimal(b, &sb);
    int rc = -1;
    if (sa.s[0] != '-' && sb.s[0] != '-') {
        size_t n = sa.len > sb.len ? sa.len : sb.len;
        int64_t sum = 0;
        for (size_t i = 0; i < n; i++) {
            int da = i + sa.len >= n ? sa.s[i + sa.len - n] - '0' : 0;
            int db = i + sb.len >= n ? sb.s[i + sb.len - n] - '0' : 0;
            sum += abs(da - db);
        }
        *out = sum;
        rc = 0;
    }
    qr_sb_free(&sa);
    qr_sb_free(&sb);
    return rc;
}

// abs(_poly(xs, x)) where _poly = sum([c * math.pow(x, i) for i, c in enumerate(xs)]).
// Python 3.11's sum() adds floats left to right in double precision (3.12
// switched to compensated summation; EvalPlus's reference ran on 3.11 here).
// -1 where Python would raise (non-real x, OverflowError from math.pow or
// from converting a huge int coefficient).
static int poly_abs(const PyVal *xs, const PyVal *x, double *out) {
    double xv;
    if (!xs || (xs->kind != PV_LIST && xs->kind != PV_TUPLE) || pv_to_double(x, &xv)) return -1;
    double sum = 0.0;
    for (uint32_t i = 0; i < xs->n; i++) {
        double c, p = pow(xv, (double)i);
        if (isinf(p) && isfinite(xv)) return -1; // math.pow: OverflowError
        const PyVal *ci = xs->u.items[i];
        if (ci->kind == PV_COMPLEX) return -1; // complex * float is complex: abs works, but the data never has it
        if (pv_to_double(ci, &c)) return -1;
        sum += c * p;
    }
    *out = fabs(sum);
    return 0;
}

static void set_why(char *why, size_t n, const char *fmt, const PyVal *a, const PyVal *b) {
    if (!why || !n) return;
    QrSbuf ra, rb;
    qr_sb_init(&ra);
    qr_sb_init(&rb);
    if (a) pv_repr(a, &ra, 80);
    if (b) pv_repr(b, &rb, 80);
    snprintf(why, n, fmt, ra.s ? ra.s : "", rb.s ? rb.s : "");
    qr_sb_free(&ra);
    qr_sb_free(&rb);
}

int qr_judge(QrOracle o, const PyVal *inp, const PyVal *out, const PyVal *exp, double *atol, char *why, size_t why_len) {
    if (why && why_len) why[0] = 0;
    int exact = pv_equal(out, exp);
    switch (o) {
    case QR_ORACLE_ANY: exact = 1; break;
    case QR_ORACLE_SUM_DIV: {
        PyVal zero = {.kind = PV_INT};
        exact = exact || pv_equal(out, &zero);
        break;
    }
    case QR_ORACLE_SURFACE_AREA:
        if (!exact) {
            double want, got;
            if (surface_area(inp, &want) || pv_to_double(out, &got)) {
                set_why(why, why_len, "surface_Area oracle raised for output %s%s", out, NULL);
                return 0;
            }
            exact = fabs(got - want) <= *atol;
        }
        break;
    case QR_ORACLE_DIGIT_DISTANCE:
        if (!exact) {
            int64_t want;
            if (digit_distance(inp, &want)) {
                set_why(why, why_len, "digit_distance_nums oracle raised (output %s)%s", out, NULL);
                return 0;
            }
            PyVal w = {.kind = PV_INT, .u.i = want};
            exact = pv_equal(out, &w);
        }
        break;
    case QR_ORACLE_SET_EQ: {
        int r = pv_set_of_equal(out, exp);
        if (r < 0) {
            set_why(why, why_len, "set() of the output %s raised%s", out, NULL);
            return 0;
        }
        exact = r;
        break;
    }
    case QR_ORACLE_NOT_NONE:
        if (out->kind == PV_BOOL) exact = pv_equal(out, exp);
        else {
            PyVal nn = {.kind = PV_BOOL, .u.i = out->kind != PV_NONE};
            exact = pv_equal(exp, &nn);
        }
        break;
    case QR_ORACLE_FIND_ZERO: {
        double v;
        if (poly_abs(arg(inp, 0), out, &v)) {
            set_why(why, why_len, "poly(xs, %s) raised%s", out, NULL);
            return 0;
        }
        if (!(v <= *atol)) {
            if (why && why_len) snprintf(why, why_len, "|poly(xs, x)| = %.3g > %g", v, *atol);
            return 0;
        }
        return 1; // EvalPlus `continue`s here: no exact / atol check for find_zero
    }
    case QR_ORACLE_NONE: break;
    }
    if (*atol == 0 && pv_is_floats(exp)) *atol = 1e-6;
    if (!exact && *atol != 0) {
        int same_type = out->kind == exp->kind;
        if (!same_type || ((exp->kind == PV_LIST || exp->kind == PV_TUPLE) && out->n != exp->n) ||
            pv_allclose(out, exp, 1e-7, *atol) != 1) {
            set_why(why, why_len, "expected %s (within atol), got %s", exp, out);
            return 0;
        }
        return 1;
    }
    if (!exact) set_why(why, why_len, "expected %s, got %s", exp, out);
    return exact;
}
