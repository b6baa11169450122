#include "eval/evaluate.h"
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "eval/judge.h"
#include "eval/metrics.h"
#include "util/fileio.h"
#include "util/sbuf.h"
#include "util/timer.h"

const char *qr_status_name(QrStatus s) {
    static const char *n[] = {"pass", "fail", "timeout", "error", "not-run"};
    return s <= QR_NOT_RUN ? n[s] : "?";
}

void qr_eval_options_default(QrEvalOptions *o) {
    memset(o, 0, sizeof *o);
    o->min_time = 1.0;    // EvalPlus DEFAULT_MIN_TIME_LIMIT
    o->time_factor = 4.0; // EvalPlus DEFAULT_GT_TIME_LIMIT_FACTOR
    o->set_cap = 60.0;    // EvalPlus EVALPLUS_TIMEOUT_PER_TASK
    o->wall_slack = 4.0;
    o->gt_cap = 600.0;
    o->mem_bytes = (size_t)4 << 30; // EvalPlus EVALPLUS_MAX_MEMORY_BYTES
    o->fsize_bytes = (size_t)64 << 20;
    o->nproc = 64;
    o->output_cap = 64 << 10;
}

// ---------------------------------------------------------------- ground truth

#define GT_OK 1     // the canonical solution returned (else it raised: blob holds the line)
#define GT_FLOATS 2 // EvalPlus is_floats(expected)
#define GT_SLOW 4   // decode and judge even when the bytes are identical (NaN inside)
#define GT_DIGEST 8 // the output was too big to ship: blob holds u64 size + SHA-256 of its marshal bytes

typedef struct {
    uint32_t n;
    uint8_t *blob;
    size_t len;
    uint32_t *off; // n + 1
    uint8_t *flags;
    float *cpu;     // canonical CPU seconds per test
    double *limit;  // CPU limit per test
    double set_cap; // CPU cap of the whole set
} GtSet;

typedef struct {
    GtSet set[2];
    QrOracle oracle;
} TaskRt;

struct QrEvaluator {
    const QrDataset *ds;
    QrEvalOptions o;
    QrSandbox *sb;
    TaskRt *t;
    QrGroundTruthInfo gt;
    int parallel;
    int job_base;
    size_t sanitize_failures; // programs qr_evaluator_sanitize returned unchanged
};

static int n_sets(const QrEvaluator *ev) { return qr_dataset_is_plus(ev->ds->kind) ? 2 : 1; }

static uint32_t n_tests(const QrEvaluator *ev, int task, int set) {
    const QrProblem *p = &ev->ds->tasks[task];
    switch (ev->ds->kind) {
    case QR_DS_HUMANEVAL: return 1; // one check(candidate) call
    case QR_DS_MBPP: return p->n_asserts;
    default: return set ? p->plus.n : p->base.n;
    }
}

static void gt_free(GtSet *g) {
    free(g->blob), free(g->off), free(g->flags), free(g->cpu), free(g->limit);
    memset(g, 0, sizeof *g);
}

static void gt_limits(QrEvaluator *ev, GtSet *g) {
    free(g->limit);
    g->limit = malloc((g->n + 1) * sizeof *g->limit);
    double sum = 0;
    for (uint32_t i = 0; i < g->n; i++) {
        double l = ev->o.time_factor * g->cpu[i];
        g->limit[i] = l > ev->o.min_time ? l : ev->o.min_time;
        sum += g->limit[i];
    }
    g->set_cap = (sum < ev->o.set_cap ? sum : ev->o.set_cap) + 1.0;
}

double qr_evaluator_time_limit(const QrEvaluator *ev, int task, int plus, int index) {
    const GtSet *g = &ev->t[task].set[plus ? 1 : 0];
    return index >= 0 && (uint32_t)index < g->n ? g->limit[index] : g->set_cap;
}

// ---------------------------------------------------------------- jobs

typedef struct {
    int task, set, sample; // sample -1: ground truth job
    const char *program;
    double est; // estimated cost, for scheduling big jobs first
    // A sanitizer job (sample -1 like ground truth): its own inputs, mode "sanitize".
    const uint8_t *own_inputs;
    size_t own_len;
    uint32_t own_n;
    // runtime
    int slot;
    QrWorker w;
    int started, exited, res_eof, out_eof, finished;
    long wait_status;
    double t_spawn, t_start, t_exit;
    uint8_t *rb;
    size_t rlen, rcap;
    char *cap;
    size_t cap_len, out_total;
    int ready, done, decided;
    uint32_t next, n;
    double in_wall, cpu0, in_cpu, cpu_now;
    clockid_t clk;
    int clk_ok;
    double atol;
    QrSetResult res;
    QrArena scratch;
    // ground truth collection
    QrSbuf gblob;
    uint32_t *goff;
    uint8_t *gflags;
    float *gcpu;
} Job;

typedef struct {
    QrEvaluator *ev;
    Job *jobs;
    int njobs;
    int zygote_dead;
} Run;

static Job *job_by_id(Run *r, int id) {
    int i = id - r->ev->job_base;
    return i >= 0 && i < r->njobs ? &r->jobs[i] : NULL;
}

static double read_cpu(Job *j) {
    if (!j->clk_ok) return j->cpu_now;
    struct timespec ts;
    if (clock_gettime(j->clk, &ts) == 0) j->cpu_now = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    else j->clk_ok = 0; // the process is gone
    return j->cpu_now;
}

static void decide(Job *j, QrStatus st, int idx, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void decide(Job *j, QrStatus st, int idx, const char *fmt, ...) {
    if (j->decided) return;
    j->decided = 1;
    j->res.status = st;
    j->res.first_fail = idx;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->res.detail, sizeof j->res.detail, fmt, ap);
    va_end(ap);
    if (st != QR_PASS) qr_sandbox_kill(&j->w); // fast check: nothing more to learn
}

static void on_event(void *ctx, int kind, int id, long value, const char *msg) {
    Run *r = ctx;
    Job *j = job_by_id(r, id);
    if (!j || j->finished) return;
    double now = qr_now();
    if (kind == 'S') {
        j->started = 1;
        j->w.pid = (pid_t)value;
        j->t_start = j->in_wall = now;
        j->clk_ok = clock_getcpuclockid(j->w.pid, &j->clk) == 0;
        j->cpu0 = j->in_cpu = read_cpu(j);
        if (j->decided) qr_sandbox_kill(&j->w);
    } else if (kind == 'X') {
        j->exited = 1;
        j->wait_status = value;
        j->t_exit = now;
    } else if (kind == 'F') {
        decide(j, QR_ERROR, -1, "sandbox could not fork a worker: %s", msg);
        j->exited = j->res_eof = j->out_eof = 1;
        j->t_exit = now;
    }
}

static void gt_record(Job *j, uint32_t i, uint8_t flags, float cpu, const void *data, size_t len) {
    if (!j->goff) {
        j->goff = calloc(j->n + 1, sizeof *j->goff);
        j->gflags = calloc(j->n + 1, 1);
        j->gcpu = calloc(j->n + 1, sizeof *j->gcpu);
    }
    if (i >= j->n) return;
    j->goff[i] = (uint32_t)j->gblob.len;
    j->gflags[i] = flags;
    j->gcpu[i] = cpu;
    qr_sb_putn(&j->gblob, data, len);
}

// Judges output i of a differential job.
static void judge_output(Run *r, Job *j, uint32_t i, const uint8_t *data, size_t len, int digest) {
    QrEvaluator *ev = r->ev;
    TaskRt *t = &ev->t[j->task];
    GtSet *g = &t->set[j->set];
    const uint8_t *exp = g->blob + g->off[i];
    size_t elen = g->off[i + 1] - g->off[i];
    if (!(g->flags[i] & GT_OK)) {
        decide(j, QR_FAIL, (int)i, "the canonical solution raised on this input (%.*s)", (int)(elen > 150 ? 150 : elen),
               (const char *)exp);
        return;
    }
    if ((g->flags[i] & GT_DIGEST) || digest) {
        // Outputs over 16 MiB are compared by the SHA-256 of their marshal
        // bytes: identical bytes are equal values; different bytes are taken
        // as different (exact for the data's huge outputs: lists of tuples).
        if (!(g->flags[i] & GT_DIGEST) || !digest || len != elen || memcmp(data, exp, len))
            decide(j, QR_FAIL, (int)i, "input %u: output differs from the expected one (%s output compared by digest)", i,
                   digest ? "a large" : "the expected large");
        return;
    }
    if (len == elen && !memcmp(data, exp, len) && !(g->flags[i] & GT_SLOW)) {
        if (j->atol == 0 && (g->flags[i] & GT_FLOATS)) j->atol = 1e-6; // EvalPlus's sticky atol
        return;
    }
    qr_arena_free(&j->scratch);
    qr_arena_init(&j->scratch, 0);
    QrErr e = {{0}};
    PyVal *out = pv_unmarshal(&j->scratch, data, len, NULL, &e);
    if (!out) {
        decide(j, QR_ERROR, (int)i, "undecodable output: %s", e.msg);
        return;
    }
    PyVal *expv = pv_unmarshal(&j->scratch, exp, elen, NULL, &e);
    const QrProblem *p = &ev->ds->tasks[j->task];
    PyVal *inp = NULL;
    if (t->oracle == QR_ORACLE_SURFACE_AREA || t->oracle == QR_ORACLE_DIGIT_DISTANCE || t->oracle == QR_ORACLE_FIND_ZERO)
        inp = qr_problem_input(p, j->set, i, &j->scratch, &e);
    char why[200];
    if (!expv || !qr_judge(t->oracle, inp, out, expv, &j->atol, why, sizeof why))
        decide(j, QR_FAIL, (int)i, "input %u: %s", i, expv ? why : "expected output unreadable");
}

static void handle_frame(Run *r, Job *j, const uint8_t *f, size_t len) {
    int kind = f[0];
    const uint8_t *p = f + 1;
    size_t n = len - 1;
    double now = qr_now();
    int32_t idx = -1;
    double cpu = 0;
    if (kind == 'O' || kind == 'P' || kind == 'H') {
        if (n < 12) {
            decide(j, QR_ERROR, (int)j->next, "worker protocol violation (short frame)");
            return;
        }
        memcpy(&idx, p, 4);
        memcpy(&cpu, p + 4, 8);
        p += 12, n -= 12;
    } else if (kind == 'E' || kind == 'F') {
        if (n < 4) {
            decide(j, QR_ERROR, (int)j->next, "worker protocol violation (short frame)");
            return;
        }
        memcpy(&idx, p, 4);
        p += 4, n -= 4;
    }
    int gt = j->sample < 0;
    switch (kind) {
    case 'R':
        j->ready = 1;
        j->in_wall = now;
        j->in_cpu = read_cpu(j);
        break;
    case 'O':
    case 'H':
    case 'P':
        if (!j->ready || idx != (int32_t)j->next || j->next >= j->n) {
            decide(j, QR_ERROR, (int)j->next, "worker protocol violation (result %d out of order)", idx);
            return;
        }
        if (gt) {
            uint8_t flags = GT_OK;
            if (kind == 'H') flags |= GT_DIGEST;
            if (kind == 'O') {
                QrArena a;
                qr_arena_init(&a, 0);
                QrErr e;
                PyVal *v = pv_unmarshal(&a, p, n, NULL, &e);
                if (v && pv_is_floats(v)) flags |= GT_FLOATS;
                if (!v || qr_has_nan(v) || v->kind == PV_OPAQUE) flags |= GT_SLOW;
                qr_arena_free(&a);
            }
            gt_record(j, j->next, flags, (float)cpu, p, kind == 'P' ? 0 : n);
        } else if (kind != 'P' && !j->decided) {
            judge_output(r, j, j->next, p, n, kind == 'H');
        }
        j->next++;
        j->in_wall = now;
        j->in_cpu = read_cpu(j);
        break;
    case 'E':
    case 'F':
        if (gt && kind == 'E' && j->ready && idx == (int32_t)j->next && j->next < j->n) {
            gt_record(j, j->next, 0, 0, p, n); // the canonical solution raised: keep going
            j->next++;
            j->in_wall = now;
            j->in_cpu = read_cpu(j);
            break;
        }
        decide(j, kind == 'F' ? QR_FAIL : QR_ERROR, idx, "%.*s", (int)(n > 240 ? 240 : n), (const char *)p);
        break;
    case 'L': decide(j, QR_ERROR, -1, "loading the solution raised %.*s", (int)(n > 200 ? 200 : n), (const char *)p); break;
    case 'D':
        if (j->next != j->n) decide(j, QR_ERROR, (int)j->next, "worker protocol violation (done after %u of %u)", j->next, j->n);
        else j->done = 1;
        break;
    default: decide(j, QR_ERROR, (int)j->next, "worker protocol violation (frame kind 0x%02x)", kind);
    }
}

#define MAX_FRAME ((size_t)32 << 20) // outputs over 16 MiB come as digests

static void drain_results(Run *r, Job *j) {
    for (;;) {
        if (j->rcap - j->rlen < 65536) {
            size_t cap = j->rcap ? j->rcap * 2 : 1 << 16;
            uint8_t *nb = realloc(j->rb, cap);
            if (!nb) {
                decide(j, QR_ERROR, (int)j->next, "supervisor out of memory");
                j->res_eof = 1;
                return;
            }
            j->rb = nb, j->rcap = cap;
        }
        ssize_t got = read(j->w.res_fd, j->rb + j->rlen, j->rcap - j->rlen);
        if (got == 0) {
            j->res_eof = 1;
            break;
        }
        if (got < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) j->res_eof = 1;
            break;
        }
        j->rlen += (size_t)got;
        size_t pos = 0;
        while (j->rlen - pos >= 4) {
            uint32_t fl;
            memcpy(&fl, j->rb + pos, 4);
            if (fl == 0 || fl > MAX_FRAME) {
                decide(j, QR_ERROR, (int)j->next, "worker protocol violation (frame of %u bytes)", fl);
                j->rlen = pos = 0;
                j->res_eof = 1; // ignore the rest
                return;
            }
            if (j->rlen - pos < 4 + (size_t)fl) break;
            handle_frame(r, j, j->rb + pos + 4, fl);
            pos += 4 + fl;
        }
        memmove(j->rb, j->rb + pos, j->rlen - pos);
        j->rlen -= pos;
    }
}

static void drain_output(QrEvaluator *ev, Job *j) {
    char buf[65536];
    for (;;) {
        ssize_t got = read(j->w.out_fd, buf, sizeof buf);
        if (got == 0) {
            j->out_eof = 1;
            return;
        }
        if (got < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) j->out_eof = 1;
            return;
        }
        j->out_total += (size_t)got;
        if (j->sample >= 0 && j->set == 0 && j->cap_len < ev->o.output_cap) {
            size_t take = ev->o.output_cap - j->cap_len < (size_t)got ? ev->o.output_cap - j->cap_len : (size_t)got;
            if (!j->cap) j->cap = malloc(ev->o.output_cap + 1);
            if (j->cap) {
                memcpy(j->cap + j->cap_len, buf, take);
                j->cap_len += take;
            }
        }
    }
}

// The limits are on CPU time, measured by this process on the worker's CPU
// clock, so that a loaded machine does not turn correct samples into
// timeouts. Wall-clock limits (wall_slack x the CPU limit) only apply to a
// worker that is not computing -- one that got less than IDLE_SHARE of a CPU
// over that time, i.e. sleeps or blocks -- since a computing worker is caught
// by its CPU limit. A worker that neither computes nor finishes is stopped
// at HARD_WALL x wall_slack x the set's cap whatever it does.
#define IDLE_SHARE 0.05
#define HARD_WALL 10.0

static void check_limits(QrEvaluator *ev, Job *j, double now) {
    if (!j->started || j->decided || j->exited) return;
    double cpu = read_cpu(j);
    GtSet *g = &ev->t[j->task].set[j->set];
    double cap = j->sample < 0 ? ev->o.gt_cap : g->set_cap;
    double slack = ev->o.wall_slack;
    int at = j->ready ? (int)j->next : -1;
    double set_cpu = cpu - j->cpu0, set_wall = now - j->t_start;
    if (set_cpu > cap) {
        decide(j, QR_TIMEOUT, at, "test set over its cap of %.1f s CPU", cap);
        return;
    }
    if ((set_wall > cap * slack && set_cpu < IDLE_SHARE * set_wall) || set_wall > HARD_WALL * cap * slack) {
        decide(j, QR_TIMEOUT, at, "test set idle over %.1f s wall-clock", set_wall);
        return;
    }
    if (j->sample >= 0 && j->ready && j->next < j->n) {
        double l = g->limit[j->next], c = cpu - j->in_cpu, w = now - j->in_wall;
        if (c > l) decide(j, QR_TIMEOUT, at, "input %d: over %.2f s CPU", at, l);
        else if (w > l * slack && c < IDLE_SHARE * w) decide(j, QR_TIMEOUT, at, "input %d: idle over %.2f s wall-clock", at, l * slack);
    }
}

static void describe_exit(Job *j) {
    int st = (int)j->wait_status;
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        decide(j, QR_ERROR, j->ready ? (int)j->next : -1, "worker killed by signal %d (%s)%s", sig, strsignal(sig),
               sig == SIGXCPU ? ": CPU limit" : sig == SIGKILL ? " (memory/limit or killed)" : "");
    } else if (WIFEXITED(st)) {
        decide(j, QR_ERROR, j->ready ? (int)j->next : -1, "worker exited (status %d) before finishing its tests",
               WEXITSTATUS(st));
    } else {
        decide(j, QR_ERROR, -1, "worker ended without a verdict");
    }
}

static int spawn_job(QrEvaluator *ev, Run *r, Job *j, int slot, QrErr *e) {
    const QrDataset *ds = ev->ds;
    const QrProblem *p = &ds->tasks[j->task];
    int gt = j->sample < 0;
    QrSpawn s = {0};
    int plusds = qr_dataset_is_plus(ds->kind);
    if (plusds) s.mode = gt ? "gt" : "diff";
    else s.mode = ds->kind == QR_DS_HUMANEVAL ? "humaneval" : "asserts";
    s.code = j->program;
    s.entry = p->entry_point;
    s.test = p->test;
    s.asserts = (const char *const *)p->asserts;
    s.n_asserts = ds->kind == QR_DS_MBPP ? (int)p->n_asserts : 0;
    s.inputs_fd = -1;
    s.not_none = gt && ev->t[j->task].oracle == QR_ORACLE_NOT_NONE;
    s.mem_bytes = gt ? ev->o.gt_mem_bytes : ev->o.mem_bytes;
    GtSet *g = &ev->t[j->task].set[j->set];
    double cap = gt ? ev->o.gt_cap : g->set_cap;
    s.cpu_seconds = (int)ceil(cap) + 2; // the kernel's backstop behind our own CPU accounting
    s.fsize_bytes = ev->o.fsize_bytes;
    s.nproc = ev->o.nproc;
    s.nofile = 1024;
    if (j->own_inputs) {
        s.mode = "sanitize";
        s.mem_bytes = ev->o.mem_bytes;
        s.inputs_fd = qr_memfd_sealed("qrobust-sanitize", j->own_inputs, j->own_len, e);
        if (s.inputs_fd < 0) return -1;
    } else if (plusds) {
        const QrInputs *in = j->set ? &p->plus : &p->base;
        s.inputs_fd = qr_memfd_sealed("qrobust-inputs", in->data, in->len, e);
        if (s.inputs_fd < 0) return -1;
    }
    j->slot = slot;
    j->n = j->own_inputs ? j->own_n : n_tests(ev, j->task, j->set);
    j->atol = p->atol;
    j->res.first_fail = -1;
    j->res.n_tests = (int)j->n;
    j->t_spawn = qr_now();
    qr_arena_init(&j->scratch, 0);
    qr_sb_init(&j->gblob);
    int rc = qr_sandbox_spawn(ev->sb, slot, ev->job_base + (int)(j - r->jobs), &s, &j->w, e);
    if (s.inputs_fd >= 0) close(s.inputs_fd);
    return rc;
}

static void gt_note_failure(QrEvaluator *ev, int task, int set, uint32_t i, const char *why, size_t len) {
    ev->gt.n_failed++;
    size_t fl = strlen(ev->gt.failures);
    if (fl + 100 < sizeof ev->gt.failures)
        snprintf(ev->gt.failures + fl, sizeof ev->gt.failures - fl, "%s%s %s#%u: %.*s", fl ? "; " : "",
                 ev->ds->tasks[task].task_id, set ? "plus" : "base", i, (int)(len > 80 ? 80 : len), why);
}

// Moves a finished ground-truth job's data into the evaluator. Tests the
// canonical solution did not pass (raised, or never reached) get flags 0 and
// the reason as their "output"; samples then fail them.
static void gt_store(QrEvaluator *ev, Job *j) {
    GtSet *g = &ev->t[j->task].set[j->set];
    gt_free(g);
    g->n = j->n;
    if (!j->goff) gt_record(j, j->n, 0, 0, "", 0); // allocates only
    if (!j->done) {
        const char *why = j->decided ? j->res.detail : "the worker ended early";
        for (uint32_t i = j->next; i < j->n; i++) gt_record(j, i, 0, 0, why, strlen(why));
    }
    g->off = j->goff;
    g->off[j->n] = (uint32_t)j->gblob.len;
    g->flags = j->gflags;
    g->cpu = j->gcpu;
    g->len = j->gblob.len;
    g->blob = (uint8_t *)qr_sb_take(&j->gblob);
    if (!g->blob) g->blob = calloc(1, 1);
    j->goff = NULL, j->gflags = NULL, j->gcpu = NULL;
    gt_limits(ev, g);
}

static void gt_collect_failures(QrEvaluator *ev) {
    for (size_t t = 0; t < ev->ds->n_tasks; t++)
        for (int s = 0; s < 2; s++) {
            GtSet *g = &ev->t[t].set[s];
            for (uint32_t i = 0; i < g->n; i++)
                if (!(g->flags[i] & GT_OK))
                    gt_note_failure(ev, (int)t, s, i, (const char *)g->blob + g->off[i], g->off[i + 1] - g->off[i]);
        }
}

static void job_cleanup(Job *j) {
    free(j->rb);
    free(j->cap);
    free(j->goff), free(j->gflags), free(j->gcpu);
    qr_sb_free(&j->gblob);
    qr_arena_free(&j->scratch);
    j->rb = NULL, j->cap = NULL, j->goff = NULL, j->gflags = NULL, j->gcpu = NULL;
}

static int est_cmp(const void *a, const void *b) {
    const Job *x = a, *y = b;
    return x->est < y->est ? 1 : x->est > y->est ? -1 : 0;
}

// Runs all jobs to completion with ev->parallel workers. done_cb after each.
static int run_jobs(QrEvaluator *ev, Job *jobs, int njobs, void (*done_cb)(QrEvaluator *, Job *, void *), void *cb_ctx,
                    QrErr *e) {
    Run r = {ev, jobs, njobs, 0};
    int P = ev->parallel;
    int *slot_job = malloc((size_t)P * sizeof *slot_job);
    struct pollfd *pf = malloc((size_t)(2 * P + 1) * sizeof *pf);
    int *pf_job = malloc((size_t)(2 * P + 1) * sizeof *pf_job);
    if (!slot_job || !pf || !pf_job) {
        free(slot_job), free(pf), free(pf_job);
        return qr_fail(e, "out of memory");
    }
    for (int s = 0; s < P; s++) slot_job[s] = -1;
    int next = 0, finished = 0, rc = 0;
    while (finished < njobs) {
        for (int s = 0; s < P && next < njobs && rc == 0; s++) {
            if (slot_job[s] >= 0) continue;
            Job *j = &jobs[next];
            if (spawn_job(ev, &r, j, s, e)) {
                rc = -1;
                break;
            }
            slot_job[s] = next++;
        }
        if (rc) break;
        int np = 0;
        pf[np] = (struct pollfd){qr_sandbox_ctrl_fd(ev->sb), POLLIN, 0};
        pf_job[np++] = -1;
        for (int s = 0; s < P; s++) {
            if (slot_job[s] < 0) continue;
            Job *j = &jobs[slot_job[s]];
            if (!j->res_eof) pf[np] = (struct pollfd){j->w.res_fd, POLLIN, 0}, pf_job[np++] = slot_job[s];
            if (!j->out_eof) pf[np] = (struct pollfd){j->w.out_fd, POLLIN, 0}, pf_job[np++] = slot_job[s];
        }
        int pr = poll(pf, (nfds_t)np, 10);
        if (pr < 0 && errno != EINTR) {
            rc = qr_fail(e, "poll: %s", strerror(errno));
            break;
        }
        if (pf[0].revents) {
            QrErr pe;
            if (qr_sandbox_pump(ev->sb, on_event, &r, &pe)) {
                // The zygote died (only possible without uid separation):
                // every running job gets an error; a new zygote takes over.
                for (int s = 0; s < P; s++) {
                    if (slot_job[s] < 0) continue;
                    Job *j = &jobs[slot_job[s]];
                    decide(j, QR_ERROR, -1, "sandbox zygote died during this run");
                    qr_sandbox_kill(&j->w);
                    j->exited = j->res_eof = j->out_eof = 1;
                    j->t_exit = qr_now();
                }
                if (qr_sandbox_restart(ev->sb, e)) {
                    rc = -1;
                    break;
                }
            }
        }
        for (int k = 1; k < np; k++) {
            if (!pf[k].revents) continue;
            Job *j = &jobs[pf_job[k]];
            if (pf[k].fd == j->w.res_fd) drain_results(&r, j);
            else drain_output(ev, j);
        }
        double now = qr_now();
        for (int s = 0; s < P; s++) {
            if (slot_job[s] < 0) continue;
            Job *j = &jobs[slot_job[s]];
            check_limits(ev, j, now);
            // After the zygote reported the exit (and killed the uid), the
            // pipes close; allow 2 s for stragglers, then stop waiting.
            int gone = j->exited && ((j->res_eof && j->out_eof) || now - j->t_exit > 2.0);
            if (!gone) continue;
            if (!j->res_eof) drain_results(&r, j);
            if (j->sample >= 0 && !j->decided) {
                if (j->done) j->res.status = QR_PASS, j->decided = 1;
                else describe_exit(j);
            }
            j->res.wall_s = (j->t_exit > j->t_start && j->t_start > 0 ? j->t_exit - j->t_start : 0);
            qr_sandbox_release(ev->sb, &j->w);
            j->finished = 1;
            slot_job[s] = -1;
            finished++;
            if (done_cb) done_cb(ev, j, cb_ctx);
        }
    }
    if (rc) { // stop whatever still runs
        for (int s = 0; s < P; s++) {
            if (slot_job[s] < 0) continue;
            Job *j = &jobs[slot_job[s]];
            qr_sandbox_kill(&j->w);
            qr_sandbox_release(ev->sb, &j->w);
        }
    }
    ev->job_base += njobs;
    free(slot_job), free(pf), free(pf_job);
    return rc;
}

// ---------------------------------------------------------------- cache

static void cache_path(QrEvaluator *ev, char *out, size_t n) {
    const char *dir = ev->o.cache_dir;
    char tmp[400];
    if (!dir) dir = getenv("QROBUST_CACHE");
    if (!dir || !*dir) {
        const char *x = getenv("XDG_CACHE_HOME");
        const char *h = getenv("HOME");
        if (x && *x) snprintf(tmp, sizeof tmp, "%s/qrobust", x);
        else snprintf(tmp, sizeof tmp, "%s/.cache/qrobust", h && *h ? h : "/tmp");
        dir = tmp;
    }
    snprintf(out, n, "%s/expected-%.16s-py%s-%s.bin", dir, ev->ds->sha256, qr_sandbox_info(ev->sb)->python_version,
             qr_sandbox_harness_id());
}

static int mkdir_p(const char *path) {
    char p[512];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(p, 0700);
            *s = '/';
        }
    return mkdir(p, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

static void put_u32(QrSbuf *b, uint32_t v) { qr_sb_putn(b, (const char *)&v, 4); }

static void cache_write(QrEvaluator *ev) {
    QrSbuf b;
    qr_sb_init(&b);
    qr_sb_putn(&b, "QRGT", 4);
    put_u32(&b, 1);
    put_u32(&b, (uint32_t)ev->ds->n_tasks);
    for (size_t t = 0; t < ev->ds->n_tasks; t++) {
        const char *id = ev->ds->tasks[t].task_id;
        put_u32(&b, (uint32_t)strlen(id));
        qr_sb_puts(&b, id);
        for (int s = 0; s < 2; s++) {
            GtSet *g = &ev->t[t].set[s];
            put_u32(&b, g->n);
            for (uint32_t i = 0; i < g->n; i++) {
                qr_sb_putc(&b, (char)g->flags[i]);
                qr_sb_putn(&b, (const char *)&g->cpu[i], 4);
                put_u32(&b, g->off[i + 1] - g->off[i]);
                qr_sb_putn(&b, (const char *)g->blob + g->off[i], g->off[i + 1] - g->off[i]);
            }
        }
    }
    char dir[512];
    snprintf(dir, sizeof dir, "%s", ev->gt.cache_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    QrErr e;
    if (mkdir_p(dir) == 0 && qr_write_file_atomic(ev->gt.cache_path, b.s, b.len, &e) == 0)
        chmod(ev->gt.cache_path, 0600); // expected outputs are not for workers' eyes
    qr_sb_free(&b);
}

static int cache_read(QrEvaluator *ev) {
    QrMap m;
    QrErr e;
    if (qr_map_file(&m, ev->gt.cache_path, &e)) return -1;
    const uint8_t *p = m.data, *end = m.data + m.size;
    int ok = 0;
#define NEED(k) \
    if ((size_t)(end - p) < (size_t)(k)) goto done
    uint32_t v;
    NEED(12);
    if (memcmp(p, "QRGT", 4)) goto done;
    memcpy(&v, p + 4, 4);
    if (v != 1) goto done;
    memcpy(&v, p + 8, 4);
    if (v != ev->ds->n_tasks) goto done;
    p += 12;
    for (size_t t = 0; t < ev->ds->n_tasks; t++) {
        NEED(4);
        memcpy(&v, p, 4);
        p += 4;
        NEED(v);
        if (v != strlen(ev->ds->tasks[t].task_id) || memcmp(p, ev->ds->tasks[t].task_id, v)) goto done;
        p += v;
        for (int s = 0; s < 2; s++) {
            GtSet *g = &ev->t[t].set[s];
            NEED(4);
            memcpy(&g->n, p, 4);
            p += 4;
            if (g->n != (s < n_sets(ev) ? n_tests(ev, (int)t, s) : 0)) goto done;
            g->off = malloc((g->n + 1) * sizeof *g->off);
            g->flags = malloc(g->n + 1);
            g->cpu = malloc((g->n + 1) * sizeof *g->cpu);
            QrSbuf blob;
            qr_sb_init(&blob);
            qr_sb_putn(&blob, "", 0);
            for (uint32_t i = 0; i < g->n; i++) {
                NEED(9);
                g->flags[i] = p[0];
                memcpy(&g->cpu[i], p + 1, 4);
                memcpy(&v, p + 5, 4);
                p += 9;
                if ((size_t)(end - p) < v) {
                    qr_sb_free(&blob);
                    goto done;
                }
                g->off[i] = (uint32_t)blob.len;
                qr_sb_putn(&blob, (const char *)p, v);
                p += v;
            }
            g->off[g->n] = (uint32_t)blob.len;
            g->len = blob.len;
            g->blob = (uint8_t *)qr_sb_take(&blob);
            gt_limits(ev, g);
        }
    }
    ok = p == end;
done:
#undef NEED
    qr_unmap(&m);
    if (!ok)
        for (size_t t = 0; t < ev->ds->n_tasks; t++) gt_free(&ev->t[t].set[0]), gt_free(&ev->t[t].set[1]);
    return ok ? 0 : -1;
}

static void gt_progress(QrEvaluator *ev, Job *j, void *ctx) {
    int *done = ctx;
    (void)j;
    (*done)++;
    if (ev->o.progress) ev->o.progress(ev->o.progress_ctx, "ground truth", *done, (int)ev->ds->n_tasks * n_sets(ev));
}

static int compute_ground_truth(QrEvaluator *ev, QrErr *e) {
    int ns = n_sets(ev);
    int njobs = (int)ev->ds->n_tasks * ns;
    Job *jobs = calloc((size_t)njobs, sizeof *jobs);
    if (!jobs) return qr_fail(e, "out of memory");
    for (int t = 0, k = 0; t < (int)ev->ds->n_tasks; t++)
        for (int s = 0; s < ns; s++, k++) {
            jobs[k].task = t, jobs[k].set = s, jobs[k].sample = -1;
            jobs[k].program = ev->ds->tasks[t].reference;
            jobs[k].est = n_tests(ev, t, s);
        }
    qsort(jobs, (size_t)njobs, sizeof *jobs, est_cmp);
    double t0 = qr_now();
    int done = 0;
    int rc = run_jobs(ev, jobs, njobs, gt_progress, &done, e);
    if (rc == 0)
        for (int k = 0; k < njobs; k++) gt_store(ev, &jobs[k]);
    for (int k = 0; k < njobs; k++) job_cleanup(&jobs[k]);
    free(jobs);
    ev->gt.seconds = qr_now() - t0;
    return rc;
}

int qr_evaluator_open(QrEvaluator **out, const QrDataset *ds, const QrEvalOptions *o, QrErr *e) {
    *out = NULL;
    QrEvaluator *ev = calloc(1, sizeof *ev);
    if (!ev) return qr_fail(e, "out of memory");
    ev->ds = ds;
    if (o) ev->o = *o;
    else qr_eval_options_default(&ev->o);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    ev->parallel = ev->o.parallel > 0 ? ev->o.parallel : (int)(cpus > 0 ? cpus : 1);
    if (ev->parallel > 256) ev->parallel = 256;
    ev->job_base = 1;
    ev->t = calloc(ds->n_tasks, sizeof *ev->t);
    if (!ev->t) {
        free(ev);
        return qr_fail(e, "out of memory");
    }
    for (size_t t = 0; t < ds->n_tasks; t++) ev->t[t].oracle = qr_oracle_for(ds->kind, ds->tasks[t].entry_point);
    if (qr_sandbox_open(&ev->sb, &ev->o.sandbox, e)) {
        free(ev->t);
        free(ev);
        return -1;
    }
    cache_path(ev, ev->gt.cache_path, sizeof ev->gt.cache_path);
    if (!ev->o.no_cache && cache_read(ev) == 0) {
        ev->gt.from_cache = 1;
    } else {
        // Limits for ground-truth jobs: no per-input limits, gt_cap for the set.
        for (size_t t = 0; t < ds->n_tasks; t++)
            for (int s = 0; s < 2; s++) ev->t[t].set[s].set_cap = ev->o.gt_cap;
        if (compute_ground_truth(ev, e)) {
            qr_evaluator_close(ev);
            return -1;
        }
        if (!ev->o.no_cache) cache_write(ev);
    }
    gt_collect_failures(ev);
    *out = ev;
    return 0;
}

const QrSandboxInfo *qr_evaluator_sandbox(const QrEvaluator *ev) { return qr_sandbox_info(ev->sb); }
const QrGroundTruthInfo *qr_evaluator_ground_truth(const QrEvaluator *ev) { return &ev->gt; }

void qr_evaluator_close(QrEvaluator *ev) {
    if (!ev) return;
    qr_sandbox_close(ev->sb);
    for (size_t t = 0; t < ev->ds->n_tasks; t++) gt_free(&ev->t[t].set[0]), gt_free(&ev->t[t].set[1]);
    free(ev->t);
    free(ev);
}

void qr_sample_result_free(QrSampleResult *r) {
    free(r->program);
    free(r->output);
    memset(r, 0, sizeof *r);
}

typedef struct {
    QrSampleResult *out;
    int *left; // jobs left per sample
    int done, total;
} SampleCtx;

static void sample_done(QrEvaluator *ev, Job *j, void *ctx) {
    SampleCtx *c = ctx;
    QrSampleResult *r = &c->out[j->sample];
    if (j->set == 0) {
        r->base = j->res;
        if (j->cap) {
            j->cap[j->cap_len] = 0;
            r->output = j->cap;
            j->cap = NULL;
        }
        r->output_total = j->out_total;
    } else {
        r->plus = j->res;
    }
    job_cleanup(j);
    if (--c->left[j->sample] == 0) {
        c->done++;
        if (ev->o.progress) ev->o.progress(ev->o.progress_ctx, "samples", c->done, c->total);
    }
}

int qr_evaluator_run(QrEvaluator *ev, const QrSample *samples, size_t n, QrSampleResult *out, QrErr *e) {
    memset(out, 0, n * sizeof *out);
    int ns = n_sets(ev);
    for (size_t i = 0; i < n; i++) {
        const QrProblem *p = samples[i].task_id ? qr_dataset_find(ev->ds, samples[i].task_id) : NULL;
        if (!p) {
            for (size_t k = 0; k < i; k++) qr_sample_result_free(&out[k]);
            return qr_fail(e, "sample %zu: unknown task_id '%s' for dataset %s", i,
                           samples[i].task_id ? samples[i].task_id : "(none)", ev->ds->name);
        }
        if (!samples[i].solution && !samples[i].completion) {
            for (size_t k = 0; k < i; k++) qr_sample_result_free(&out[k]);
            return qr_fail(e, "sample %zu (%s): neither solution nor completion", i, samples[i].task_id);
        }
        out[i].task = (int)(p - ev->ds->tasks);
        out[i].program = samples[i].solution ? strdup(samples[i].solution) : qr_problem_program(p, samples[i].completion);
        out[i].base.status = out[i].plus.status = QR_NOT_RUN;
        out[i].base.first_fail = out[i].plus.first_fail = -1;
    }
    size_t njobs = n * (size_t)ns;
    Job *jobs = calloc(njobs ? njobs : 1, sizeof *jobs);
    int *left = calloc(n ? n : 1, sizeof *left);
    if (!jobs || !left) {
        free(jobs), free(left);
        return qr_fail(e, "out of memory");
    }
    for (size_t i = 0, k = 0; i < n; i++)
        for (int s = 0; s < ns; s++, k++) {
            Job *j = &jobs[k];
            j->task = out[i].task, j->set = s, j->sample = (int)i;
            j->program = out[i].program;
            const GtSet *g = &ev->t[j->task].set[s];
            double est = 0;
            for (uint32_t t = 0; t < g->n; t++) est += g->cpu[t] + 2e-5;
            j->est = est;
            left[i]++;
        }
    // Longest jobs first keeps all workers busy until the end.
    qsort(jobs, njobs, sizeof *jobs, est_cmp);
    SampleCtx c = {out, left, 0, (int)n};
    int rc = run_jobs(ev, jobs, (int)njobs, sample_done, &c, e);
    for (size_t k = 0; k < njobs; k++) job_cleanup(&jobs[k]);
    free(jobs);
    free(left);
    return rc;
}

int qr_evaluator_sanitize(QrEvaluator *ev, const char *const *programs, const char *const *entry_points, size_t n,
                          char **out, QrErr *e) {
    memset(out, 0, n * sizeof *out);
    if (n == 0) return 0;
    int nj = ev->parallel < (int)n ? ev->parallel : (int)n;
    Job *jobs = calloc((size_t)nj, sizeof *jobs);
    QrSbuf *blobs = calloc((size_t)nj, sizeof *blobs);
    if (!jobs || !blobs) {
        free(jobs), free(blobs);
        return qr_fail(e, "out of memory");
    }
    // Program i goes to job i % nj, as a marshal list of (text, entry) tuples.
    QrArena a;
    qr_arena_init(&a, 0);
    for (int k = 0; k < nj; k++) {
        uint32_t cnt = (uint32_t)((n - (size_t)k + (size_t)nj - 1) / (size_t)nj);
        qr_sb_init(&blobs[k]);
        pv_marshal_list_header(&blobs[k], cnt);
        jobs[k].sample = -1;
        jobs[k].own_n = cnt;
        jobs[k].program = "";
    }
    for (size_t i = 0; i < n; i++) {
        PyVal *t = pv_container(&a, PV_TUPLE, 2);
        t->u.items[0] = pv_str(&a, programs[i], strlen(programs[i]));
        t->u.items[1] = entry_points && entry_points[i] ? pv_str(&a, entry_points[i], strlen(entry_points[i]))
                                                        : pv_new(&a, PV_NONE);
        pv_marshal(t, &blobs[i % (size_t)nj]);
    }
    qr_arena_free(&a);
    for (int k = 0; k < nj; k++) jobs[k].own_inputs = (const uint8_t *)blobs[k].s, jobs[k].own_len = blobs[k].len;
    int rc = run_jobs(ev, jobs, nj, NULL, NULL, e);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        Job *j = &jobs[i % (size_t)nj];
        uint32_t idx = (uint32_t)(i / (size_t)nj);
        PyVal *v = NULL;
        qr_arena_init(&a, 0);
        if (j->goff && idx < j->next && (j->gflags[idx] & GT_OK)) {
            uint32_t end = idx + 1 < j->next ? j->goff[idx + 1] : (uint32_t)j->gblob.len;
            v = pv_unmarshal(&a, j->gblob.s + j->goff[idx], end - j->goff[idx], NULL, NULL);
        }
        // the sanitizer never fails a program: when it cannot, the text stays as it was
        if (!(v && v->kind == PV_STR)) ev->sanitize_failures++;
        out[i] = v && v->kind == PV_STR ? strdup(v->u.s) : strdup(programs[i]);
        qr_arena_free(&a);
    }
    for (int k = 0; k < nj; k++) {
        job_cleanup(&jobs[k]);
        qr_sb_free(&blobs[k]);
    }
    free(jobs), free(blobs);
    return rc;
}

size_t qr_evaluator_sanitize_failures(const QrEvaluator *ev) { return ev->sanitize_failures; }

double qr_results_pass_at_k(const QrDataset *ds, const QrSampleResult *r, size_t n, int plus, int k) {
    int *tot = calloc(ds->n_tasks, sizeof *tot), *cor = calloc(ds->n_tasks, sizeof *cor);
    if (!tot || !cor) {
        free(tot), free(cor);
        return NAN;
    }
    for (size_t i = 0; i < n; i++) {
        tot[r[i].task]++;
        int ok = r[i].base.status == QR_PASS && (!plus || r[i].plus.status == QR_PASS);
        cor[r[i].task] += ok;
    }
    double sum = 0;
    int tasks = 0, defined = 1;
    for (size_t t = 0; t < ds->n_tasks; t++) {
        if (!tot[t]) continue;
        if (tot[t] < k) defined = 0;
        sum += qr_pass_at_k(tot[t], cor[t], k);
        tasks++;
    }
    free(tot), free(cor);
    return defined && tasks ? sum / tasks : NAN;
}
