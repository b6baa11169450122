// Python values in C: the test inputs of the benchmarks and the outputs that
// generated code returns, as a tree of builtin-typed nodes.
//
// Why: qrobust compares a sample's outputs with the canonical solution's
// OUTSIDE the process that ran the sample (so an object whose __eq__ always
// returns True, or a patched checker, cannot fake a pass). Values cross the
// process boundary in CPython's `marshal` format, version 2 (no back-references,
// no interning; documented in CPython's Python/marshal.c), which python3 reads
// and writes in C at memory speed and which only admits exact builtin types.
//
// Equality follows Python's `==` on builtin types (1 == 1.0 == True,
// [1] != (1,), {1, 2} == frozenset({2, 1}), dict order ignored, nan != nan),
// because EvalPlus judges with `out == expected`.
//
// Nodes are allocated from a QrArena and freed with it.
#pragma once
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "util/arena.h"
#include "util/sbuf.h"
#include "util/err.h"

typedef enum {
    PV_NONE,
    PV_BOOL,
    PV_INT,
    PV_FLOAT,
    PV_COMPLEX,
    PV_STR, // UTF-8 bytes (may contain NUL)
    PV_BYTES,
    PV_LIST,
    PV_TUPLE,
    PV_SET,
    PV_FROZENSET,
    PV_DICT,   // items = k0, v0, k1, v1, ...; n = number of pairs
    PV_OPAQUE, // a non-builtin object (the worker sends a marker); never equal to anything
    PV_ELLIPSIS,
} PvKind;

typedef struct PyVal PyVal;
struct PyVal {
    uint8_t kind;  // PvKind
    uint8_t big;   // PV_INT: 1 when the value does not fit int64 (then u.big is used)
    uint8_t neg;   // PV_INT big: sign
    uint32_t n;    // STR/BYTES: byte length; containers: item count (DICT: pairs); big INT: digit count
    union {
        int64_t i;              // BOOL (0/1), INT (small)
        double f;               // FLOAT
        double c[2];            // COMPLEX: real, imag
        const char *s;          // STR, BYTES (NUL-terminated copy; n is the length)
        PyVal **items;          // LIST, TUPLE, SET, FROZENSET, DICT (2n entries)
        const uint16_t *digits; // big INT: magnitude in base 2^15, least significant first (marshal's layout)
    } u;
};

// --- construction (all return NULL when the arena is out of memory) ---
PyVal *pv_new(QrArena *a, PvKind kind);
PyVal *pv_int(QrArena *a, int64_t v);
PyVal *pv_float(QrArena *a, double v);
PyVal *pv_str(QrArena *a, const char *s, size_t n);
// An empty container of kind k with room for n items (DICT: n pairs).
PyVal *pv_container(QrArena *a, PvKind k, uint32_t n);
// Parses Python's int(str) (decimal, optional sign/underscores/whitespace) or
// float(str) (incl. inf/nan) or complex(str) ("(1-2j)", "3j", "-0-1e-16j").
// Returns NULL with a message in e when s is not such a literal.
PyVal *pv_parse_int(QrArena *a, const char *s, size_t n, QrErr *e);
PyVal *pv_parse_float(QrArena *a, const char *s, size_t n, QrErr *e);
PyVal *pv_parse_complex(QrArena *a, const char *s, size_t n, QrErr *e);

// --- JSON ---
// The benchmark files are "JSON as Python's json module writes it": bare
// Infinity/-Infinity/NaN, integers of any size. jansson accepts neither, so
// pv_json_loads first rewrites those tokens (outside strings) into tagged
// strings and pv_from_json turns the tags back into floats / big ints.
json_t *pv_json_loads(const char *text, size_t len, json_error_t *jerr);
PyVal *pv_from_json(QrArena *a, const json_t *j, QrErr *e);
// Inputs are reported back as JSON like EvalPlus does (tuples and sets become
// arrays, complex numbers strings, non-finite floats and big ints strings).
json_t *pv_to_json(const PyVal *v);

// --- marshal (version 2) ---
// Appends v's marshal encoding to b (always returns 0; QrSbuf aborts on out of memory).
int pv_marshal(const PyVal *v, QrSbuf *b);
// The header of a marshal list of n items (the items follow, each pv_marshal'd).
void pv_marshal_list_header(QrSbuf *b, uint32_t n);
// Decodes one value from p[0..n); *used (optional) receives the bytes consumed.
// Accepts what `marshal.dumps(x, 2)` writes (plus the short ASCII / small
// tuple codes of later versions); StopIteration (the worker's marker for an
// object of another type) becomes PV_OPAQUE. Nesting deeper than 2000 (the
// limit CPython's marshal itself enforces) is an error.
PyVal *pv_unmarshal(QrArena *a, const void *p, size_t n, size_t *used, QrErr *e);

// --- comparison ---
// Python `a == b` for builtin values (never equal when either is PV_OPAQUE).
int pv_equal(const PyVal *a, const PyVal *b);
// Python `set(a) == set(b)`: 1 equal, 0 not, -1 when set() would raise
// (a non-iterable, an unhashable element).
int pv_set_of_equal(const PyVal *a, const PyVal *b);
// numpy.allclose(a, b, rtol, atol) with equal_nan=False and numpy's
// broadcasting: 1 close, 0 not close, -1 when numpy would raise (ragged or
// non-numeric data).
int pv_allclose(const PyVal *a, const PyVal *b, double rtol, double atol);
// EvalPlus's is_floats(): a float, or a non-empty list/tuple of floats only.
int pv_is_floats(const PyVal *v);
// A number as double (bool/int/float): 0 ok, -1 not a real number / too large.
int pv_to_double(const PyVal *v, double *out);
int pv_is_number(const PyVal *v); // bool, int, float, complex

// --- text ---
// Python repr() of v, cut after about max_bytes bytes with "..." (0: no limit).
void pv_repr(const PyVal *v, QrSbuf *b, size_t max_bytes);
// Decimal digits of an int (small or big) into b.
void pv_int_decimal(const PyVal *v, QrSbuf *b);
