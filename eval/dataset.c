#include "eval/dataset.h"
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "util/fileio.h"
#include "util/sha256.h"

static const struct {
    const char *name, *file;
} KINDS[QR_DS_COUNT] = {
    [QR_DS_HUMANEVAL] = {"humaneval", "HumanEval.jsonl.gz"},
    [QR_DS_HUMANEVAL_PLUS] = {"humaneval+", "HumanEvalPlus.jsonl.gz"},
    [QR_DS_MBPP] = {"mbpp", "mbpp.jsonl.gz"},
    [QR_DS_MBPP_PLUS] = {"mbpp+", "MbppPlus.jsonl.gz"},
    [QR_DS_MBPP_PLUS_V010] = {"mbpp+v0.1.0", "MbppPlus-v0.1.0.jsonl.gz"},
};

int qr_dataset_kind(const char *name, QrDatasetKind *kind) {
    static const struct {
        const char *alias;
        QrDatasetKind k;
    } aliases[] = {{"humanevalplus", QR_DS_HUMANEVAL_PLUS}, {"mbppplus", QR_DS_MBPP_PLUS},
                   {"mbpp+v0.2.0", QR_DS_MBPP_PLUS}, {"mbpp+-v0.1.0", QR_DS_MBPP_PLUS_V010}};
    for (int k = 0; k < QR_DS_COUNT; k++)
        if (!strcasecmp(name, KINDS[k].name)) return *kind = (QrDatasetKind)k, 0;
    for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
        if (!strcasecmp(name, aliases[i].alias)) return *kind = aliases[i].k, 0;
    return -1;
}

const char *qr_dataset_kind_name(QrDatasetKind k) { return k < QR_DS_COUNT ? KINDS[k].name : "?"; }
const char *qr_dataset_file_name(QrDatasetKind k) { return k < QR_DS_COUNT ? KINDS[k].file : "?"; }
int qr_dataset_is_plus(QrDatasetKind k) {
    return k == QR_DS_HUMANEVAL_PLUS || k == QR_DS_MBPP_PLUS || k == QR_DS_MBPP_PLUS_V010;
}
int qr_dataset_is_mbpp(QrDatasetKind k) { return k == QR_DS_MBPP || k == QR_DS_MBPP_PLUS || k == QR_DS_MBPP_PLUS_V010; }

int qr_data_path(const char *file, char *out, size_t n, QrErr *e) {
    const char *env = getenv("QROBUST_DATA");
    if (env && *env) {
        snprintf(out, n, "%s/%s", env, file);
        if (qr_file_exists(out)) return 0;
        return qr_fail(e, "%s: not found (QROBUST_DATA=%s)", file, env);
    }
    snprintf(out, n, "data/%s", file);
    if (qr_file_exists(out)) return 0;
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        snprintf(out, n, "%s/data/%s", exe, file);
        if (qr_file_exists(out)) return 0;
        snprintf(out, n, "%s/../data/%s", exe, file);
        if (qr_file_exists(out)) return 0;
        snprintf(out, n, "%s/../../data/%s", exe, file); // build/tests/x
        if (qr_file_exists(out)) return 0;
    }
    return qr_fail(e, "%s: not found in $QROBUST_DATA, ./data or data/ next to the qrobust executable", file);
}

// ---------------------------------------------------------------- helpers

static char *xstrdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

static char *cat2(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *p = malloc(na + nb + 1);
    if (!p) return NULL;
    memcpy(p, a, na);
    memcpy(p + na, b, nb + 1);
    return p;
}

typedef struct {
    const char *path;
    size_t line;
    QrErr *e;
} Ctx;

#define CTX_FAIL(c, ...) (qr_fail((c)->e, __VA_ARGS__), qr_err_prefix((c)->e, "%s:%zu", (c)->path, (c)->line), -1)

static int get_str(Ctx *c, json_t *o, const char *key, char **out) {
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) return CTX_FAIL(c, "field '%s' missing or not a string", key);
    if (!(*out = xstrdup(json_string_value(v)))) return CTX_FAIL(c, "out of memory");
    return 0;
}

// ---------------------------------------------------------------- MBPP+ input conversions
// EvalPlus stores every MBPP+ input as JSON, so tuples, sets and complex
// numbers arrive as lists / strings; evalplus/data/mbpp.py
// (mbpp_deserialize_inputs) converts them back per task id. The task lists
// below are that function's, a published fact about the data.

// Python's tuple(x) for the iterables that occur here.
static PyVal *to_tuple(QrArena *a, PyVal *x, QrErr *e) {
    if (x->kind == PV_LIST || x->kind == PV_TUPLE || x->kind == PV_SET || x->kind == PV_FROZENSET) {
        PyVal *t = pv_container(a, PV_TUPLE, x->n);
        if (!t) return NULL;
        memcpy(t->u.items, x->u.items, x->n * sizeof *t->u.items);
        return t;
    }
    if (x->kind == PV_DICT) {
        PyVal *t = pv_container(a, PV_TUPLE, x->n);
        if (!t) return NULL;
        for (uint32_t i = 0; i < x->n; i++) t->u.items[i] = x->u.items[2 * i];
        return t;
    }
    qr_fail(e, "tuple() of a non-sequence input value");
    return NULL;
}

static PyVal *all_tuples(QrArena *a, PyVal *x, QrErr *e) { // turn_all_list_into_tuple
    if (x->kind != PV_LIST) return x;
    PyVal *t = pv_container(a, PV_TUPLE, x->n);
    if (!t) return NULL;
    for (uint32_t i = 0; i < x->n; i++)
        if (!(t->u.items[i] = all_tuples(a, x->u.items[i], e))) return NULL;
    return t;
}

// [f(item) for item in x] where f = tuple
static PyVal *map_tuple(QrArena *a, PyVal *x, QrErr *e) {
    if (x->kind != PV_LIST && x->kind != PV_TUPLE) {
        qr_fail(e, "expected a list in the input");
        return NULL;
    }
    PyVal *r = pv_container(a, PV_LIST, x->n);
    if (!r) return NULL;
    for (uint32_t i = 0; i < x->n; i++)
        if (!(r->u.items[i] = to_tuple(a, x->u.items[i], e))) return NULL;
    return r;
}

static PyVal *arg(PyVal *inp, uint32_t i, QrErr *e) {
    if ((inp->kind != PV_LIST && inp->kind != PV_TUPLE) || i >= inp->n) {
        qr_fail(e, "input has no argument %u", i);
        return NULL;
    }
    return inp->u.items[i];
}

static PyVal *py_float(QrArena *a, PyVal *x, QrErr *e) {
    if (x->kind == PV_STR) return pv_parse_float(a, x->u.s, x->n, e);
    double d;
    if (pv_to_double(x, &d)) {
        qr_fail(e, "float() of a non-number input");
        return NULL;
    }
    return pv_float(a, d);
}

static PyVal *py_complex(QrArena *a, PyVal *x, QrErr *e) {
    if (x->kind == PV_STR) return pv_parse_complex(a, x->u.s, x->n, e);
    if (x->kind == PV_COMPLEX) return x;
    double d;
    if (pv_to_double(x, &d)) {
        qr_fail(e, "complex() of a non-number input");
        return NULL;
    }
    PyVal *v = pv_new(a, PV_COMPLEX);
    if (v) v->u.c[0] = d, v->u.c[1] = 0;
    return v;
}

static int in_list(int id, const int *l, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (l[i] == id) return 1;
    return 0;
}
#define IN(id, ...) in_list(id, (const int[]){__VA_ARGS__}, sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

// Returns the converted input (may be inp itself), NULL on error.
static PyVal *mbpp_deserialize(QrArena *a, int id, PyVal *inp, QrErr *e) {
    PyVal *r, *x, *y;
    if (IN(id, 2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630, 726, 740, 744, 809))
        return map_tuple(a, inp, e);
    if (IN(id, 63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780)) {
        if (!(r = pv_container(a, PV_LIST, inp->n))) return NULL;
        for (uint32_t i = 0; i < inp->n; i++)
            if (!(r->u.items[i] = map_tuple(a, inp->u.items[i], e))) return NULL;
        return r;
    }
    if (IN(id, 75, 413, 444, 753)) { // [[tuple(l) for l in inp[0]]] + [inp[1]]
        if (!(x = arg(inp, 0, e)) || !(y = arg(inp, 1, e)) || !(r = pv_container(a, PV_LIST, 2))) return NULL;
        if (!(r->u.items[0] = map_tuple(a, x, e))) return NULL;
        r->u.items[1] = y;
        return r;
    }
    if (IN(id, 106, 750)) { // [inp[0]] + [tuple(inp[1])]
        if (!(x = arg(inp, 0, e)) || !(y = arg(inp, 1, e)) || !(r = pv_container(a, PV_LIST, 2))) return NULL;
        r->u.items[0] = x;
        return (r->u.items[1] = to_tuple(a, y, e)) ? r : NULL;
    }
    if (id == 115) { // [[set(item) if isinstance(item, list) and len(item) else {} for item in inp[0]]]
        if (!(x = arg(inp, 0, e)) || !(r = pv_container(a, PV_LIST, 1))) return NULL;
        if (x->kind != PV_LIST) return qr_fail(e, "expected a list"), NULL;
        PyVal *l = pv_container(a, PV_LIST, x->n);
        if (!l) return NULL;
        for (uint32_t i = 0; i < x->n; i++) {
            PyVal *it = x->u.items[i];
            PyVal *s = it->kind == PV_LIST && it->n ? pv_container(a, PV_SET, it->n) : pv_container(a, PV_DICT, 0);
            if (!s) return NULL;
            if (s->kind == PV_SET) memcpy(s->u.items, it->u.items, it->n * sizeof *s->u.items);
            l->u.items[i] = s;
        }
        r->u.items[0] = l;
        return r;
    }
    if (id == 124) { // (float(inp[0]), complex(inp[1]))
        if (!(x = arg(inp, 0, e)) || !(y = arg(inp, 1, e)) || !(r = pv_container(a, PV_TUPLE, 2))) return NULL;
        if (!(r->u.items[0] = py_float(a, x, e)) || !(r->u.items[1] = py_complex(a, y, e))) return NULL;
        return r;
    }
    if (IN(id, 250, 405, 446, 617, 720, 763, 808)) { // [tuple(inp[0])] + [inp[1]]
        if (!(x = arg(inp, 0, e)) || !(y = arg(inp, 1, e)) || !(r = pv_container(a, PV_LIST, 2))) return NULL;
        r->u.items[1] = y;
        return (r->u.items[0] = to_tuple(a, x, e)) ? r : NULL;
    }
    if (IN(id, 259, 401, 445)) { // list of tuple(l) of tuple(l2)
        if (!(r = pv_container(a, PV_LIST, inp->n))) return NULL;
        for (uint32_t i = 0; i < inp->n; i++)
            if (!(x = map_tuple(a, inp->u.items[i], e)) || !(r->u.items[i] = to_tuple(a, x, e))) return NULL;
        return r;
    }
    if (id == 278) { // [tuple([tuple(i) if isinstance(i, list) else i for i in inp[0]])]
        if (!(x = arg(inp, 0, e)) || !(r = pv_container(a, PV_LIST, 1))) return NULL;
        if (x->kind != PV_LIST) return qr_fail(e, "expected a list"), NULL;
        PyVal *t = pv_container(a, PV_TUPLE, x->n);
        if (!t) return NULL;
        for (uint32_t i = 0; i < x->n; i++) {
            PyVal *it = x->u.items[i];
            if (!(t->u.items[i] = it->kind == PV_LIST ? to_tuple(a, it, e) : it)) return NULL;
        }
        r->u.items[0] = t;
        return r;
    }
    if (id == 307) { // [tuple(inp[0])] + [inp[1], inp[2]]
        PyVal *z;
        if (!(x = arg(inp, 0, e)) || !(y = arg(inp, 1, e)) || !(z = arg(inp, 2, e)) || !(r = pv_container(a, PV_LIST, 3)))
            return NULL;
        r->u.items[1] = y, r->u.items[2] = z;
        return (r->u.items[0] = to_tuple(a, x, e)) ? r : NULL;
    }
    if (id == 722) { // [{k: tuple(v) for k, v in inp[0].items()}] + inp[1:]
        if (!(x = arg(inp, 0, e)) || !(r = pv_container(a, PV_LIST, inp->n))) return NULL;
        if (x->kind != PV_DICT) return qr_fail(e, "expected a dict"), NULL;
        PyVal *d = pv_container(a, PV_DICT, x->n);
        if (!d) return NULL;
        for (uint32_t i = 0; i < x->n; i++) {
            d->u.items[2 * i] = x->u.items[2 * i];
            if (!(d->u.items[2 * i + 1] = to_tuple(a, x->u.items[2 * i + 1], e))) return NULL;
        }
        r->u.items[0] = d;
        for (uint32_t i = 1; i < inp->n; i++) r->u.items[i] = inp->u.items[i];
        return r;
    }
    if (id == 252) { // [complex(inp[0])]
        if (!(x = arg(inp, 0, e)) || !(r = pv_container(a, PV_LIST, 1))) return NULL;
        return (r->u.items[0] = py_complex(a, x, e)) ? r : NULL;
    }
    if (IN(id, 580, 615, 791)) return all_tuples(a, inp, e);
    return inp;
}

// Parses a JSON array of inputs into marshal data (one list item per input).
static int build_inputs(Ctx *c, json_t *arr, const char *field, int mbpp_id, QrInputs *in) {
    memset(in, 0, sizeof *in);
    // Mbpp/793 (v0.1.0 and v0.2.0) has `"plus_input": {}`;
    // EvalPlus iterates it as an empty sequence.
    int empty_obj = json_is_object(arr) && json_object_size(arr) == 0;
    if (!json_is_array(arr) && !empty_obj) return CTX_FAIL(c, "field '%s' missing or not an array", field);
    size_t n = json_array_size(arr);
    QrSbuf b;
    qr_sb_init(&b);
    pv_marshal_list_header(&b, (uint32_t)n);
    in->off = malloc((n + 1) * sizeof *in->off);
    if (!in->off) return CTX_FAIL(c, "out of memory");
    QrArena a;
    qr_arena_init(&a, 0);
    QrErr ve = {{0}};
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(arr, i);
        PyVal *v = pv_from_json(&a, j, &ve);
        if (v && v->kind != PV_LIST) {
            qr_fail(&ve, "not an argument list");
            v = NULL;
        }
        if (v && mbpp_id >= 0) v = mbpp_deserialize(&a, mbpp_id, v, &ve);
        if (!v) {
            qr_arena_free(&a);
            qr_sb_free(&b);
            free(in->off);
            in->off = NULL;
            return CTX_FAIL(c, "%s[%zu]: %s", field, i, ve.msg[0] ? ve.msg : "out of memory");
        }
        in->off[i] = (uint32_t)b.len;
        pv_marshal(v, &b);
        if (a.used_total > (8u << 20)) { // keep the scratch arena small
            qr_arena_free(&a);
            qr_arena_init(&a, 0);
        }
    }
    qr_arena_free(&a);
    in->off[n] = (uint32_t)b.len;
    if (b.len > UINT32_MAX) {
        qr_sb_free(&b);
        free(in->off);
        in->off = NULL;
        return CTX_FAIL(c, "%s: out of memory", field);
    }
    in->n = (uint32_t)n;
    in->len = b.len;
    in->data = (uint8_t *)qr_sb_take(&b);
    return 0;
}

static void free_task(QrProblem *t) {
    free(t->task_id), free(t->prompt), free(t->entry_point), free(t->canonical_solution);
    free(t->reference), free(t->text), free(t->contract), free(t->test);
    for (uint32_t i = 0; i < t->n_asserts; i++) free(t->asserts[i]);
    free(t->asserts);
    free(t->base.data), free(t->base.off), free(t->plus.data), free(t->plus.off);
    memset(t, 0, sizeof *t);
}

void qr_dataset_free(QrDataset *ds) {
    for (size_t i = 0; i < ds->n_tasks; i++) free_task(&ds->tasks[i]);
    free(ds->tasks);
    free(ds->path);
    memset(ds, 0, sizeof *ds);
}

static int task_number(const char *id) {
    const char *s = strrchr(id, '/');
    return s ? atoi(s + 1) : atoi(id);
}

// Splits text on '\n' into lines kept as the assert list (skipping blank ones).
static int split_asserts(Ctx *c, const char *text, QrProblem *t) {
    size_t cap = 4;
    t->asserts = malloc(cap * sizeof *t->asserts);
    if (!t->asserts) return CTX_FAIL(c, "out of memory");
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        int blank = 1;
        for (size_t i = 0; i < n; i++) blank &= isspace((unsigned char)p[i]) != 0;
        if (!blank) {
            if (t->n_asserts == cap) {
                cap *= 2;
                char **na = realloc(t->asserts, cap * sizeof *na);
                if (!na) return CTX_FAIL(c, "out of memory");
                t->asserts = na;
            }
            char *s = malloc(n + 1);
            if (!s) return CTX_FAIL(c, "out of memory");
            memcpy(s, p, n);
            s[n] = 0;
            t->asserts[t->n_asserts++] = s;
        }
        p += n + (nl != NULL);
    }
    return 0;
}

// MBPP has no entry point field: take the first function defined at the top
// level of the reference code that the first test calls.
static char *mbpp_entry_point(const char *code, const char *test) {
    char *best = NULL, *last = NULL;
    const char *p = code;
    while (p && *p) {
        if (!strncmp(p, "def ", 4)) {
            const char *s = p + 4;
            while (*s == ' ') s++;
            const char *e = s;
            while (isalnum((unsigned char)*e) || *e == '_') e++;
            if (e > s) {
                char name[128];
                size_t n = (size_t)(e - s) < sizeof name - 2 ? (size_t)(e - s) : sizeof name - 2;
                memcpy(name, s, n);
                name[n] = 0;
                free(last);
                last = xstrdup(name);
                // called in the test as name( not preceded by an identifier char
                for (const char *q = strstr(test, name); q && !best; q = strstr(q + 1, name)) {
                    int pre_ok = q == test || !(isalnum((unsigned char)q[-1]) || q[-1] == '_' || q[-1] == '.');
                    const char *after = q + n;
                    while (*after == ' ') after++;
                    if (pre_ok && *after == '(') best = xstrdup(name);
                }
                if (best) break;
            }
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    if (best) {
        free(last);
        return best;
    }
    return last;
}

static int load_task(Ctx *c, QrDatasetKind kind, json_t *o, QrProblem *t) {
    if (!json_is_object(o)) return CTX_FAIL(c, "not a JSON object");
    if (kind == QR_DS_MBPP) {
        json_t *id = json_object_get(o, "task_id");
        if (!json_is_integer(id)) return CTX_FAIL(c, "field 'task_id' missing or not an integer");
        t->number = (int)json_integer_value(id);
        char buf[32];
        snprintf(buf, sizeof buf, "Mbpp/%d", t->number);
        t->task_id = xstrdup(buf);
        if (get_str(c, o, "text", &t->text) || get_str(c, o, "code", &t->reference) ||
            get_str(c, o, "test_setup_code", &t->test))
            return -1;
        json_t *tl = json_object_get(o, "test_list");
        if (!json_is_array(tl) || json_array_size(tl) == 0) return CTX_FAIL(c, "field 'test_list' missing or empty");
        t->n_asserts = (uint32_t)json_array_size(tl);
        t->asserts = calloc(t->n_asserts, sizeof *t->asserts);
        if (!t->asserts) return CTX_FAIL(c, "out of memory");
        for (uint32_t i = 0; i < t->n_asserts; i++) {
            json_t *s = json_array_get(tl, i);
            if (!json_is_string(s)) return CTX_FAIL(c, "test_list[%u] is not a string", i);
            t->asserts[i] = xstrdup(json_string_value(s));
        }
        t->canonical_solution = xstrdup(t->reference);
        // The study's base-model prompt: the MBPP+ docstring form built from
        // the description and the first test.
        size_t n = strlen(t->text) + strlen(t->asserts[0]) + 16;
        t->prompt = malloc(n);
        if (t->prompt) snprintf(t->prompt, n, "\"\"\"\n%s\n%s\n\"\"\"\n", t->text, t->asserts[0]);
        t->entry_point = mbpp_entry_point(t->reference, t->asserts[0]);
        if (!t->entry_point) return CTX_FAIL(c, "%s: no function definition in 'code'", t->task_id);
        return t->prompt && t->task_id ? 0 : CTX_FAIL(c, "out of memory");
    }
    if (get_str(c, o, "task_id", &t->task_id) || get_str(c, o, "prompt", &t->prompt) ||
        get_str(c, o, "entry_point", &t->entry_point) || get_str(c, o, "canonical_solution", &t->canonical_solution))
        return -1;
    t->number = task_number(t->task_id);
    if (!(t->reference = cat2(t->prompt, t->canonical_solution))) return CTX_FAIL(c, "out of memory");
    if (kind == QR_DS_HUMANEVAL || kind == QR_DS_HUMANEVAL_PLUS) {
        if (get_str(c, o, "test", &t->test)) return -1;
    }
    if (!qr_dataset_is_plus(kind)) return 0;

    if (get_str(c, o, "contract", &t->contract)) return -1;
    json_t *atol = json_object_get(o, "atol");
    if (!json_is_number(atol)) return CTX_FAIL(c, "field 'atol' missing or not a number");
    t->atol = json_number_value(atol);
    if (qr_dataset_is_mbpp(kind)) {
        // prompt line 2 is the description
        const char *p = strchr(t->prompt, '\n');
        const char *q = p ? strchr(p + 1, '\n') : NULL;
        if (p && q) {
            t->text = malloc((size_t)(q - p));
            if (t->text) memcpy(t->text, p + 1, (size_t)(q - p - 1)), t->text[q - p - 1] = 0;
        }
        char *assertion = NULL;
        if (get_str(c, o, "assertion", &assertion)) return -1;
        int rc = split_asserts(c, assertion, t);
        free(assertion);
        if (rc) return -1;
    }
    int mid = qr_dataset_is_mbpp(kind) ? t->number : -1;
    if (build_inputs(c, json_object_get(o, "base_input"), "base_input", mid, &t->base)) return -1;
    if (build_inputs(c, json_object_get(o, "plus_input"), "plus_input", mid, &t->plus)) return -1;
    return 0;
}

int qr_dataset_load(QrDataset *ds, const char *name, const char *path, QrErr *e) {
    memset(ds, 0, sizeof *ds);
    QrDatasetKind kind;
    if (qr_dataset_kind(name, &kind))
        return qr_fail(e, "unknown dataset '%s' (humaneval, humaneval+, mbpp, mbpp+, mbpp+v0.1.0)", name);
    char found[PATH_MAX];
    if (!path) {
        if (qr_data_path(KINDS[kind].file, found, sizeof found, e)) return -1;
        path = found;
    }
    QrMap m;
    if (qr_map_file(&m, path, e)) return -1;
    qr_sha256_hex(m.data ? (const void *)m.data : "", m.size, ds->sha256);
    qr_unmap(&m);
    char *text;
    size_t len;
    if (qr_read_file(path, &text, &len, e)) return -1;
    if (memchr(text, 0, len)) {
        free(text);
        return qr_fail(e, "%s: contains NUL bytes (not JSON lines)", path);
    }
    ds->kind = kind;
    ds->name = KINDS[kind].name;
    ds->path = xstrdup(path);
    size_t cap = 0;
    Ctx c = {path, 0, e};
    int rc = 0;
    for (char *line = text, *next; line && *line && rc == 0; line = next) {
        c.line++;
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : NULL;
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        int blank = 1;
        for (size_t i = 0; i < n; i++) blank &= isspace((unsigned char)line[i]) != 0;
        if (blank) continue;
        json_error_t jerr;
        json_t *o = pv_json_loads(line, n, &jerr);
        if (!o) {
            rc = CTX_FAIL(&c, "invalid JSON: %s", jerr.text);
            break;
        }
        if (kind == QR_DS_MBPP) { // the test split is task ids 11..510
            json_t *id = json_object_get(o, "task_id");
            json_int_t v = json_is_integer(id) ? json_integer_value(id) : 0;
            if (json_is_integer(id) && (v < 11 || v > 510)) {
                json_decref(o);
                continue;
            }
        }
        if (ds->n_tasks == cap) {
            cap = cap ? cap * 2 : 256;
            QrProblem *nt = realloc(ds->tasks, cap * sizeof *nt);
            if (!nt) {
                json_decref(o);
                rc = CTX_FAIL(&c, "out of memory");
                break;
            }
            ds->tasks = nt;
        }
        QrProblem *t = &ds->tasks[ds->n_tasks++];
        memset(t, 0, sizeof *t);
        rc = load_task(&c, kind, o, t);
        json_decref(o);
        for (size_t i = 0; rc == 0 && i + 1 < ds->n_tasks; i++)
            if (!strcmp(ds->tasks[i].task_id, t->task_id)) rc = CTX_FAIL(&c, "duplicate task_id '%s'", t->task_id);
    }
    free(text);
    if (rc == 0 && ds->n_tasks == 0) rc = qr_fail(e, "%s: no tasks", path);
    if (rc) qr_dataset_free(ds);
    return rc;
}

const QrProblem *qr_dataset_find(const QrDataset *ds, const char *task_id) {
    for (size_t i = 0; i < ds->n_tasks; i++)
        if (!strcmp(ds->tasks[i].task_id, task_id)) return &ds->tasks[i];
    return NULL;
}

char *qr_problem_program(const QrProblem *t, const char *completion) { return cat2(t->prompt, completion); }

PyVal *qr_problem_input(const QrProblem *t, int plus, uint32_t i, QrArena *a, QrErr *e) {
    const QrInputs *in = plus ? &t->plus : &t->base;
    if (i >= in->n) {
        qr_fail(e, "%s: no %s input %u", t->task_id, plus ? "plus" : "base", i);
        return NULL;
    }
    return pv_unmarshal(a, in->data + in->off[i], in->off[i + 1] - in->off[i], NULL, e);
}
