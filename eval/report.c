#include "eval/report.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "eval/metrics.h"
#include "eval/svg.h"
#include "util/fileio.h"
#include "util/sbuf.h"
#include "util/strmap.h"

static const char *PREC_ORDER[] = {"fp32", "bf16", "fp16", "int8", "nf4"};
static const char *DATASETS[] = {"humaneval", "humaneval+", "mbpp", "mbpp+"};
static const char *DATASET_TITLE[] = {"HumanEval", "HumanEval+", "MBPP", "MBPP+"};
#define NDS 4

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) { fputs("qrobust: out of memory\n", stderr); abort(); }
    return q;
}

// ---------------------------------------------------------------- cells ----

typedef struct {
    QrStrMap idx; // task_id -> position
    int n, cap;
    char **ids;
    int *pass, *samples;
    unsigned char *first;
} Acc;

static int model_index(QrCells *c, const char *model) {
    for (int i = 0; i < c->n_models; i++)
        if (!strcmp(c->models[i], model)) return i;
    if (c->n_models >= 64) return -1;
    snprintf(c->models[c->n_models], sizeof c->models[0], "%s", model);
    return c->n_models++;
}

static QrCell *add_cell(QrCells *c, QrStrMap *idx, const char *model, const char *prec, const char *cond,
                        const char *dataset, QrErr *e, int *is_new) {
    char key[600];
    snprintf(key, sizeof key, "%s|%s|%s|%s", model, prec, cond, dataset);
    int64_t i;
    *is_new = 0;
    if (qr_strmap_get(idx, key, &i)) return &c->cells[i];
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 256;
        c->cells = xrealloc(c->cells, sizeof(QrCell) * (size_t)c->cap);
    }
    QrCell *x = &c->cells[c->n];
    memset(x, 0, sizeof *x);
    snprintf(x->model, sizeof x->model, "%s", model);
    snprintf(x->precision, sizeof x->precision, "%s", prec);
    snprintf(x->cond, sizeof x->cond, "%s", cond);
    snprintf(x->dataset, sizeof x->dataset, "%s", dataset);
    QrPlan defaults;
    qr_plan_defaults(&defaults);
    if (qr_cond_parse(&defaults, cond, &x->c, e)) return NULL;
    if (model_index(c, model) < 0) { qr_fail(e, "more than 64 models"); return NULL; }
    qr_strmap_put(idx, key, c->n);
    c->n++;
    *is_new = 1;
    return x;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// Model order of the tables: family, then size ("codegen-350M" before
// "codegen-2B"), then name, so reports do not depend on the order of lines.
static void size_key(const char *name, char *family, size_t n, double *size) {
    const char *num = NULL, *p = name;
    for (; *p; p++)
        if (isdigit((unsigned char)*p) && (p == name || !isdigit((unsigned char)p[-1])) ) num = p;
    *size = 0;
    snprintf(family, n, "%s", name);
    if (!num) return;
    char *end;
    double v = strtod(num, &end);
    char u = (char)tolower((unsigned char)*end);
    if (u == 'm') v *= 1e6;
    else if (u == 'b') v *= 1e9;
    else if (u == 'k') v *= 1e3;
    *size = v;
    snprintf(family, n, "%.*s", (int)(num - name), name);
}

static int cmp_model(const void *a, const void *b) {
    char fa[160], fb[160];
    double sa, sb;
    size_key((const char *)a, fa, sizeof fa, &sa);
    size_key((const char *)b, fb, sizeof fb, &sb);
    int c = strcmp(fa, fb);
    if (c) return c;
    if (sa != sb) return sa < sb ? -1 : 1;
    return strcmp((const char *)a, (const char *)b);
}

static int rank_of(const char *s, const char *const *list, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s, list[i])) return i;
    return n;
}

static const QrCells *g_sort_cells; // qsort has no context argument
static int cmp_cell(const void *pa, const void *pb) {
    const QrCell *a = pa, *b = pb;
    int ma = 0, mb = 0;
    for (int i = 0; i < g_sort_cells->n_models; i++) {
        if (!strcmp(a->model, g_sort_cells->models[i])) ma = i;
        if (!strcmp(b->model, g_sort_cells->models[i])) mb = i;
    }
    if (ma != mb) return ma - mb;
    int r = rank_of(a->precision, PREC_ORDER, 5) - rank_of(b->precision, PREC_ORDER, 5);
    if (r) return r;
    if (a->c.kind != b->c.kind) return (int)a->c.kind - (int)b->c.kind;
    if ((r = strcmp(a->c.target, b->c.target))) return r;
    if (a->c.level != b->c.level) return a->c.level < b->c.level ? -1 : 1;
    if ((r = strcmp(a->cond, b->cond))) return r;
    return rank_of(a->dataset, DATASETS, NDS) - rank_of(b->dataset, DATASETS, NDS);
}

static void sort_cells(QrCells *c) {
    qsort(c->models, (size_t)c->n_models, sizeof c->models[0], cmp_model);
    g_sort_cells = c;
    qsort(c->cells, (size_t)c->n, sizeof(QrCell), cmp_cell);
    g_sort_cells = NULL;
}

int qr_cells_from_store(const QrStore *s, QrCells *c, QrErr *e) {
    memset(c, 0, sizeof *c);
    QrStrMap idx;
    qr_strmap_init(&idx);
    Acc *acc = NULL;
    int nacc = 0, rc = 0;
    char gen_id[160] = "";
    for (int i = 0; i < s->n[QR_EXEC] && !rc; i++) {
        json_t *l = s->lines[QR_EXEC][i];
        const char *model = json_string_value(json_object_get(json_object_get(l, "model"), "name"));
        const char *prec = json_string_value(json_object_get(l, "precision"));
        const char *cond = json_string_value(json_object_get(json_object_get(l, "condition"), "id"));
        const char *task = json_string_value(json_object_get(l, "task_id"));
        const char *unit = json_string_value(json_object_get(l, "unit"));
        json_t *verdicts = json_object_get(l, "verdicts");
        json_t *sample = json_object_get(l, "sample");
        if (!model || !prec || !cond || !task || !unit || !json_is_object(verdicts) || !json_is_integer(sample)) {
            rc = qr_fail(e, "%s/executions.jsonl: line %d lacks model/precision/condition/task_id/verdicts", s->dir, i + 1);
            break;
        }
        const char *g = strrchr(unit, '|');
        // The generation settings are the unit id's last field: one setting per report.
        if (g) {
            if (!gen_id[0]) snprintf(gen_id, sizeof gen_id, "%s", g + 1);
            else if (strcmp(gen_id, g + 1)) {
                rc = qr_fail(e, "%s: results of two generation settings (%s and %s): report them from separate directories",
                             s->dir, gen_id, g + 1);
                break;
            }
        }
        const char *ds;
        json_t *v;
        json_object_foreach(verdicts, ds, v) {
            const char *st = json_string_value(json_object_get(v, "status"));
            if (!st) continue;
            int is_new;
            QrCell *x = add_cell(c, &idx, model, prec, cond, ds, e, &is_new);
            if (!x) { rc = -1; break; }
            int ci = (int)(x - c->cells);
            if (ci >= nacc) {
                acc = xrealloc(acc, sizeof(Acc) * (size_t)(ci + 1));
                memset(&acc[nacc], 0, sizeof(Acc) * (size_t)(ci + 1 - nacc));
                for (int k = nacc; k <= ci; k++) qr_strmap_init(&acc[k].idx);
                nacc = ci + 1;
            }
            Acc *a = &acc[ci];
            int64_t t;
            if (!qr_strmap_get(&a->idx, task, &t)) {
                if (a->n == a->cap) {
                    a->cap = a->cap ? 2 * a->cap : 64;
                    a->ids = xrealloc(a->ids, sizeof(char *) * (size_t)a->cap);
                    a->pass = xrealloc(a->pass, sizeof(int) * (size_t)a->cap);
                    a->samples = xrealloc(a->samples, sizeof(int) * (size_t)a->cap);
                    a->first = xrealloc(a->first, (size_t)a->cap);
                }
                t = a->n++;
                a->ids[t] = strdup(task);
                a->pass[t] = a->samples[t] = 0;
                a->first[t] = 0;
                qr_strmap_put(&a->idx, task, t);
            }
            int ok = !strcmp(st, "pass");
            a->pass[t] += ok;
            a->samples[t]++;
            if (json_integer_value(sample) == 0) a->first[t] = (unsigned char)ok;
        }
    }
    for (int ci = 0; ci < nacc; ci++) {
        Acc *a = &acc[ci];
        QrCell *x = &c->cells[ci];
        if (!rc) {
            // Sorted by task id, so cells align by merging.
            int *order = malloc(sizeof(int) * (size_t)(a->n ? a->n : 1));
            char **sorted = malloc(sizeof(char *) * (size_t)(a->n ? a->n : 1));
            for (int k = 0; k < a->n; k++) sorted[k] = a->ids[k];
            qsort(sorted, (size_t)a->n, sizeof(char *), cmp_str);
            for (int k = 0; k < a->n; k++) {
                int64_t t;
                qr_strmap_get(&a->idx, sorted[k], &t);
                order[k] = (int)t;
            }
            x->n_tasks = a->n;
            x->task_ids = sorted;
            x->score = malloc(sizeof(double) * (size_t)(a->n ? a->n : 1));
            x->first = malloc((size_t)(a->n ? a->n : 1));
            double sum = 0;
            for (int k = 0; k < a->n; k++) {
                x->score[k] = (double)a->pass[order[k]] / a->samples[order[k]];
                x->first[k] = a->first[order[k]];
                sum += x->score[k];
            }
            x->pass1 = a->n ? sum / a->n : NAN;
            free(order);
        } else {
            for (int k = 0; k < a->n; k++) free(a->ids[k]);
        }
        free(a->ids);
        free(a->pass);
        free(a->samples);
        free(a->first);
        qr_strmap_free(&a->idx);
    }
    free(acc);
    qr_strmap_free(&idx);
    if (!rc && c->n == 0) rc = qr_fail(e, "%s: no execution results to report", s->dir);
    if (rc) qr_cells_free(c);
    else sort_cells(c);
    return rc;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1])) *--end = 0;
    if (*s == '"' && end > s + 1 && end[-1] == '"') { end[-1] = 0; s++; }
    return s;
}

// Splits one CSV line on commas outside double quotes (in place).
static int split_csv(char *line, char **f, int maxf) {
    int n = 0, q = 0;
    f[n++] = line;
    for (char *p = line; *p; p++) {
        if (*p == '"') q = !q;
        else if (*p == ',' && !q) {
            *p = 0;
            if (n == maxf) return -1;
            f[n++] = p + 1;
        }
    }
    return n;
}

static const char *norm_dataset(const char *s) {
    char low[32];
    size_t n = strlen(s);
    if (n >= sizeof low) return NULL;
    for (size_t i = 0; i <= n; i++) low[i] = (char)tolower((unsigned char)s[i]);
    const char *al[][2] = {{"humaneval", "humaneval"}, {"humaneval+", "humaneval+"}, {"humanevalplus", "humaneval+"},
                           {"mbpp", "mbpp"}, {"mbpp+", "mbpp+"}, {"mbppplus", "mbpp+"}};
    for (size_t i = 0; i < sizeof al / sizeof *al; i++)
        if (!strcmp(low, al[i][0])) return al[i][1];
    return NULL;
}

int qr_cells_from_csv(const char *path, QrCells *c, QrErr *e) {
    memset(c, 0, sizeof *c);
    c->from_csv = 1;
    char *buf;
    size_t len;
    if (qr_read_file(path, &buf, &len, e)) return -1;
    QrStrMap idx;
    qr_strmap_init(&idx);
    int col[5] = {-1, -1, -1, -1, -1}, rc = 0, lineno = 0, percent = 0;
    static const char *names[5] = {"model", "precision", "dataset", "condition", "pass@1"};
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\r') line[ll - 1] = 0;
        if (!*trim(line) || line[0] == '#') continue;
        char *f[32];
        int nf = split_csv(line, f, 32);
        if (nf < 0) { rc = qr_fail(e, "%s:%d: more than 32 columns", path, lineno); break; }
        if (col[0] < 0 && col[4] < 0) { // header
            for (int i = 0; i < nf; i++) {
                char *h = trim(f[i]);
                for (int k = 0; k < 5; k++)
                    if (!strcasecmp(h, names[k]) || (k == 4 && (!strcasecmp(h, "pass1") || !strcasecmp(h, "pass_at_1"))))
                        col[k] = i;
            }
            for (int k = 0; k < 5; k++)
                if (col[k] < 0) { rc = qr_fail(e, "%s:%d: header lacks the column '%s' (need model, precision, dataset, condition, pass@1)", path, lineno, names[k]); break; }
            continue;
        }
        char *v[5];
        for (int k = 0; k < 5; k++) {
            if (col[k] >= nf) { rc = qr_fail(e, "%s:%d: missing column '%s'", path, lineno, names[k]); break; }
            v[k] = trim(f[col[k]]);
        }
        if (rc) break;
        int pi = -1;
        for (int k = 0; k < 5; k++)
            if (!strcasecmp(v[1], PREC_ORDER[k])) pi = k;
        if (!strcasecmp(v[1], "orig") || !strcasecmp(v[1], "original") || !strcasecmp(v[1], "full")) pi = 0;
        if (!strcasecmp(v[1], "8bit") || !strcasecmp(v[1], "8-bit")) pi = 3;
        if (!strcasecmp(v[1], "4bit") || !strcasecmp(v[1], "4-bit")) pi = 4;
        if (pi < 0) { rc = qr_fail(e, "%s:%d: unknown precision '%s' (fp32, bf16, fp16, int8, nf4)", path, lineno, v[1]); break; }
        const char *ds = norm_dataset(v[2]);
        if (!ds) { rc = qr_fail(e, "%s:%d: unknown dataset '%s' (humaneval, humaneval+, mbpp, mbpp+)", path, lineno, v[2]); break; }
        char *end;
        size_t pl = strlen(v[4]);
        if (pl && v[4][pl - 1] == '%') { v[4][pl - 1] = 0; percent = 1; }
        errno = 0;
        double p1 = strtod(v[4], &end);
        if (end == v[4] || *end || errno || !(p1 >= 0) || p1 > 100) { rc = qr_fail(e, "%s:%d: pass@1 '%s' is not a number in [0, 100]", path, lineno, v[4]); break; }
        if (!*v[0]) { rc = qr_fail(e, "%s:%d: empty model", path, lineno); break; }
        QrPlan defaults;
        qr_plan_defaults(&defaults);
        QrCond cond;
        if (qr_cond_parse(&defaults, v[3], &cond, e)) { qr_err_prefix(e, "%s:%d", path, lineno); rc = -1; break; }
        int is_new;
        QrCell *x = add_cell(c, &idx, v[0], PREC_ORDER[pi], cond.id, ds, e, &is_new);
        if (!x) { qr_err_prefix(e, "%s:%d", path, lineno); rc = -1; break; }
        if (!is_new) { rc = qr_fail(e, "%s:%d: a second row for %s %s %s %s", path, lineno, v[0], v[1], v[2], v[3]); break; }
        x->pass1 = p1;
        if (p1 > 1) percent = 1;
    }
    if (!rc && col[4] < 0) rc = qr_fail(e, "%s: empty (no header)", path);
    if (!rc && c->n == 0) rc = qr_fail(e, "%s: no rows", path);
    if (!rc && percent)
        for (int i = 0; i < c->n; i++) c->cells[i].pass1 /= 100;
    free(buf);
    qr_strmap_free(&idx);
    if (rc) qr_cells_free(c);
    else sort_cells(c);
    return rc;
}

void qr_cells_free(QrCells *c) {
    for (int i = 0; i < c->n; i++) {
        for (int k = 0; k < c->cells[i].n_tasks; k++) free(c->cells[i].task_ids[k]);
        free(c->cells[i].task_ids);
        free(c->cells[i].score);
        free(c->cells[i].first);
    }
    free(c->cells);
    memset(c, 0, sizeof *c);
}

// ------------------------------------------------------------- analysis ----

static const QrCell *find(const QrCells *c, const char *model, const char *prec, const char *cond, const char *ds) {
    for (int i = 0; i < c->n; i++) {
        const QrCell *x = &c->cells[i];
        if (!strcmp(x->model, model) && !strcmp(x->precision, prec) && !strcmp(x->cond, cond) && !strcmp(x->dataset, ds))
            return x;
    }
    return NULL;
}

// Tasks present in all k cells: fills per-cell score arrays (and sample-0
// outcomes). Returns the number of common tasks.
static int align(const QrCell *const *cells, int k, double **scores, unsigned char **first) {
    int n = cells[0]->n_tasks;
    for (int j = 0; j < k; j++) {
        scores[j] = malloc(sizeof(double) * (size_t)(n ? n : 1));
        first[j] = malloc((size_t)(n ? n : 1));
    }
    int pos[8] = {0}, m = 0;
    for (int i = 0; i < n; i++) {
        const char *id = cells[0]->task_ids[i];
        int ok = 1;
        for (int j = 1; j < k && ok; j++) {
            while (pos[j] < cells[j]->n_tasks && strcmp(cells[j]->task_ids[pos[j]], id) < 0) pos[j]++;
            ok = pos[j] < cells[j]->n_tasks && !strcmp(cells[j]->task_ids[pos[j]], id);
        }
        if (!ok) continue;
        scores[0][m] = cells[0]->score[i];
        first[0][m] = cells[0]->first[i];
        for (int j = 1; j < k; j++) {
            scores[j][m] = cells[j]->score[pos[j]];
            first[j][m] = cells[j]->first[pos[j]];
        }
        m++;
    }
    return m;
}

static void free_aligned(int k, double **s, unsigned char **f) {
    for (int j = 0; j < k; j++) free(s[j]), free(f[j]);
}

static double mcnemar_of(const unsigned char *a, const unsigned char *b, int n) {
    int x = 0, y = 0;
    for (int i = 0; i < n; i++) {
        x += a[i] && !b[i];
        y += !a[i] && b[i];
    }
    return qr_mcnemar_exact(x, y);
}

static int binom_q(int n, double p, double q) {
    if (p <= 0) return 0;
    if (p >= 1) return n;
    double cdf = 0;
    for (int x = 0; x <= n; x++) {
        cdf += exp(lgamma(n + 1.0) - lgamma(x + 1.0) - lgamma(n - x + 1.0) + x * log(p) + (n - x) * log1p(-p));
        if (cdf >= q - 1e-12) return x;
    }
    return n;
}

static QrCi pass_ci(const QrCell *x, const QrReportOpts *o) {
    QrCi ci = {NAN, NAN, 0, 0};
    if (x->n_tasks == 0) return ci;
    int binary = 1;
    for (int i = 0; i < x->n_tasks && binary; i++) binary = x->score[i] == 0 || x->score[i] == 1;
    if (binary) {
        int n = x->n_tasks;
        ci.lo = (double)binom_q(n, x->pass1, o->alpha / 2) / n;
        ci.hi = (double)binom_q(n, x->pass1, 1 - o->alpha / 2) / n;
        ci.defined = 1;
        ci.share_defined = 1;
        return ci;
    }
    return qr_boot_mean(x->score, x->n_tasks, o->bootstrap, o->seed, o->alpha);
}

static const char *ref_precision(const QrCells *c, const char *model) {
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < c->n; i++)
            if (!strcmp(c->cells[i].model, model) && !strcmp(c->cells[i].precision, PREC_ORDER[k])) return PREC_ORDER[k];
    return NULL;
}

typedef struct {
    const char *model, *qprec, *dataset, *attack; // attack = condition id
    const QrCell *co, *ao, *cq, *aq;
    QrRrs r;
    QrCi rrs_ci, dd_ci;
    int n_common, significant;
    double p_orig, p_quant; // McNemar clean vs attack
} T1;

// Prompt-attack condition ids present, in kind order.
static int attack_ids(const QrCells *c, const char **ids, int max) {
    int n = 0;
    for (int kind = QR_COND_CHAR; kind <= QR_COND_SENTENCE; kind++)
        for (int i = 0; i < c->n; i++) {
            if ((int)c->cells[i].c.kind != kind) continue;
            int dup = 0;
            for (int j = 0; j < n; j++) dup |= !strcmp(ids[j], c->cells[i].cond);
            if (!dup && n < max) ids[n++] = c->cells[i].cond;
        }
    return n;
}

static int build_table1(const QrCells *c, const QrReportOpts *o, T1 **out) {
    const char *att[16];
    int na = attack_ids(c, att, 16), n = 0;
    T1 *t = calloc((size_t)(c->n_models * 2 * NDS * (na ? na : 1)) + 1, sizeof(T1));
    for (int m = 0; m < c->n_models; m++) {
        const char *model = c->models[m], *ref = ref_precision(c, model);
        if (!ref) continue;
        for (int q = 3; q < 5; q++)
            for (int d = 0; d < NDS; d++)
                for (int a = 0; a < na; a++) {
                    const QrCell *co = find(c, model, ref, "clean", DATASETS[d]), *ao = find(c, model, ref, att[a], DATASETS[d]);
                    const QrCell *cq = find(c, model, PREC_ORDER[q], "clean", DATASETS[d]),
                                 *aq = find(c, model, PREC_ORDER[q], att[a], DATASETS[d]);
                    if (!co || !ao || !cq || !aq) continue;
                    T1 *x = &t[n++];
                    x->model = model, x->qprec = PREC_ORDER[q], x->dataset = DATASETS[d], x->attack = att[a];
                    x->co = co, x->ao = ao, x->cq = cq, x->aq = aq;
                    x->rrs_ci = x->dd_ci = (QrCi){NAN, NAN, 0, 0};
                    x->p_orig = x->p_quant = NAN;
                    if (co->n_tasks && ao->n_tasks && cq->n_tasks && aq->n_tasks) {
                        const QrCell *cs[4] = {co, ao, cq, aq};
                        double *s[4];
                        unsigned char *f[4];
                        int k = align(cs, 4, s, f);
                        x->n_common = k;
                        // Point estimates on the common tasks, so numbers and intervals agree.
                        x->r = qr_rrs(qr_mean(s[0], k), qr_mean(s[1], k), qr_mean(s[2], k), qr_mean(s[3], k));
                        if (k > 0) {
                            qr_boot_rrs(s[0], s[1], s[2], s[3], k, o->bootstrap, o->seed, o->alpha, &x->rrs_ci, &x->dd_ci);
                            x->significant = x->dd_ci.defined && (x->dd_ci.lo > 0 || x->dd_ci.hi < 0);
                            x->p_orig = mcnemar_of(f[0], f[1], k);
                            x->p_quant = mcnemar_of(f[2], f[3], k);
                        }
                        free_aligned(4, s, f);
                    } else {
                        x->r = qr_rrs(co->pass1, ao->pass1, cq->pass1, aq->pass1);
                    }
                }
    }
    *out = t;
    return n;
}

// ---------------------------------------------------------------- output ----

static void fmt_pct(char *b, size_t n, double v) {
    if (isnan(v)) snprintf(b, n, "n/a");
    else snprintf(b, n, "%.1f", 100 * v);
}

static void fmt_rrs(char *b, size_t n, const T1 *x) {
    if (x->r.numeric) snprintf(b, n, "%.2f%s%s", x->r.rrs, qr_rob_arrow(x->r.cls), x->significant ? "*" : "");
    else snprintf(b, n, "%s%s", qr_rob_arrow(x->r.cls), x->significant ? "*" : "");
}

static void csv_num(QrSbuf *b, double v) {
    if (isnan(v)) qr_sb_puts(b, ",");
    else if (isinf(v)) qr_sb_puts(b, v > 0 ? ",inf" : ",-inf");
    else qr_sb_printf(b, ",%.6g", v);
}

static void csv_str(QrSbuf *b, const char *s, int first) {
    if (!first) qr_sb_putc(b, ',');
    if (strpbrk(s, ",\"\n")) {
        qr_sb_putc(b, '"');
        for (; *s; s++) {
            if (*s == '"') qr_sb_putc(b, '"');
            qr_sb_putc(b, *s);
        }
        qr_sb_putc(b, '"');
    } else {
        qr_sb_puts(b, s);
    }
}

static int write_out(const char *dir, const char *name, const QrSbuf *b, QrReportSummary *sum, QrErr *e) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (qr_write_file_atomic(path, b->s ? b->s : "", b->len, e)) return -1;
    if (sum && sum->n_files < 32) snprintf(sum->files[sum->n_files++], sizeof sum->files[0], "%s", name);
    return 0;
}

static const char *ds_title(const char *ds) {
    for (int d = 0; d < NDS; d++)
        if (!strcmp(ds, DATASETS[d])) return DATASET_TITLE[d];
    return ds;
}

// Markdown (md = 1) or HTML (md = 0) table writer.
typedef struct { QrSbuf *b; int md; } Tab;
static void tab_begin(Tab *t) { if (!t->md) qr_sb_puts(t->b, "<table>\n"); }
static void tab_row(Tab *t, int header, int n, const char *const *cells) {
    QrSbuf *b = t->b;
    if (t->md) {
        qr_sb_puts(b, "|");
        for (int i = 0; i < n; i++) qr_sb_printf(b, " %s |", cells[i]);
        qr_sb_puts(b, "\n");
        if (header) {
            qr_sb_puts(b, "|");
            for (int i = 0; i < n; i++) qr_sb_puts(b, i ? " ---: |" : " --- |");
            qr_sb_puts(b, "\n");
        }
    } else {
        qr_sb_puts(b, "<tr>");
        for (int i = 0; i < n; i++) {
            qr_sb_puts(b, header ? "<th>" : "<td>");
            qr_sb_put_xml(b, cells[i]);
            qr_sb_puts(b, header ? "</th>" : "</td>");
        }
        qr_sb_puts(b, "</tr>\n");
    }
}
static void tab_end(Tab *t) { qr_sb_puts(t->b, t->md ? "\n" : "</table>\n"); }
static void heading(QrSbuf *b, int md, int level, const char *text) {
    if (md) qr_sb_printf(b, "%.*s %s\n\n", level, "####", text);
    else {
        qr_sb_printf(b, "<h%d>", level);
        qr_sb_put_xml(b, text);
        qr_sb_printf(b, "</h%d>\n", level);
    }
}
static void para(QrSbuf *b, int md, const char *text) {
    if (md) qr_sb_printf(b, "%s\n\n", text);
    else {
        qr_sb_puts(b, "<p>");
        qr_sb_put_xml(b, text);
        qr_sb_puts(b, "</p>\n");
    }
}

static void short_attack(char *b, size_t n, const char *cond) {
    size_t k = strcspn(cond, "(");
    snprintf(b, n, "%.*s", (int)k, cond);
}

// Table I: rows model x quantized precision, columns dataset x attack.
static void table1(Tab *t, const QrCells *c, const T1 *rows, int nr) {
    const char *att[16];
    int na = attack_ids(c, att, 16), ds[NDS], nd = 0;
    for (int d = 0; d < NDS; d++) { // only datasets with at least one cell
        int any = 0;
        for (int r = 0; r < nr; r++) any |= !strcmp(rows[r].dataset, DATASETS[d]);
        if (any) ds[nd++] = d;
    }
    int ncol = 2 + nd * na;
    const char **cells = calloc((size_t)ncol, sizeof(char *));
    char (*buf)[64] = calloc((size_t)ncol, 64);
    cells[0] = "model";
    cells[1] = "quant.";
    for (int d = 0; d < nd; d++)
        for (int a = 0; a < na; a++) {
            char s[32];
            short_attack(s, sizeof s, att[a]);
            snprintf(buf[2 + d * na + a], 64, "%s %s", DATASET_TITLE[ds[d]], s);
            cells[2 + d * na + a] = buf[2 + d * na + a];
        }
    tab_begin(t);
    tab_row(t, 1, ncol, cells);
    for (int m = 0; m < c->n_models; m++)
        for (int q = 3; q < 5; q++) {
            int any = 0;
            for (int i = 2; i < ncol; i++) snprintf(buf[i], 64, "–"), cells[i] = buf[i];
            for (int r = 0; r < nr; r++) {
                const T1 *x = &rows[r];
                if (strcmp(x->model, c->models[m]) || strcmp(x->qprec, PREC_ORDER[q])) continue;
                int d = 0, a = 0;
                while (strcmp(DATASETS[ds[d]], x->dataset)) d++;
                while (strcmp(att[a], x->attack)) a++;
                fmt_rrs(buf[2 + d * na + a], 64, x);
                any = 1;
            }
            if (!any) continue;
            cells[0] = c->models[m];
            cells[1] = PREC_ORDER[q];
            tab_row(t, 0, ncol, cells);
        }
    tab_end(t);
    free(cells);
    free(buf);
}

static void shares_text(char *b, size_t n, const QrShares *s, int with_sig) {
    int k = snprintf(b, n, "All %d cells: quantized more robust in %d (%.2f%%), original more robust in %d (%.2f%%), equal in %d (%.2f%%).",
                     s->n, s->quant, s->n ? 100.0 * s->quant / s->n : 0, s->orig, s->n ? 100.0 * s->orig / s->n : 0, s->equal,
                     s->n ? 100.0 * s->equal / s->n : 0);
    if (with_sig && k > 0 && (size_t)k < n)
        snprintf(b + k, n - (size_t)k,
                 " Restricted to the %d cells whose difference is significant (95%% interval of d_o - d_q excludes 0): "
                 "quantized more robust in %d (%.2f%%), original more robust in %d (%.2f%%).",
                 s->n_sig, s->sig_quant, s->n_sig ? 100.0 * s->sig_quant / s->n_sig : 0, s->sig_orig,
                 s->n_sig ? 100.0 * s->sig_orig / s->n_sig : 0);
}

// ---- figures ----

static int prec_color(const char *p) {
    for (int k = 0; k < 5; k++)
        if (!strcmp(p, PREC_ORDER[k])) return k < 3 ? 0 : k == 3 ? 1 : 2;
    return 7;
}

// Collects one noise curve: clean point at x = level0 then each level.
static int curve(const QrCells *c, const char *model, const char *prec, QrCondKind kind, const char *target, const char *ds,
                 double x0, double *x, double *y, double *lo, double *hi, const QrReportOpts *o) {
    int n = 0;
    const QrCell *cl = find(c, model, prec, "clean", ds);
    double levels[64];
    int nl = 0;
    for (int i = 0; i < c->n; i++) {
        const QrCell *z = &c->cells[i];
        if (z->c.kind != kind || strcmp(z->c.target, target) || strcmp(z->model, model) || strcmp(z->precision, prec) ||
            strcmp(z->dataset, ds))
            continue;
        if (nl < 64) levels[nl++] = z->c.level;
    }
    if (!nl) return 0;
    // sort levels
    for (int i = 1; i < nl; i++)
        for (int j = i; j > 0 && levels[j] < levels[j - 1]; j--) {
            double t = levels[j];
            levels[j] = levels[j - 1];
            levels[j - 1] = t;
        }
    if (cl) {
        QrCi ci = pass_ci(cl, o);
        x[n] = x0, y[n] = cl->pass1, lo[n] = ci.lo, hi[n] = ci.hi, n++;
    }
    for (int i = 0; i < nl; i++)
        for (int k = 0; k < c->n; k++) {
            const QrCell *z = &c->cells[k];
            if (z->c.kind != kind || strcmp(z->c.target, target) || strcmp(z->model, model) || strcmp(z->precision, prec) ||
                strcmp(z->dataset, ds) || z->c.level != levels[i])
                continue;
            QrCi ci = pass_ci(z, o);
            x[n] = levels[i], y[n] = z->pass1, lo[n] = ci.lo, hi[n] = ci.hi, n++;
        }
    return n;
}

static double min_level(const QrCells *c) {
    double m = INFINITY;
    for (int i = 0; i < c->n; i++)
        if (qr_cond_is_noise(&c->cells[i].c) && c->cells[i].c.level < m) m = c->cells[i].c.level;
    return m;
}

// Figure 3 (mode 0): per model a row, gaussian | uniform, one line per precision (target all).
// Confound (mode 1): per model x quantized precision a row, one line per target + original (all), dashed.
static int noise_figure(const QrCells *c, const char *ds, int mode, const QrReportOpts *o, QrSbuf *b) {
    double lmin = min_level(c);
    if (!isfinite(lmin)) return 0;
    double x0 = lmin / 3; // where "clean" sits on the log axis
    static const char *targets[] = {"all", "pre-quant", "post-quant", "unquantized-only"};
    int rows = 0;
    const char *rm[128], *rp[128];
    for (int m = 0; m < c->n_models; m++)
        for (int q = mode ? 3 : 0; q < (mode ? 5 : 1); q++) {
            const char *prec = mode ? PREC_ORDER[q] : NULL;
            int has = 0;
            for (int i = 0; i < c->n && !has; i++) {
                const QrCell *z = &c->cells[i];
                has = !strcmp(z->model, c->models[m]) && !strcmp(z->dataset, ds) && qr_cond_is_noise(&z->c) &&
                      (!mode ? 1 : (!strcmp(z->precision, prec) && strcmp(z->c.target, "all")));
            }
            if (has && rows < 128) rm[rows] = c->models[m], rp[rows] = prec, rows++;
        }
    if (!rows) return 0;
    double pw = 300, ph = 170, W = 2 * pw + 260, H = rows * (ph + 60) + 50;
    char title[256];
    snprintf(title, sizeof title, mode ? "%s: noise targets of the quantized models (pass@1 vs noise level)"
                                       : "%s: pass@1 vs weight-noise level (target all), original vs int8 vs nf4",
             ds_title(ds));
    qr_svg_begin(b, W, H, title);
    qr_svg_text(b, W / 2, 22, 14, "middle", title);
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < 2; k++) {
            QrCondKind kind = k ? QR_COND_UNIFORM : QR_COND_GAUSSIAN;
            char pt[300];
            if (mode) snprintf(pt, sizeof pt, "%s %s, %s", rm[r], rp[r], k ? "uniform" : "gaussian");
            else snprintf(pt, sizeof pt, "%s, %s", rm[r], k ? "uniform" : "gaussian");
            QrPanel p = {70 + k * (pw + 60), 60 + r * (ph + 60), pw, ph, x0 / 1.5, 0, 0, 1, 1, x0, pt,
                         "weight-noise level", "pass@1"};
            QrSeries s[8];
            double xs[8][66], ys[8][66], los[8][66], his[8][66];
            const char *names[8];
            int colors[8], dashed[8], ns = 0;
            double xmax = lmin;
            if (!mode) {
                const char *ref = ref_precision(c, rm[r]);
                const char *precs[3] = {ref, "int8", "nf4"};
                for (int j = 0; j < 3; j++) {
                    if (!precs[j]) continue;
                    int n = curve(c, rm[r], precs[j], kind, "all", ds, x0, xs[ns], ys[ns], los[ns], his[ns], o);
                    if (n < 2) continue;
                    s[ns] = (QrSeries){precs[j], n, xs[ns], ys[ns], los[ns], his[ns], prec_color(precs[j]), 0};
                    names[ns] = precs[j], colors[ns] = prec_color(precs[j]), dashed[ns] = 0;
                    ns++;
                }
            } else {
                for (int j = 0; j < 4; j++) {
                    int n = curve(c, rm[r], rp[r], kind, targets[j], ds, x0, xs[ns], ys[ns], los[ns], his[ns], o);
                    if (n < 2) continue;
                    static const int tcol[4] = {3, 4, 5, 2};
                    s[ns] = (QrSeries){targets[j], n, xs[ns], ys[ns], los[ns], his[ns], tcol[j], 0};
                    names[ns] = targets[j], colors[ns] = tcol[j], dashed[ns] = 0;
                    ns++;
                }
                const char *ref = ref_precision(c, rm[r]);
                if (ref) {
                    int n = curve(c, rm[r], ref, kind, "all", ds, x0, xs[ns], ys[ns], los[ns], his[ns], o);
                    if (n >= 2) {
                        static char lab[8][48];
                        snprintf(lab[ns], sizeof lab[ns], "original (%s), all", ref);
                        s[ns] = (QrSeries){lab[ns], n, xs[ns], ys[ns], NULL, NULL, 0, 1};
                        names[ns] = lab[ns], colors[ns] = 0, dashed[ns] = 1;
                        ns++;
                    }
                }
            }
            for (int j = 0; j < ns; j++)
                for (int i = 0; i < s[j].n; i++) xmax = s[j].x[i] > xmax ? s[j].x[i] : xmax;
            p.xmax = xmax * 1.5;
            qr_svg_line_panel(b, &p, s, ns);
            if (k == 1) qr_svg_legend(b, p.x + pw + 15, p.y + 10, ns, names, colors, dashed);
        }
    qr_svg_end(b);
    return 1;
}

// Figures 4-5: grouped bars per model, one panel per condition (clean and the prompt attacks).
static int precision_figure(const QrCells *c, const char *ds, const QrReportOpts *o, QrSbuf *b) {
    const char *conds[8];
    int nc = 0;
    int any = 0;
    for (int i = 0; i < c->n; i++) any |= !strcmp(c->cells[i].dataset, ds) && c->cells[i].c.kind == QR_COND_CLEAN;
    if (!any) return 0;
    conds[nc++] = "clean";
    nc += attack_ids(c, conds + 1, 7);
    const char *precs[5];
    int np = 0;
    for (int k = 0; k < 5; k++)
        for (int i = 0; i < c->n; i++)
            if (!strcmp(c->cells[i].precision, PREC_ORDER[k]) && !strcmp(c->cells[i].dataset, ds)) {
                precs[np++] = PREC_ORDER[k];
                break;
            }
    double pw = 120 + 70.0 * c->n_models, ph = 170, W = 2 * (pw + 70) + 140, H = ((nc + 1) / 2) * (ph + 70) + 60;
    char title[200];
    snprintf(title, sizeof title, "%s: pass@1 by precision, clean and under each prompt attack (95%% intervals)", ds_title(ds));
    qr_svg_begin(b, W, H, title);
    qr_svg_text(b, W / 2, 22, 14, "middle", title);
    int ng = c->n_models;
    double *v = malloc(sizeof(double) * (size_t)(ng * np + 1)), *lo = malloc(sizeof(double) * (size_t)(ng * np + 1)),
           *hi = malloc(sizeof(double) * (size_t)(ng * np + 1));
    int colors[5];
    for (int j = 0; j < np; j++) colors[j] = prec_color(precs[j]);
    const char *groups[64];
    for (int g = 0; g < ng; g++) groups[g] = c->models[g];
    for (int k = 0; k < nc; k++) {
        double ymax = 0.05;
        for (int g = 0; g < ng; g++)
            for (int j = 0; j < np; j++) {
                const QrCell *z = find(c, c->models[g], precs[j], conds[k], ds);
                QrCi ci = z ? pass_ci(z, o) : (QrCi){NAN, NAN, 0, 0};
                v[g * np + j] = z ? z->pass1 : NAN;
                lo[g * np + j] = ci.lo;
                hi[g * np + j] = ci.hi;
                if (z && z->pass1 > ymax) ymax = z->pass1;
                if (ci.defined && ci.hi > ymax) ymax = ci.hi;
            }
        char pt[64];
        short_attack(pt, sizeof pt, conds[k]);
        QrPanel p = {70 + (k % 2) * (pw + 70), 60 + (k / 2) * (ph + 70), pw, ph, 0, 1, 0, fmin(1, ceil(ymax * 10) / 10), 0, 0,
                     pt, NULL, "pass@1"};
        qr_svg_bar_panel(b, &p, ng, groups, np, colors, v, lo, hi);
    }
    qr_svg_legend(b, W - 120, 70, np, precs, colors, NULL);
    qr_svg_end(b);
    free(v);
    free(lo);
    free(hi);
    return 1;
}

// ------------------------------------------------------------- the report ----

static void pass_table(Tab *t, const QrCells *c, const QrReportOpts *o, QrSbuf *csv) {
    const char *h[] = {"model", "precision", "condition", "dataset", "tasks", "pass@1 %", "95% interval", "%Δ vs clean",
                       "95% interval", "McNemar p (clean vs this)", "McNemar p (orig vs quant)"};
    tab_begin(t);
    tab_row(t, 1, 11, h);
    qr_sb_puts(csv, "model,precision,condition,dataset,n_tasks,pass1,pass1_lo,pass1_hi,rel_drop,rel_drop_lo,rel_drop_hi,"
                    "mcnemar_p_clean_vs_condition,mcnemar_p_orig_vs_quant\n");
    for (int m = 0; m < c->n_models; m++)
        for (int k = 0; k < 5; k++)
            for (int i = 0; i < c->n; i++) {
                const QrCell *x = &c->cells[i];
                if (strcmp(x->model, c->models[m]) || strcmp(x->precision, PREC_ORDER[k])) continue;
                QrCi ci = pass_ci(x, o), dci = {NAN, NAN, 0, 0};
                const QrCell *cl = find(c, x->model, x->precision, "clean", x->dataset);
                double drop = NAN, p_ca = NAN, p_oq = NAN;
                if (cl && x->c.kind != QR_COND_CLEAN) {
                    drop = qr_rel_drop(cl->pass1, x->pass1);
                    if (cl->n_tasks && x->n_tasks) {
                        const QrCell *cs[2] = {cl, x};
                        double *s[2];
                        unsigned char *f[2];
                        int n = align(cs, 2, s, f);
                        drop = qr_rel_drop(qr_mean(s[0], n), qr_mean(s[1], n));
                        dci = qr_boot_rel_drop(s[0], s[1], n, o->bootstrap, o->seed, o->alpha);
                        p_ca = mcnemar_of(f[0], f[1], n);
                        free_aligned(2, s, f);
                    }
                }
                const char *ref = ref_precision(c, x->model);
                const QrCell *orig = ref && qr_prec_is_quantized(x->precision) ? find(c, x->model, ref, x->cond, x->dataset) : NULL;
                if (orig && orig->n_tasks && x->n_tasks) {
                    const QrCell *cs[2] = {orig, x};
                    double *s[2];
                    unsigned char *f[2];
                    int n = align(cs, 2, s, f);
                    p_oq = mcnemar_of(f[0], f[1], n);
                    free_aligned(2, s, f);
                }
                char tasks[16], p1[16], pci[40], dr[16], dri[40], pa[16], po[16];
                snprintf(tasks, sizeof tasks, "%d", x->n_tasks);
                fmt_pct(p1, sizeof p1, x->pass1);
                if (ci.defined) snprintf(pci, sizeof pci, "[%.1f, %.1f]", 100 * ci.lo, 100 * ci.hi);
                else snprintf(pci, sizeof pci, "–");
                if (isnan(drop)) snprintf(dr, sizeof dr, "–");
                else snprintf(dr, sizeof dr, "%.1f%%", 100 * drop);
                if (dci.defined) snprintf(dri, sizeof dri, "[%.1f%%, %.1f%%]", 100 * dci.lo, 100 * dci.hi);
                else snprintf(dri, sizeof dri, "–");
                if (isnan(p_ca)) snprintf(pa, sizeof pa, "–");
                else snprintf(pa, sizeof pa, "%.3g", p_ca);
                if (isnan(p_oq)) snprintf(po, sizeof po, "–");
                else snprintf(po, sizeof po, "%.3g", p_oq);
                const char *row[] = {x->model, x->precision, x->cond, ds_title(x->dataset), c->from_csv ? "–" : tasks, p1, pci, dr, dri, pa, po};
                tab_row(t, 0, 11, row);
                csv_str(csv, x->model, 1);
                csv_str(csv, x->precision, 0);
                csv_str(csv, x->cond, 0);
                csv_str(csv, x->dataset, 0);
                qr_sb_printf(csv, ",%d", x->n_tasks);
                csv_num(csv, x->pass1);
                csv_num(csv, ci.lo);
                csv_num(csv, ci.hi);
                csv_num(csv, drop);
                csv_num(csv, dci.lo);
                csv_num(csv, dci.hi);
                csv_num(csv, p_ca);
                csv_num(csv, p_oq);
                qr_sb_putc(csv, '\n');
            }
    tab_end(t);
}

static const char *METHOD_TEXT =
    "RRS = (clean_orig - attack_orig) / (clean_quant - attack_quant): above 1 the quantized model lost less. "
    "Numbers are shown where both drops are positive; elsewhere an arrow gives the class decided by the sign of "
    "d_o - d_q alone: ↑ quantized more robust, ↓ original more robust, = equal (zero denominators, opposite signs, "
    "both improving). * marks cells whose 95% paired bootstrap interval of d_o - d_q excludes 0.";

int qr_report_write(const QrCells *c, const char *outdir, const QrReportOpts *o, QrReportSummary *sum, QrErr *e) {
    memset(sum, 0, sizeof *sum);
    if (mkdir(outdir, 0777) && errno != EEXIST) return qr_fail(e, "%s: cannot create: %s", outdir, strerror(errno));
    T1 *rows;
    int nr = build_table1(c, o, &rows);
    sum->table1_cells = nr;
    for (int i = 0; i < nr; i++) qr_shares_add(&sum->shares, rows[i].r.cls, rows[i].significant);
    int rc = 0;
    QrSbuf csv, md, html, svg;
    qr_sb_init(&csv);
    qr_sb_init(&md);
    qr_sb_init(&html);
    qr_sb_init(&svg);
    // table1.csv
    qr_sb_puts(&csv, "model,quant_precision,dataset,attack,n_tasks,clean_orig,attack_orig,clean_quant,attack_quant,"
                     "drop_orig,drop_quant,rrs,class,arrow,rrs_lo,rrs_hi,ddiff_lo,ddiff_hi,significant,"
                     "mcnemar_p_orig_clean_vs_attack,mcnemar_p_quant_clean_vs_attack\n");
    for (int i = 0; i < nr; i++) {
        const T1 *x = &rows[i];
        csv_str(&csv, x->model, 1);
        csv_str(&csv, x->qprec, 0);
        csv_str(&csv, x->dataset, 0);
        csv_str(&csv, x->attack, 0);
        qr_sb_printf(&csv, ",%d", x->n_common);
        csv_num(&csv, x->co->pass1);
        csv_num(&csv, x->ao->pass1);
        csv_num(&csv, x->cq->pass1);
        csv_num(&csv, x->aq->pass1);
        csv_num(&csv, x->r.d_orig);
        csv_num(&csv, x->r.d_quant);
        csv_num(&csv, x->r.rrs);
        qr_sb_printf(&csv, ",%s,%s", x->r.cls == QR_ROB_QUANT ? "quant" : x->r.cls == QR_ROB_ORIG ? "orig" : "equal",
                     qr_rob_arrow(x->r.cls));
        csv_num(&csv, x->rrs_ci.defined ? x->rrs_ci.lo : NAN);
        csv_num(&csv, x->rrs_ci.defined ? x->rrs_ci.hi : NAN);
        csv_num(&csv, x->dd_ci.defined ? x->dd_ci.lo : NAN);
        csv_num(&csv, x->dd_ci.defined ? x->dd_ci.hi : NAN);
        qr_sb_printf(&csv, ",%s", c->from_csv ? "" : x->significant ? "1" : "0");
        csv_num(&csv, x->p_orig);
        csv_num(&csv, x->p_quant);
        qr_sb_putc(&csv, '\n');
    }
    if (write_out(outdir, "table1.csv", &csv, sum, e)) { rc = -1; goto done; }
    qr_sb_clear(&csv);
    // Figures
    char figs[16][64];
    int nfig = 0;
    for (int d = 0; d < NDS && !rc; d++)
        for (int kind = 0; kind < 3 && !rc; kind++) {
            qr_sb_clear(&svg);
            int made = kind < 2 ? noise_figure(c, DATASETS[d], kind, o, &svg) : precision_figure(c, DATASETS[d], o, &svg);
            if (!made) continue;
            snprintf(figs[nfig], sizeof figs[0], "%s_%s.svg", kind == 0 ? "fig3_noise" : kind == 1 ? "noise_targets" : d < 2 ? "fig4_precision" : "fig5_precision",
                     DATASETS[d]);
            for (char *p = figs[nfig]; *p; p++)
                if (*p == '+') *p = 'p';
            if (write_out(outdir, figs[nfig], &svg, sum, e)) rc = -1;
            sum->n_svg++;
            nfig++;
        }
    if (rc) goto done;
    // Markdown and HTML from the same writers.
    char shares[1024];
    shares_text(shares, sizeof shares, &sum->shares, !c->from_csv);
    for (int fmt = 0; fmt < 2 && !rc; fmt++) {
        int ismd = fmt == 0;
        QrSbuf *b = ismd ? &md : &html;
        Tab t = {b, ismd};
        const char *title = o->title ? o->title : "qrobust report";
        if (!ismd) {
            qr_sb_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
            qr_sb_put_xml(b, title);
            qr_sb_puts(b, "</title>\n<style>body{font-family:Helvetica,Arial,sans-serif;margin:2em;color:#222;max-width:1500px}"
                          "table{border-collapse:collapse;margin:1em 0;font-size:13px}"
                          "td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}"
                          "td:first-child,th:first-child{text-align:left}th{background:#eef3f8}"
                          "figure{margin:1em 0}svg{max-width:100%;height:auto;border:1px solid #eee}</style></head><body>\n");
        }
        heading(b, ismd, 1, title);
        char line[512];
        snprintf(line, sizeof line, "%d models, %d cells (model x precision x condition x dataset)%s. Bootstrap: %d replicates, seed %llu, 95%% intervals.",
                 c->n_models, c->n, c->from_csv ? ", from published pass@1 values (no per-task data: no intervals, no tests)" : "",
                 o->bootstrap, (unsigned long long)o->seed);
        para(b, ismd, line);
        heading(b, ismd, 2, "Table I: Relative Robustness Score (RRS) under prompt attacks");
        table1(&t, c, rows, nr);
        para(b, ismd, METHOD_TEXT);
        heading(b, ismd, 2, "Summary");
        para(b, ismd, nr ? shares : "No complete (clean, attack) x (original, quantized) quadruple: Table I is empty.");
        heading(b, ismd, 2, "Figures");
        if (!nfig) para(b, ismd, "No noise or precision data to plot.");
        for (int f = 0; f < nfig; f++) {
            if (ismd) {
                qr_sb_printf(b, "![%s](%s)\n\n", figs[f], figs[f]);
            } else {
                // Inline: the page is self-contained.
                char path[1200], *svgtxt;
                size_t len;
                snprintf(path, sizeof path, "%s/%s", outdir, figs[f]);
                if (qr_read_file(path, &svgtxt, &len, e)) { rc = -1; break; }
                qr_sb_puts(b, "<figure>\n");
                qr_sb_puts(b, svgtxt);
                qr_sb_puts(b, "<figcaption>");
                qr_sb_put_xml(b, figs[f]);
                qr_sb_puts(b, "</figcaption></figure>\n");
                free(svgtxt);
            }
        }
        para(b, ismd, "fig3_noise_*: pass@1 against weight-noise level for the original, int8 and nf4 models, all "
                      "parameters perturbed (like for like). noise_targets_*: for each quantized model, the same "
                      "curves for the targets all, pre-quant, post-quant and unquantized-only; the study's harness "
                      "perturbed only parameters requiring gradients, which in bitsandbytes models excludes every "
                      "quantized weight (= unquantized-only), so its quantized models saw far less noise. "
                      "fig4/fig5_precision_*: pass@1 of each precision, clean and under each prompt attack.");
        heading(b, ismd, 2, "pass@1 per cell");
        qr_sb_clear(&csv);
        pass_table(&t, c, o, &csv);
        if (!ismd) qr_sb_puts(b, "</body></html>\n");
    }
    if (rc) goto done;
    if (write_out(outdir, "pass_rates.csv", &csv, sum, e) || write_out(outdir, "report.md", &md, sum, e) ||
        write_out(outdir, "report.html", &html, sum, e))
        rc = -1;
done:
    free(rows);
    qr_sb_free(&csv);
    qr_sb_free(&md);
    qr_sb_free(&html);
    qr_sb_free(&svg);
    return rc;
}
