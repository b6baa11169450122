#include "eval/samplefile.h"
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "util/fileio.h"

static char *keep(QrSampleSet *s, const char *str, size_t *cap) {
    if (s->n_strings == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        char **ns = realloc(s->strings, *cap * sizeof *ns);
        if (!ns) return NULL;
        s->strings = ns;
    }
    char *d = strdup(str);
    if (d) s->strings[s->n_strings++] = d;
    return d;
}

void qr_samples_free(QrSampleSet *s) {
    for (size_t i = 0; i < s->n_strings; i++) free(s->strings[i]);
    free(s->strings);
    free(s->s);
    memset(s, 0, sizeof *s);
}

int qr_samples_load(const char *path, const QrDataset *ds, QrSampleSet *out, QrErr *e) {
    memset(out, 0, sizeof *out);
    char *text;
    size_t len;
    if (qr_read_file(path, &text, &len, e)) return -1;
    size_t cap = 0, scap = 0, line = 0;
    int rc = 0;
    for (char *p = text, *next; p && *p && rc == 0; p = next) {
        line++;
        char *nl = memchr(p, '\n', len - (size_t)(p - text));
        next = nl ? nl + 1 : NULL;
        size_t n = nl ? (size_t)(nl - p) : len - (size_t)(p - text);
        int blank = 1;
        for (size_t i = 0; i < n; i++) blank &= isspace((unsigned char)p[i]) != 0;
        if (blank) continue;
        json_error_t je;
        json_t *o = json_loadb(p, n, 0, &je);
        if (!o || !json_is_object(o)) {
            rc = qr_fail(e, "%s:%zu: %s", path, line, o ? "not a JSON object" : je.text);
            json_decref(o);
            break;
        }
        json_t *tid = json_object_get(o, "task_id"), *sol = json_object_get(o, "solution"),
               *com = json_object_get(o, "completion");
        if (!json_is_string(tid)) rc = qr_fail(e, "%s:%zu: field 'task_id' missing or not a string", path, line);
        else if (sol && !json_is_string(sol)) rc = qr_fail(e, "%s:%zu: field 'solution' is not a string", path, line);
        else if (com && !json_is_string(com)) rc = qr_fail(e, "%s:%zu: field 'completion' is not a string", path, line);
        else if (!sol && !com) rc = qr_fail(e, "%s:%zu: neither 'solution' nor 'completion'", path, line);
        else if (ds && !qr_dataset_find(ds, json_string_value(tid)))
            rc = qr_fail(e, "%s:%zu: unknown task_id '%s' for dataset %s", path, line, json_string_value(tid), ds->name);
        if (rc == 0) {
            if (out->n == cap) {
                cap = cap ? cap * 2 : 256;
                QrSample *ns = realloc(out->s, cap * sizeof *ns);
                if (!ns) rc = qr_fail(e, "%s: out of memory", path);
                else out->s = ns;
            }
        }
        if (rc == 0) {
            QrSample *s = &out->s[out->n++];
            memset(s, 0, sizeof *s);
            // json strings may hold NUL; Python source cannot, so the first NUL ends it
            s->task_id = keep(out, json_string_value(tid), &scap);
            if (sol) s->solution = keep(out, json_string_value(sol), &scap);
            else s->completion = keep(out, json_string_value(com), &scap);
            if (!s->task_id || (!s->solution && !s->completion)) rc = qr_fail(e, "%s: out of memory", path);
        }
        json_decref(o);
    }
    free(text);
    if (rc == 0 && out->n == 0) rc = qr_fail(e, "%s: no samples (empty file)", path);
    if (rc) qr_samples_free(out);
    return rc;
}

static json_t *status_json(const QrSetResult *r) {
    return r->status == QR_NOT_RUN ? json_null() : json_string(qr_status_name(r->status));
}

static json_t *fail_tests(const QrDataset *ds, const QrProblem *p, const QrSetResult *r, int plus) {
    json_t *a = json_array();
    if (r->status == QR_PASS || r->status == QR_NOT_RUN || r->first_fail < 0) return a;
    if (qr_dataset_is_plus(ds->kind)) {
        QrArena ar;
        qr_arena_init(&ar, 0);
        QrErr e;
        PyVal *v = qr_problem_input(p, plus, (uint32_t)r->first_fail, &ar, &e);
        if (v) json_array_append_new(a, pv_to_json(v));
        qr_arena_free(&ar);
    } else if (ds->kind == QR_DS_MBPP && (uint32_t)r->first_fail < p->n_asserts) {
        json_array_append_new(a, json_string(p->asserts[r->first_fail]));
    }
    return a;
}

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

json_t *qr_results_json(const QrDataset *ds, QrEvaluator *ev, const QrSampleResult *r, size_t n, const QrRunInfo *info) {
    json_t *root = json_object();
    char date[32];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M", localtime(&now));
    json_object_set_new(root, "date", json_string(date));
    json_object_set_new(root, "hash", json_string(ds->sha256));
    json_object_set_new(root, "dataset", json_string(ds->name));
    json_object_set_new(root, "dataset_file", json_string(ds->path));
    int plus = qr_dataset_is_plus(ds->kind);
    json_t *evl = json_object();
    int counts[2][5] = {{0}};
    for (size_t i = 0; i < n; i++) {
        const QrProblem *p = &ds->tasks[r[i].task];
        json_t *arr = json_object_get(evl, p->task_id);
        if (!arr) json_object_set_new(evl, p->task_id, arr = json_array());
        json_t *o = json_object();
        json_object_set_new(o, "task_id", json_string(p->task_id));
        json_object_set_new(o, "solution", json_string(r[i].program ? r[i].program : ""));
        json_object_set_new(o, "base_status", status_json(&r[i].base));
        json_object_set_new(o, "plus_status", status_json(&r[i].plus));
        json_object_set_new(o, "base_fail_tests", fail_tests(ds, p, &r[i].base, 0));
        json_object_set_new(o, "plus_fail_tests", fail_tests(ds, p, &r[i].plus, 1));
        const QrSetResult *sets[2] = {&r[i].base, &r[i].plus};
        const char *names[2] = {"base", "plus"};
        for (int s = 0; s < 2; s++) {
            if (sets[s]->status == QR_NOT_RUN) continue;
            counts[s][sets[s]->status]++;
            char k[32];
            snprintf(k, sizeof k, "%s_first_fail", names[s]);
            json_object_set_new(o, k, sets[s]->first_fail >= 0 ? json_integer(sets[s]->first_fail) : json_null());
            snprintf(k, sizeof k, "%s_detail", names[s]);
            json_object_set_new(o, k, json_string(sets[s]->detail));
            snprintf(k, sizeof k, "%s_time_s", names[s]);
            json_object_set_new(o, k, json_real(sets[s]->wall_s));
        }
        if (r[i].output && r[i].output[0]) {
            json_object_set_new(o, "output", json_string(r[i].output)); // jansson checks UTF-8
            if (!json_object_get(o, "output")) json_object_set_new(o, "output", json_string("(not UTF-8)"));
            json_object_set_new(o, "output_bytes", json_integer((json_int_t)r[i].output_total));
        }
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "eval", evl);

    json_t *pk = json_object();
    for (int s = 0; s < 1 + plus; s++) {
        json_t *o = json_object();
        for (int k = 1; k <= 100; k *= 10) {
            double v = qr_results_pass_at_k(ds, r, n, s, k);
            char key[24];
            snprintf(key, sizeof key, "pass@%d", k);
            if (isfinite(v)) json_object_set_new(o, key, json_real(v));
        }
        json_object_set_new(pk, s ? "plus" : "base", o);
    }
    json_object_set_new(root, "pass_at_k", pk);
    json_t *cnt = json_object();
    for (int s = 0; s < 1 + plus; s++) {
        json_t *o = json_object();
        for (int st = 0; st < 4; st++) json_object_set_new(o, qr_status_name((QrStatus)st), json_integer(counts[s][st]));
        json_object_set_new(cnt, s ? "plus" : "base", o);
    }
    json_object_set_new(root, "status_counts", cnt);

    const QrSandboxInfo *si = qr_evaluator_sandbox(ev);
    json_object_set_new(root, "sandbox",
                        json_pack("{s:b, s:b, s:s, s:s, s:s}", "network_namespace", si->netns, "uid_separation",
                                  si->uid_drop, "python", si->python, "python_version", si->python_version, "note",
                                  si->note));
    const QrEvalOptions *o = info->opt;
    json_object_set_new(root, "limits",
                        json_pack("{s:f, s:f, s:f, s:f, s:I, s:I, s:i, s:i}", "min_time_s", o->min_time, "time_factor",
                                  o->time_factor, "set_cap_s", o->set_cap, "wall_slack", o->wall_slack, "memory_bytes",
                                  (json_int_t)o->mem_bytes, "file_size_bytes", (json_int_t)o->fsize_bytes, "nproc",
                                  o->nproc, "parallel", info->parallel));
    const QrGroundTruthInfo *gt = qr_evaluator_ground_truth(ev);
    json_object_set_new(root, "ground_truth",
                        json_pack("{s:b, s:o, s:s, s:i, s:s}", "from_cache", gt->from_cache, "seconds",
                                  num_or_null(gt->seconds), "cache", gt->cache_path, "canonical_failures", gt->n_failed,
                                  "failures", gt->failures));
    json_object_set_new(root, "timing", json_pack("{s:f, s:I}", "wall_s", info->wall_s, "samples", (json_int_t)n));
    return root;
}
