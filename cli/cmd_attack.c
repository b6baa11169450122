// qrobust attack: write a perturbed copy of a benchmark and print statistics.
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attacks/prompt.h"
#include "cli/cli.h"
#include "eval/dataset.h"
#include "util/fileio.h"
#include "util/sbuf.h"
#include "util/timer.h"

static void usage(void) {
    printf("usage: qrobust attack --dataset D --attack A [--seed S] [--out FILE.jsonl] [--show N]\n"
           "                      [--p P] [--cap N] [--max-syn N] [--wordnet DIR] [--translator T]\n"
           "\n"
           "Perturbs the prompts of a benchmark and writes the perturbed benchmark as JSONL in the\n"
           "same schema: every record byte for byte as in the input file except its \"prompt\"\n"
           "(for func-* attacks also \"entry_point\" and the function's name in the code fields),\n"
           "plus one added member \"qrobust_attack\" (attack, seed, engine, what changed). Prints per-\n"
           "attack statistics: share of prompts changed, mean characters and words changed (edit\n"
           "distances), mean units changed (letters, words, paragraphs, names, lines).\n"
           "\n"
           "The study's attacks change only the natural language of a prompt (MBPP+: the\n"
           "description line; HumanEval: docstring prose; signatures, code, >>> examples and their\n"
           "outputs stay byte-identical). Each task's randomness comes from (seed, attack, task_id):\n"
           "a task reproduces alone, whatever the order or thread count.\n"
           "\n"
           "  --dataset D      humaneval, humaneval+, mbpp, mbpp+, mbpp+v0.1.0 (the files in data/), or\n"
           "                   a JSONL file (gzip allowed) whose records have task_id and prompt\n"
           "  --attack A       one of: %s\n"
           "                   char: uppercase letters of the prose (p 0.5 per letter, at most --cap);\n"
           "                   word: WordNet synonyms (p 0.15 per eligible word, first --max-syn\n"
           "                   candidates); sentence: back-translation through --translator;\n"
           "                   func-*/fmt-*: ReCode-style renaming of the function / reformatting\n"
           "  --seed S         global seed (default 0)\n"
           "  --out FILE       write the perturbed dataset there (atomically); default: none\n"
           "  --show N         print the first N changed prompts as before/after diffs (default 0)\n"
           "  --p P            probability (char 0.5, word 0.15, fmt-newlines 0.1)\n"
           "  --cap N          char: most letters changed per prompt (default 5)\n"
           "  --max-syn N      word, func-synonym: synonym candidates per word (default 3)\n"
           "  --wordnet DIR    WordNet 3.0 dict directory (default $QROBUST_WORDNET or /usr/share/wordnet)\n"
           "  --translator T   sentence: apertium (default; Debian packages apertium, apertium-eng-spa,\n"
           "                   English->Spanish->English) or mbart:DIR (the study's mBART-50, English->\n"
           "                   German->English, from a HF checkpoint directory; see qrobust translate)\n"
           "  --quiet          no statistics\n"
           "\n"
           "examples:\n"
           "  qrobust attack --dataset mbpp+ --attack word --seed 1 --out mbpp+_word_s1.jsonl --show 3\n"
           "  qrobust attack --dataset humaneval --attack sentence --translator apertium --show 2\n",
           qr_attack_list());
}

// ---- JSONL records, edited in place -------------------------------------------------
//
// The benchmark files are edited as text: only the members that change are
// re-encoded and every other byte is copied. Decoding and re-encoding whole
// records would rewrite numbers (jansson prints doubles with 17 digits), could
// not hold Python big integers, and EvalPlus's MBPP+ contains bare Infinity
// tokens, which are not JSON. So a record is split into its top-level members
// (the string and bracket structure is all that is tracked) and each string
// value that is needed is decoded by jansson.

typedef struct {
    size_t ks, ke, vs, ve; // key (with quotes) and value bytes of one top-level member
} Member;

typedef struct {
    char *line;
    size_t len;
    Member *m;
    size_t nm;
    size_t close; // position of the closing '}'
} Record;

static size_t skip_ws(const char *s, size_t i, size_t n) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) i++;
    return i;
}

static size_t skip_string(const char *s, size_t i, size_t n) { // s[i] == '"'; returns index after the closing quote
    for (i++; i < n; i++) {
        if (s[i] == '\\') i++;
        else if (s[i] == '"') return i + 1;
    }
    return SIZE_MAX;
}

static int split_record(Record *r, QrErr *e) {
    const char *s = r->line;
    size_t n = r->len, i = skip_ws(s, 0, n), cap = 0;
    if (i >= n || s[i] != '{') return qr_fail(e, "not a JSON object");
    i = skip_ws(s, i + 1, n);
    while (i < n && s[i] != '}') {
        Member m;
        if (s[i] != '"' || (m.ke = skip_string(s, i, n)) == SIZE_MAX) return qr_fail(e, "bad member name at byte %zu", i);
        m.ks = i;
        i = skip_ws(s, m.ke, n);
        if (i >= n || s[i] != ':') return qr_fail(e, "':' expected at byte %zu", i);
        m.vs = i = skip_ws(s, i + 1, n);
        int depth = 0;
        while (i < n) {
            char c = s[i];
            if (c == '"') {
                if ((i = skip_string(s, i, n)) == SIZE_MAX) return qr_fail(e, "unterminated string");
                if (depth == 0) break;
                continue;
            }
            if (c == '{' || c == '[') depth++;
            else if (c == '}' || c == ']') {
                if (depth == 0) break;
                if (--depth == 0) {
                    i++;
                    break;
                }
            } else if (c == ',' && depth == 0) break;
            i++;
        }
        m.ve = i;
        while (m.ve > m.vs && (s[m.ve - 1] == ' ' || s[m.ve - 1] == '\t')) m.ve--;
        if (m.ve == m.vs) return qr_fail(e, "empty value at byte %zu", m.vs);
        if (r->nm == cap) {
            cap = cap ? 2 * cap : 16;
            Member *nm = realloc(r->m, cap * sizeof *nm);
            if (!nm) return qr_fail(e, "out of memory");
            r->m = nm;
        }
        r->m[r->nm++] = m;
        i = skip_ws(s, i, n);
        if (i < n && s[i] == ',') i = skip_ws(s, i + 1, n);
        else if (i >= n || s[i] != '}') return qr_fail(e, "',' or '}' expected at byte %zu", i);
    }
    if (i >= n) return qr_fail(e, "unterminated object");
    r->close = i;
    return 0;
}

static const Member *member(const Record *r, const char *key) {
    size_t kl = strlen(key);
    for (size_t i = 0; i < r->nm; i++)
        if (r->m[i].ke - r->m[i].ks == kl + 2 && !memcmp(r->line + r->m[i].ks + 1, key, kl)) return &r->m[i];
    return NULL;
}

// The string value of key (malloc'd), or NULL when absent or not a string.
static char *member_string(const Record *r, const char *key) {
    const Member *m = member(r, key);
    if (!m || r->line[m->vs] != '"') return NULL;
    json_t *j = json_loadb(r->line + m->vs, m->ve - m->vs, JSON_DECODE_ANY, NULL);
    char *s = j && json_is_string(j) ? strdup(json_string_value(j)) : NULL;
    json_decref(j);
    return s;
}

// Appends the JSON encoding of str (Python json.dumps style: ASCII, \uXXXX).
static void put_json_string(QrSbuf *b, const char *str) {
    json_t *j = json_string(str);
    char *enc = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
    qr_sb_puts(b, enc ? enc : "\"\"");
    free(enc);
    json_decref(j);
}

// ---- statistics -----------------------------------------------------------------------

static size_t levenshtein(const void *a, size_t na, const void *b, size_t nb, size_t elt,
                          int (*eq)(const void *, const void *)) {
    size_t *row = malloc((nb + 1) * sizeof *row);
    if (!row) return SIZE_MAX;
    for (size_t j = 0; j <= nb; j++) row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t sub = diag + !eq((const char *)a + (i - 1) * elt, (const char *)b + (j - 1) * elt);
            size_t best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    size_t d = row[nb];
    free(row);
    return d;
}

static int eq_byte(const void *a, const void *b) { return *(const char *)a == *(const char *)b; }

typedef struct {
    const char *s;
    size_t n;
} Span;

static int eq_span(const void *a, const void *b) {
    const Span *x = a, *y = b;
    return x->n == y->n && !memcmp(x->s, y->s, x->n);
}

static size_t split_spans(const char *s, Span **out, int lines) {
    size_t n = 0, cap = 0;
    Span *v = NULL;
    for (const char *p = s; *p;) {
        if (!lines)
            while (*p && isspace((unsigned char)*p)) p++;
        if (!*p) break;
        const char *q = p;
        if (lines) {
            while (*q && *q != '\n') q++;
        } else
            while (*q && !isspace((unsigned char)*q)) q++;
        if (n == cap) v = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof *v);
        v[n++] = (Span){p, (size_t)(q - p)};
        p = *q && lines ? q + 1 : q;
    }
    *out = v;
    return n;
}

static size_t word_distance(const char *a, const char *b) {
    Span *x, *y;
    size_t nx = split_spans(a, &x, 0), ny = split_spans(b, &y, 0);
    size_t d = levenshtein(x, nx, y, ny, sizeof(Span), eq_span);
    free(x);
    free(y);
    return d;
}

// A line diff of two prompts (longest common subsequence of lines).
static void show_diff(const char *id, const char *a, const char *b) {
    Span *x, *y;
    size_t nx = split_spans(a, &x, 1), ny = split_spans(b, &y, 1);
    size_t *L = calloc((nx + 1) * (ny + 1), sizeof *L);
    if (!L) return;
#define LL(i, j) L[(i) * (ny + 1) + (j)]
    for (size_t i = nx; i-- > 0;)
        for (size_t j = ny; j-- > 0;)
            LL(i, j) = eq_span(&x[i], &y[j]) ? LL(i + 1, j + 1) + 1 : (LL(i + 1, j) > LL(i, j + 1) ? LL(i + 1, j) : LL(i, j + 1));
    printf("--- %s (before)\n+++ %s (after)\n", id, id);
    size_t i = 0, j = 0;
    while (i < nx || j < ny) {
        if (i < nx && j < ny && eq_span(&x[i], &y[j])) {
            printf("  %.*s\n", (int)x[i].n, x[i].s);
            i++, j++;
        } else if (i < nx && (j == ny || LL(i + 1, j) >= LL(i, j + 1))) {
            printf("- %.*s\n", (int)x[i].n, x[i].s);
            i++;
        } else {
            printf("+ %.*s\n", (int)y[j].n, y[j].s);
            j++;
        }
    }
#undef LL
    free(L);
    free(x);
    free(y);
}

// ---- command ------------------------------------------------------------------------------

static const char *const CODE_FIELDS[] = {"canonical_solution", "test", "assertion", "contract"};

int cmd_attack(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    const char *dataset = NULL, *attack = NULL, *outp = NULL, *wndir = NULL, *trspec = "apertium", *v;
    long long seed = 0, show = 0, cap = -1, maxsyn = -1;
    double p = -1;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_flag_value(argc, argv, &i, "--dataset", &dataset))) {
        } else if ((r = cli_flag_value(argc, argv, &i, "--attack", &attack))) {
        } else if ((r = cli_flag_value(argc, argv, &i, "--out", &outp))) {
        } else if ((r = cli_flag_value(argc, argv, &i, "--wordnet", &wndir))) {
        } else if ((r = cli_flag_value(argc, argv, &i, "--translator", &trspec))) {
        } else if ((r = cli_flag_value(argc, argv, &i, "--seed", &v))) {
            if (r > 0 && cli_parse_int("--seed", v, &seed)) return 2;
        } else if ((r = cli_flag_value(argc, argv, &i, "--show", &v))) {
            if (r > 0 && cli_parse_int("--show", v, &show)) return 2;
        } else if ((r = cli_flag_value(argc, argv, &i, "--cap", &v))) {
            if (r > 0 && (cli_parse_int("--cap", v, &cap) || cap < 0)) return cap < 0 ? cli_dief("--cap must be >= 0") : 2;
        } else if ((r = cli_flag_value(argc, argv, &i, "--max-syn", &v))) {
            if (r > 0 && (cli_parse_int("--max-syn", v, &maxsyn) || maxsyn < 1 || maxsyn > 64))
                return cli_dief("--max-syn must be an integer in 1..64");
        } else if ((r = cli_flag_value(argc, argv, &i, "--p", &v))) {
            if (r > 0 && (cli_parse_double("--p", v, &p) || p < 0 || p > 1)) return cli_dief("--p must be in [0, 1]");
        } else if (cli_is_flag(argv, i, "--quiet")) {
            quiet = r = 1;
        } else return cli_dief("attack: unknown flag '%s' (see --help)", argv[i]);
        if (r < 0) return 2;
    }
    if (!dataset || !attack) return cli_dief("attack: --dataset and --attack are required (see --help)");
    QrErr e;
    QrAttackCfg cfg;
    QrAttackKind kind;
    if (qr_attack_parse(attack, &kind, &e)) return cli_die(&e);
    qr_attack_defaults(&cfg, kind, (uint64_t)seed);
    if (p >= 0) cfg.p = p;
    if (cap >= 0) cfg.cap = (int)cap;
    if (maxsyn > 0) cfg.max_syn = (int)maxsyn;

    // The dataset: a name (data/ file, prompts as the evaluation builds them) or a path.
    QrDataset ds = {0};
    QrDatasetKind dk;
    int named = qr_dataset_kind(dataset, &dk) == 0;
    const char *path = dataset;
    if (named) {
        if (qr_dataset_load(&ds, dataset, NULL, &e)) return cli_die(&e);
        path = ds.path;
    }
    char *buf;
    size_t blen;
    if (qr_read_file(path, &buf, &blen, &e)) {
        qr_dataset_free(&ds);
        return cli_die(&e);
    }
    size_t nrec = 0, rcap = 0;
    Record *rec = NULL;
    int rc = 2;
    QrAttackIn *in = NULL;
    QrAttackOut *out = NULL;
    char **prompts = NULL, **eps = NULL;
    size_t ntask = 0;
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        size_t ll = strlen(line);
        if (skip_ws(line, 0, ll) == ll) continue;
        if (nrec == rcap) rec = realloc(rec, (rcap = rcap ? 2 * rcap : 512) * sizeof *rec);
        rec[nrec] = (Record){line, ll, NULL, 0, 0};
        if (split_record(&rec[nrec], &e)) {
            qr_err_prefix(&e, "%s: record %zu", path, nrec + 1);
            nrec++;
            cli_die(&e);
            goto done;
        }
        nrec++;
    }
    // One attack input per task: named datasets in the evaluation's order and
    // with its prompts; files in record order with their "prompt" member.
    ntask = named ? ds.n_tasks : nrec;
    in = calloc(ntask ? ntask : 1, sizeof *in);
    out = calloc(ntask ? ntask : 1, sizeof *out);
    prompts = calloc(ntask ? ntask : 1, sizeof *prompts);
    eps = calloc(ntask ? ntask : 1, sizeof *eps);
    size_t *recof = calloc(ntask ? ntask : 1, sizeof *recof);
    char **ids = calloc(nrec ? nrec : 1, sizeof *ids);
    if (!in || !out || !prompts || !eps || !recof || !ids) {
        free(recof);
        free(ids);
        cli_dief("out of memory");
        goto done;
    }
    for (size_t r = 0; r < nrec; r++) ids[r] = member_string(&rec[r], "task_id");
    int bad = 0;
    for (size_t t = 0; t < ntask && !bad; t++) {
        if (named) {
            recof[t] = SIZE_MAX;
            for (size_t r = 0; r < nrec && recof[t] == SIZE_MAX; r++)
                if (ids[r] && !strcmp(ids[r], ds.tasks[t].task_id)) recof[t] = r;
            if (recof[t] == SIZE_MAX) {
                cli_dief("%s: no record for task %s", path, ds.tasks[t].task_id);
                bad = 1;
                break;
            }
            prompts[t] = strdup(ds.tasks[t].prompt);
            eps[t] = ds.tasks[t].entry_point ? strdup(ds.tasks[t].entry_point) : NULL;
        } else {
            recof[t] = t;
            prompts[t] = member_string(&rec[t], "prompt");
            eps[t] = member_string(&rec[t], "entry_point");
            if (!ids[t] || !prompts[t]) {
                cli_dief("%s: record %zu has no string %s", path, t + 1, ids[t] ? "prompt" : "task_id");
                bad = 1;
                break;
            }
        }
        in[t] = (QrAttackIn){ids[recof[t]], prompts[t], eps[t]};
    }
    if (bad) {
        free(recof);
        for (size_t r = 0; r < nrec; r++) free(ids[r]);
        free(ids);
        goto done;
    }
    char engine[256];
    double t0 = qr_now();
    if (qr_attack_run_with(&cfg, wndir, trspec, in, ntask, out, engine, sizeof engine, &e)) goto fail;
    double secs = qr_now() - t0;
    int translated = qr_attack_needs_translator(kind);

    // Statistics.
    size_t changed = 0, units = 0, failed = 0, dchar = 0, dword = 0, shown = 0;
    for (size_t t = 0; t < ntask; t++) {
        int ch = strcmp(in[t].prompt, out[t].prompt) != 0;
        changed += ch;
        units += (size_t)out[t].units;
        failed += (size_t)out[t].failed;
        if (ch) {
            dchar += levenshtein(in[t].prompt, strlen(in[t].prompt), out[t].prompt, strlen(out[t].prompt), 1, eq_byte);
            dword += word_distance(in[t].prompt, out[t].prompt);
            if ((long long)shown < show) {
                show_diff(in[t].task_id, in[t].prompt, out[t].prompt);
                shown++;
            }
        }
    }
    if (!quiet) {
        fprintf(stderr, "attack %s on %s (%zu prompts, seed %lld, engine %s): %.2f s\n", attack, dataset, ntask, seed,
                engine, secs);
        fprintf(stderr, "  prompts changed       %zu/%zu (%.1f%%)\n", changed, ntask, ntask ? 100.0 * changed / ntask : 0);
        fprintf(stderr, "  mean chars changed    %.2f per prompt (byte edit distance)\n", ntask ? (double)dchar / ntask : 0);
        fprintf(stderr, "  mean words changed    %.2f per prompt (word edit distance)\n", ntask ? (double)dword / ntask : 0);
        fprintf(stderr, "  mean units changed    %.2f per prompt (%s)\n", ntask ? (double)units / ntask : 0,
                kind == QR_ATTACK_CHAR ? "letters uppercased" : kind == QR_ATTACK_WORD ? "words replaced"
                : kind == QR_ATTACK_SENTENCE ? "paragraphs translated" : kind <= QR_ATTACK_FUNC_SYNONYM && kind > QR_ATTACK_SENTENCE ? "functions renamed" : "lines/line breaks");
        if (kind == QR_ATTACK_SENTENCE)
            fprintf(stderr, "  paragraphs kept       %zu (a protected chunk did not survive translation)\n", failed);
    }
    if (outp) {
        QrSbuf b;
        qr_sb_init(&b);
        for (size_t t = 0; t < ntask; t++) {
            const Record *r = &rec[recof[t]];
            // Members to replace, in record order.
            size_t pos = 0;
            for (size_t k = 0; k < r->nm; k++) {
                const Member *m = &r->m[k];
                char key[64];
                size_t kl = m->ke - m->ks - 2;
                if (kl >= sizeof key) continue;
                memcpy(key, r->line + m->ks + 1, kl);
                key[kl] = 0;
                char *nv = NULL;
                if (!strcmp(key, "prompt")) nv = strdup(out[t].prompt);
                else if (out[t].entry_point && !strcmp(key, "entry_point")) nv = strdup(out[t].entry_point);
                else if (out[t].entry_point && r->line[m->vs] == '"')
                    for (size_t f = 0; f < sizeof CODE_FIELDS / sizeof *CODE_FIELDS; f++)
                        if (!strcmp(key, CODE_FIELDS[f])) {
                            char *old = member_string(r, key);
                            if (old) nv = qr_rename_ident(old, in[t].entry_point, out[t].entry_point);
                            free(old);
                        }
                if (!nv) continue;
                qr_sb_putn(&b, r->line + pos, m->vs - pos);
                put_json_string(&b, nv);
                pos = m->ve;
                free(nv);
            }
            // A record without "prompt" (MBPP: the evaluation builds it) gets one.
            if (!member(r, "prompt")) {
                qr_sb_putn(&b, r->line + pos, r->close - pos);
                qr_sb_puts(&b, r->nm ? ", \"prompt\": " : "\"prompt\": ");
                put_json_string(&b, out[t].prompt);
                pos = r->close;
            }
            qr_sb_putn(&b, r->line + pos, r->close - pos);
            qr_sb_printf(&b, "%s\"qrobust_attack\": {\"attack\": \"%s\", \"seed\": %lld, \"units\": %d", r->nm || !member(r, "prompt") ? ", " : "",
                         attack, seed, out[t].units);
            qr_sb_puts(&b, ", \"engine\": ");
            put_json_string(&b, engine);
            if (translated) qr_sb_printf(&b, ", \"failed\": %d", out[t].failed);
            qr_sb_puts(&b, "}");
            qr_sb_putn(&b, r->line + r->close, r->len - r->close);
            qr_sb_putc(&b, '\n');
        }
        int w = qr_write_file_atomic(outp, b.s ? b.s : "", b.len, &e);
        qr_sb_free(&b);
        if (w) goto fail_ids;
        if (!quiet) fprintf(stderr, "  wrote %s\n", outp);
    }
    rc = 0;
    goto ids;
fail_ids:
fail:
    cli_die(&e);
ids:
    free(recof);
    for (size_t r = 0; r < nrec; r++) free(ids[r]);
    free(ids);
done:
    for (size_t t = 0; t < ntask; t++) {
        if (out) qr_attack_out_free(&out[t]);
        if (prompts) free(prompts[t]);
        if (eps) free(eps[t]);
    }
    free(in);
    free(out);
    free(prompts);
    free(eps);
    for (size_t r = 0; r < nrec; r++) free(rec[r].m);
    free(rec);
    free(buf);
    qr_dataset_free(&ds);
    return rc;
}
