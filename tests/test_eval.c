// eval/evaluate + eval/sandbox on small real datasets (tests/fixtures/eval,
// written by tools/make_eval_fixtures.py from data/): canonical solutions
// pass, broken variants fail / time out / raise as they should, hostile
// samples never pass and never hurt the host, bad input is rejected.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "eval/evaluate.h"
#include "eval/postprocess.h"
#include "eval/samplefile.h"
#include "util/fileio.h"

#define FIX "tests/fixtures/eval/"

static QrEvaluator *open_ev(QrDataset *ds, const char *name, const char *file) {
    QrErr e;
    if (qr_dataset_load(ds, name, file, &e)) fail_msg("%s", e.msg);
    QrEvalOptions o;
    qr_eval_options_default(&o);
    o.parallel = 2;
    o.min_time = 0.5;     // quick timeouts for the broken samples
    o.wall_slack = 2.0;
    o.set_cap = 5.0;
    o.mem_bytes = (size_t)1 << 30; // 1 GiB: plenty for these tasks, quick to exhaust
    o.no_cache = 1;                // hermetic: expected outputs computed here
    QrEvaluator *ev;
    if (qr_evaluator_open(&ev, ds, &o, &e)) fail_msg("%s", e.msg);
    assert_int_equal(qr_evaluator_ground_truth(ev)->n_failed, 0);
    return ev;
}

static void run(QrEvaluator *ev, const QrSample *s, size_t n, QrSampleResult *r) {
    QrErr e;
    if (qr_evaluator_run(ev, s, n, r, &e)) fail_msg("%s", e.msg);
}

static void expect(const QrSampleResult *r, QrStatus base, QrStatus plus, const char *label) {
    if (r->base.status != base || r->plus.status != plus)
        fail_msg("%s: got base=%s (%s) plus=%s (%s), want %s/%s", label, qr_status_name(r->base.status), r->base.detail,
                 qr_status_name(r->plus.status), r->plus.detail, qr_status_name(base), qr_status_name(plus));
}

static void free_results(QrSampleResult *r, size_t n) {
    for (size_t i = 0; i < n; i++) qr_sample_result_free(&r[i]);
}

static void test_canonical_and_broken_humaneval_plus(void **st) {
    (void)st;
    QrDataset ds;
    QrEvaluator *ev = open_ev(&ds, "humaneval+", FIX "heplus.jsonl");
    const QrProblem *p0 = qr_dataset_find(&ds, "HumanEval/0");
    QrSample s[] = {
        {"HumanEval/0", NULL, p0->canonical_solution},
        {"HumanEval/2", ds.tasks[1].reference, NULL},
        {"HumanEval/32", ds.tasks[2].reference, NULL},
        {"HumanEval/53", ds.tasks[3].reference, NULL},
        // off by one: the last adjacent pair is never compared (caught by base input 2) ...
        {"HumanEval/0", NULL,
         "    s = sorted(numbers)\n    for i in range(len(s) - 2):\n        if s[i + 1] - s[i] < threshold:\n"
         "            return True\n    return False\n"},
        // ... and <= for < (passes the base tests, caught by plus input 11)
        {"HumanEval/0", NULL,
         "    s = sorted(numbers)\n    for i in range(len(s) - 1):\n        if s[i + 1] - s[i] <= threshold:\n"
         "            return True\n    return False\n"},
        // wrong return type
        {"HumanEval/0", NULL,
         "    s = sorted(numbers)\n    return str(any(s[i + 1] - s[i] < threshold for i in range(len(s) - 1)))\n"},
        // raises
        {"HumanEval/0", NULL, "    raise ValueError('boom')\n"},
        // never returns
        {"HumanEval/0", NULL, "    while True:\n        pass\n"},
        // allocates without bound
        {"HumanEval/0", NULL, "    return [0] * (10 ** 12)\n"},
        // sleeps forever (not computing: the wall-clock limit applies)
        {"HumanEval/0", NULL, "    import time\n    time.sleep(1000)\n"},
        // truncate_number off by 1e-7 (inside EvalPlus's float tolerance) and by 1e-3 (outside)
        {"HumanEval/2", NULL, "    return number % 1.0 + 1e-7\n"},
        {"HumanEval/2", NULL, "    return number % 1.0 + 1e-3\n"},
        // find_zero: any root within atol passes (special oracle), a non-root fails
        {"HumanEval/32", NULL,
         "    lo, hi = -1.0, 1.0\n    while poly(xs, lo) * poly(xs, hi) > 0:\n        lo *= 2.0\n        hi *= 2.0\n"
         "    for _ in range(200):\n        mid = (lo + hi) / 2\n        if poly(xs, mid) * poly(xs, lo) > 0:\n"
         "            lo = mid\n        else:\n            hi = mid\n    return lo\n"},
        {"HumanEval/32", NULL, "    return 12345.0\n"},
        // big-int inputs: x + y + 1 is wrong
        {"HumanEval/53", NULL, "    return x + y + 1\n"},
    };
    size_t n = sizeof s / sizeof *s;
    QrSampleResult r[sizeof s / sizeof *s];
    run(ev, s, n, r);
    for (int i = 0; i < 4; i++) expect(&r[i], QR_PASS, QR_PASS, ds.tasks[i].task_id);
    // off by one
    assert_int_equal(r[4].base.status, QR_FAIL);
    assert_int_equal(r[4].base.first_fail, 2);
    assert_non_null(strstr(r[4].base.detail, "input 2: expected True, got False"));
    expect(&r[5], QR_PASS, QR_FAIL, "<= for <");
    assert_int_equal(r[5].plus.first_fail, 11);
    expect(&r[6], QR_FAIL, QR_FAIL, "wrong type");
    assert_int_equal(r[6].base.first_fail, 0);
    assert_non_null(strstr(r[6].base.detail, "got 'True'"));
    expect(&r[7], QR_ERROR, QR_ERROR, "raises");
    assert_int_equal(r[7].base.first_fail, 0);
    assert_string_equal(r[7].base.detail, "ValueError: boom");
    expect(&r[8], QR_TIMEOUT, QR_TIMEOUT, "never returns");
    assert_int_equal(r[8].base.first_fail, 0);
    assert_non_null(strstr(r[8].base.detail, "CPU"));
    expect(&r[9], QR_ERROR, QR_ERROR, "unbounded allocation");
    assert_non_null(strstr(r[9].base.detail, "MemoryError"));
    expect(&r[10], QR_TIMEOUT, QR_TIMEOUT, "sleeps");
    assert_non_null(strstr(r[10].base.detail, "wall-clock"));
    expect(&r[11], QR_PASS, QR_PASS, "within atol");
    expect(&r[12], QR_FAIL, QR_FAIL, "outside atol");
    expect(&r[13], QR_PASS, QR_PASS, "find_zero by bisection");
    expect(&r[14], QR_FAIL, QR_FAIL, "find_zero wrong");
    assert_non_null(strstr(r[14].base.detail, "poly"));
    expect(&r[15], QR_FAIL, QR_FAIL, "add + 1");
    // the program of a completion is prompt + completion
    assert_string_equal(r[0].program, ds.tasks[0].reference);
    // limits: max(min_time, 4 x canonical CPU time)
    assert_true(qr_evaluator_time_limit(ev, 0, 0, 0) >= 0.5);
    free_results(r, n);
    qr_evaluator_close(ev);
    qr_dataset_free(&ds);
}

static void test_mbpp_plus_oracles(void **st) {
    (void)st;
    QrDataset ds;
    QrEvaluator *ev = open_ev(&ds, "mbpp+", FIX "mbppplus.jsonl");
    QrSample s[] = {
        {"Mbpp/2", ds.tasks[0].reference, NULL},
        {"Mbpp/3", ds.tasks[1].reference, NULL},
        {"Mbpp/124", ds.tasks[2].reference, NULL},
        {"Mbpp/787", ds.tasks[3].reference, NULL},
        // set-equality oracle: any order, any sequence type
        {"Mbpp/2", "def similar_elements(a, b):\n    return sorted(set(a) & set(b), reverse=True)\n", NULL},
        {"Mbpp/2", "def similar_elements(a, b):\n    return tuple(set(a) | set(b))\n", NULL},
        // not-None oracle: a bool is compared with `match is not None`
        {"Mbpp/787", "import re\ndef text_match_three(text):\n    return re.search('ab{3}?', text) is not None\n", NULL},
        {"Mbpp/787", "def text_match_three(text):\n    return None\n", NULL},
        // complex inputs arrive as complex numbers
        {"Mbpp/124", "def angle_complex(a, b):\n    assert isinstance(b, complex)\n    import cmath\n    return cmath.phase(a + b)\n", NULL},
    };
    size_t n = sizeof s / sizeof *s;
    QrSampleResult r[sizeof s / sizeof *s];
    run(ev, s, n, r);
    for (int i = 0; i < 4; i++) expect(&r[i], QR_PASS, QR_PASS, ds.tasks[i].task_id);
    expect(&r[4], QR_PASS, QR_PASS, "set-eq any order");
    expect(&r[5], QR_FAIL, QR_FAIL, "set-eq wrong");
    expect(&r[6], QR_PASS, QR_PASS, "not-None as bool");
    assert_true(r[7].base.status == QR_FAIL || r[7].plus.status == QR_FAIL);
    assert_true(r[7].base.status != QR_PASS || r[7].plus.status != QR_PASS);
    expect(&r[8], QR_PASS, QR_PASS, "complex inputs");
    free_results(r, n);
    qr_evaluator_close(ev);
    qr_dataset_free(&ds);
}

static void test_original_tests(void **st) {
    (void)st;
    QrDataset ds;
    QrEvaluator *ev = open_ev(&ds, "humaneval", FIX "humaneval.jsonl");
    QrSample s[] = {
        {"HumanEval/0", ds.tasks[0].reference, NULL},
        {"HumanEval/2", ds.tasks[1].reference, NULL},
        {"HumanEval/2", NULL, "    return 0.5\n"},
        {"HumanEval/2", NULL, "    return 1 / 0\n"},
    };
    QrSampleResult r[4];
    run(ev, s, 4, r);
    expect(&r[0], QR_PASS, QR_NOT_RUN, "HumanEval/0");
    expect(&r[1], QR_PASS, QR_NOT_RUN, "HumanEval/2");
    expect(&r[2], QR_FAIL, QR_NOT_RUN, "wrong");
    assert_int_equal(r[2].base.first_fail, 1); // check()'s second assert (the first, 3.5 -> 0.5, holds)
    expect(&r[3], QR_ERROR, QR_NOT_RUN, "raises");
    assert_non_null(strstr(r[3].base.detail, "ZeroDivisionError"));
    free_results(r, 4);
    qr_evaluator_close(ev);
    qr_dataset_free(&ds);

    ev = open_ev(&ds, "mbpp", FIX "mbpp.jsonl");
    QrSample m[] = {
        {"Mbpp/11", ds.tasks[0].reference, NULL},
        {"Mbpp/12", ds.tasks[1].reference, NULL},
        // right on the first test, wrong on the second
        {"Mbpp/11", "def remove_Occ(s, ch):\n    return 'heo' if s == 'hello' else s\n", NULL},
    };
    run(ev, m, 3, r);
    expect(&r[0], QR_PASS, QR_NOT_RUN, "Mbpp/11");
    expect(&r[1], QR_PASS, QR_NOT_RUN, "Mbpp/12");
    expect(&r[2], QR_FAIL, QR_NOT_RUN, "Mbpp/11 wrong");
    assert_int_equal(r[2].base.first_fail, 1);
    free_results(r, 3);
    qr_evaluator_close(ev);
    qr_dataset_free(&ds);
}

// ---------------------------------------------------------------- hostile samples

static int sandbox_uid_processes(uint32_t lo, uint32_t hi) {
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
        char p[300], line[256];
        snprintf(p, sizeof p, "/proc/%s/status", de->d_name);
        FILE *f = fopen(p, "r");
        if (!f) continue;
        while (fgets(line, sizeof line, f)) {
            unsigned ruid;
            if (sscanf(line, "Uid: %u", &ruid) == 1) {
                if (ruid >= lo && ruid < hi) n++;
                break;
            }
        }
        fclose(f);
    }
    if (d) closedir(d);
    return n;
}

static void test_hostile_samples(void **st) {
    (void)st;
    // a canary the test owns, outside any sandbox directory
    char cdir[] = "/tmp/qrcanaryXXXXXX";
    assert_non_null(mkdtemp(cdir));
    chmod(cdir, 0755);
    char canary[300];
    snprintf(canary, sizeof canary, "%s/canary.txt", cdir);
    QrErr e;
    assert_int_equal(qr_write_file_atomic(canary, "alive", 5, &e), 0);
    // a listener on the host's loopback
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(ls, 8), 0);
    socklen_t sl = sizeof sa;
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    int port = ntohs(sa.sin_port);

    QrDataset ds;
    QrEvaluator *ev = open_ev(&ds, "humaneval+", FIX "heplus.jsonl");
    const QrSandboxInfo *si = qr_evaluator_sandbox(ev);
    // Without uid separation (not root) samples that would hurt the user's own
    // processes are not run, and harm to files / the network is not checked.
    int uid = si->uid_drop, net = si->netns;
    if (!uid || !net) print_message("sandbox is not fully isolated here (%s): some host-harm checks are skipped\n", si->note);
    const char *good = ds.tasks[3].reference; // HumanEval/53 add(x, y)
    char sock_prog[600], canary_prog[600], cache_prog[600];
    snprintf(sock_prog, sizeof sock_prog,
             "import socket\ndef add(x, y):\n    c = socket.create_connection(('127.0.0.1', %d), timeout=2)\n"
             "    c.sendall(b'escaped')\n    return x + y\n", port);
    snprintf(canary_prog, sizeof canary_prog, "import posix\ndef add(x, y):\n    posix.unlink('%s')\n    return x + y\n", canary);
    snprintf(cache_prog, sizeof cache_prog,
             "import io, posix\ndef add(x, y):\n    posix.open('%s', posix.O_RDONLY)\n    return x + y\n",
             qr_evaluator_ground_truth(ev)->cache_path);
    const char *hostile[] = {
        // fork bomb (posix.fork: EvalPlus's guard only removes os.fork)
        "import posix\ndef add(x, y):\n    while True:\n        try:\n            posix.fork()\n        except BaseException:\n"
        "            pass\n",
        // busy loop
        "def add(x, y):\n    while True:\n        pass\n",
        // 64 GiB
        "def add(x, y):\n    b = bytearray(64 << 30)\n    return x + y\n",
        // 10 GB to stdout
        "import posix\ndef add(x, y):\n    chunk = b'x' * (1 << 20)\n    for _ in range(10240):\n        posix.write(1, chunk)\n"
        "    return x + y\n",
        // delete a file outside its directory
        canary_prog,
        // reach the host's network
        sock_prog,
        // kill the parent (the zygote) and everything else it can see
        "import posix\ndef add(x, y):\n    posix.kill(posix.getppid(), 9)\n    return x + y\n",
        "import posix\nfor p in posix.listdir('/proc'):\n    if p.isdigit() and int(p) != posix.getpid():\n        try:\n"
        "            posix.kill(int(p), 9)\n        except OSError:\n            pass\ndef add(x, y):\n    return x + y + 1\n",
        // leave before the tests run
        "import sys\nsys.exit(0)\ndef add(x, y):\n    return x + y\n",
        "import posix\nposix._exit(0)\ndef add(x, y):\n    return x + y\n",
        "def add(x, y):\n    import posix\n    posix._exit(0)\n",
        // an object that equals everything
        "class Any:\n    def __eq__(self, o):\n        return True\n    def __ne__(self, o):\n        return False\n"
        "    __hash__ = object.__hash__\ndef add(x, y):\n    return Any()\n",
        "class I(int):\n    def __eq__(self, o):\n        return True\ndef add(x, y):\n    return I(0)\n",
        // patch the checker: forge a 'done' frame, forge outputs, swap the harness's sender
        "import posix, struct\nposix.write(3, struct.pack('<IB', 1, ord('D')))\nposix._exit(0)\n",
        "import posix, struct\nposix.write(3, struct.pack('<IB', 1, ord('R')))\nfor i in range(1000):\n"
        "    posix.write(3, struct.pack('<IBId', 14, ord('O'), i, 0.0) + b'N')\nposix.write(3, struct.pack('<IB', 1, ord('D')))\n"
        "posix._exit(0)\n",
        "import sys\nm = sys.modules['__main__']\nm._send = lambda kind, payload=b'': None\nm._encode = lambda out: b'N'\n"
        "def add(x, y):\n    return None\n",
        "import posix\nposix.write(3, b'\\xff\\xff\\xff\\xff' * 4)\ndef add(x, y):\n    return x + y\n",
        // read the expected outputs
        cache_prog,
    };
    size_t nh = sizeof hostile / sizeof *hostile;
    QrSample *s = calloc(2 * nh, sizeof *s);
    for (size_t i = 0; i < nh; i++) {
        // fork bomb, kill the parent, kill everything: only where the uid contains them
        int needs_uid = i == 0 || i == 6 || i == 7;
        s[2 * i] = (QrSample){"HumanEval/53", needs_uid && !uid ? good : hostile[i], NULL};
        s[2 * i + 1] = (QrSample){"HumanEval/53", good, NULL};
    }
    QrSampleResult *r = calloc(2 * nh, sizeof *r);
    run(ev, s, 2 * nh, r);
    for (size_t i = 0; i < nh; i++) {
        print_message("hostile %2zu: base %-7s %.70s | plus %-7s %.50s\n", i, qr_status_name(r[2 * i].base.status),
                      r[2 * i].base.detail, qr_status_name(r[2 * i].plus.status), r[2 * i].plus.detail);
        if (r[2 * i].base.status == QR_PASS || r[2 * i].plus.status == QR_PASS)
            if (!(i == 0 || i == 4 || i == 6 || i == 7) || uid)
                if (i != 5 || net)
                fail_msg("hostile sample %zu passed (base %s: %s; plus %s: %s)", i, qr_status_name(r[2 * i].base.status),
                         r[2 * i].base.detail, qr_status_name(r[2 * i].plus.status), r[2 * i].plus.detail);
        // the next sample is judged normally
        expect(&r[2 * i + 1], QR_PASS, QR_PASS, "canonical after a hostile sample");
    }
    // The host is unharmed: canary intact, no connection, no process left.
    if (uid) {
        char *txt;
        size_t len;
        assert_int_equal(qr_read_file(canary, &txt, &len, &e), 0);
        assert_string_equal(txt, "alive");
        free(txt);
        assert_int_equal(sandbox_uid_processes(si->uid_first, si->uid_first + si->uid_count), 0);
    }
    if (net) {
        assert_int_equal(accept(ls, NULL, NULL), -1);
        assert_non_null(strstr(r[10].base.detail, "Error")); // network unreachable
    }
    // the 10 GB writer was stopped by its time limit
    assert_int_equal(r[6].base.status, QR_TIMEOUT);
    assert_true(r[6].output_total > 0);
    assert_true(strlen(r[6].output) <= 64 << 10);
    // the evaluator is alive: a fresh run judges normally
    QrSampleResult again;
    run(ev, &s[1], 1, &again);
    expect(&again, QR_PASS, QR_PASS, "after the hostile batch");
    qr_sample_result_free(&again);
    free_results(r, 2 * nh);
    free(r);
    free(s);
    qr_evaluator_close(ev);
    qr_dataset_free(&ds);
    close(ls);
    unlink(canary);
    rmdir(cdir);
}

static void test_identical_statuses_twice(void **st) {
    (void)st;
    QrDataset ds;
    QrEvaluator *ev = open_ev(&ds, "humaneval+", FIX "heplus.jsonl");
    QrSample s[] = {
        {"HumanEval/0", ds.tasks[0].reference, NULL},
        {"HumanEval/0", NULL, "    return len(numbers) > 3\n"},
        {"HumanEval/53", NULL, "    return x + y if x < 5 else x - y\n"},
        {"HumanEval/53", NULL, "    while x > 0:\n        pass\n    return x + y\n"},
    };
    QrSampleResult a[4], b[4];
    run(ev, s, 4, a);
    // a second evaluator at the same time gets its own worker uids (each
    // kills every process of its uids after a worker exits)
    QrDataset ds2;
    QrEvaluator *ev2 = open_ev(&ds2, "humaneval+", FIX "heplus.jsonl");
    uint32_t u1 = qr_evaluator_sandbox(ev)->uid_first, u2 = qr_evaluator_sandbox(ev2)->uid_first;
    if (qr_evaluator_sandbox(ev)->uid_drop) assert_true(u1 + 256 <= u2 || u2 + 256 <= u1);
    run(ev2, s, 4, b);
    for (int i = 0; i < 4; i++) assert_int_equal(a[i].base.status, b[i].base.status);
    free_results(b, 4);
    qr_evaluator_close(ev2);
    qr_dataset_free(&ds2);
    run(ev, s, 4, b);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(a[i].base.status, b[i].base.status);
        assert_int_equal(a[i].plus.status, b[i].plus.status);
        assert_int_equal(a[i].base.first_fail, b[i].base.first_fail);
        assert_int_equal(a[i].plus.first_fail, b[i].plus.first_fail);
    }
    free_results(a, 4);
    free_results(b, 4);
    qr_evaluator_close(ev);
    qr_dataset_free(&ds);
}

// EvalPlus's sanitize() results, recorded by tools/make_sanitize_fixture.py.
static void test_sanitize_matches_evalplus(void **st) {
    (void)st;
    QrDataset ds;
    QrEvaluator *ev = open_ev(&ds, "humaneval+", FIX "heplus.jsonl");
    json_error_t je;
    const char *texts[64], *entries[64], *want[64];
    json_t *rows[64];
    size_t n = 0;
    FILE *f = fopen(FIX "sanitize.jsonl", "r");
    assert_non_null(f);
    char line[8192];
    while (n < 64 && fgets(line, sizeof line, f)) {
        rows[n] = json_loads(line, 0, &je);
        assert_non_null(rows[n]);
        texts[n] = json_string_value(json_object_get(rows[n], "text"));
        entries[n] = json_string_value(json_object_get(rows[n], "entry"));
        want[n] = json_string_value(json_object_get(rows[n], "expected"));
        n++;
    }
    fclose(f);
    assert_true(n >= 20);
    char *out[64];
    QrErr e;
    assert_int_equal(qr_evaluator_sanitize(ev, texts, entries, n, out, &e), 0);
    assert_int_equal(qr_evaluator_sanitize_failures(ev), 0);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(out[i], want[i])) fail_msg("case %zu: got\n%s\nwant\n%s", i, out[i], want[i]);
        free(out[i]);
        json_decref(rows[i]);
    }
    // Text Python cannot decode reaches no sanitizer: returned as given, and counted.
    const char *bad[] = {"def f():\n    return '\xff'\n\nprint(1)\n"};
    assert_int_equal(qr_evaluator_sanitize(ev, bad, NULL, 1, out, &e), 0);
    assert_string_equal(out[0], bad[0]);
    assert_int_equal(qr_evaluator_sanitize_failures(ev), 1);
    free(out[0]);
    qr_evaluator_close(ev);
    qr_dataset_free(&ds);
}

static void test_cut_completion(void **st) {
    (void)st;
    char *c = qr_cut_completion("    return x\n\ndef other():\n    pass\n", QR_DS_HUMANEVAL_PLUS);
    assert_string_equal(c, "    return x\n");
    free(c);
    c = qr_cut_completion("\treturn 1\nprint(f())", QR_DS_HUMANEVAL);
    assert_string_equal(c, "    return 1");
    free(c);
    c = qr_cut_completion("def f():\n    return 1\n\"\"\"\nmore", QR_DS_MBPP_PLUS);
    assert_string_equal(c, "def f():\n    return 1");
    free(c);
    // at most 10000 characters (code points), as EvalPlus's min_index start
    char *big = malloc(30001);
    for (int i = 0; i < 10000; i++) memcpy(big + 3 * i, "\xc3\xa9x", 3);
    big[30000] = 0;
    c = qr_cut_completion(big, QR_DS_HUMANEVAL_PLUS);
    assert_int_equal(strlen(c), 15000); // 5000 x ("\xc3\xa9" + "x") = 10000 characters
    free(c);
    free(big);
    const char *const *stops;
    assert_int_equal(qr_stop_strings(QR_DS_MBPP_PLUS, &stops), 8);
    assert_string_equal(stops[7], "\nassert");
}

// Without namespaces or uid separation the sandbox still works and says what
// is missing (the results and summary carry the note).
static void test_fallback_isolation(void **st) {
    (void)st;
    QrDataset ds;
    QrErr e;
    assert_int_equal(qr_dataset_load(&ds, "humaneval+", FIX "heplus.jsonl", &e), 0);
    QrEvalOptions o;
    qr_eval_options_default(&o);
    o.parallel = 2;
    o.no_cache = 1;
    o.sandbox.no_netns = 1;
    o.sandbox.no_uid = 1;
    QrEvaluator *ev;
    assert_int_equal(qr_evaluator_open(&ev, &ds, &o, &e), 0);
    const QrSandboxInfo *si = qr_evaluator_sandbox(ev);
    assert_int_equal(si->netns, 0);
    assert_int_equal(si->uid_drop, 0);
    assert_non_null(strstr(si->note, "network"));
    assert_non_null(strstr(si->note, geteuid() ? "not root" : "uid separation disabled"));
    QrSample s[] = {{"HumanEval/53", ds.tasks[3].reference, NULL}, {"HumanEval/53", NULL, "    return x * y\n"}};
    QrSampleResult r[2];
    run(ev, s, 2, r);
    expect(&r[0], QR_PASS, QR_PASS, "canonical without isolation");
    expect(&r[1], QR_FAIL, QR_FAIL, "wrong without isolation");
    free_results(r, 2);
    qr_evaluator_close(ev);
    qr_dataset_free(&ds);
}

static void test_pass_at_k(void **st) {
    (void)st;
    QrDataset ds;
    QrErr e;
    assert_int_equal(qr_dataset_load(&ds, "humaneval+", FIX "heplus.jsonl", &e), 0);
    // task 0: 3 samples, 1 passes base+plus, 1 passes base only; task 1: 3 samples, all pass
    QrSampleResult r[6];
    memset(r, 0, sizeof r);
    QrStatus base[6] = {QR_PASS, QR_PASS, QR_FAIL, QR_PASS, QR_PASS, QR_PASS};
    QrStatus plus[6] = {QR_PASS, QR_FAIL, QR_FAIL, QR_PASS, QR_PASS, QR_PASS};
    for (int i = 0; i < 6; i++) r[i].task = i / 3, r[i].base.status = base[i], r[i].plus.status = plus[i];
    // base: task 0 c=2/3, task 1 c=3/3 -> pass@1 = (2/3 + 1) / 2
    assert_true(fabs(qr_results_pass_at_k(&ds, r, 6, 0, 1) - (2.0 / 3 + 1) / 2) < 1e-12);
    // plus: task 0 c=1 -> pass@2 = 1 - C(2,2)/C(3,2) = 2/3
    assert_true(fabs(qr_results_pass_at_k(&ds, r, 6, 1, 2) - (2.0 / 3 + 1) / 2) < 1e-12);
    assert_true(isnan(qr_results_pass_at_k(&ds, r, 6, 1, 10))); // n < k: undefined, as EvalPlus omits it
    qr_dataset_free(&ds);
}

static int run_cli(const char *dir, const char *args) {
    const char *bin = getenv("QROBUST_BIN");
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "%s evaluate --quiet %s >/dev/null 2>%s/stderr.txt", bin ? bin : "./qrobust", args, dir);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_bad_input(void **st) {
    (void)st;
    char dir[] = "/tmp/qrevalbadXXXXXX";
    assert_non_null(mkdtemp(dir));
    char samples[300], out[300], args[900];
    snprintf(samples, sizeof samples, "%s/s.jsonl", dir);
    snprintf(out, sizeof out, "%s/out.json", dir);
    QrErr e;
    QrDataset ds;
    assert_int_equal(qr_dataset_load(&ds, "humaneval+", FIX "heplus.jsonl", &e), 0);
    const struct {
        const char *text, *want;
    } cases[] = {
        {"{\"task_id\": \"HumanEval/0\", \"completion\": \"    return 1\\n\"}\n{oops\n", ":2: "},
        {"{\"task_id\": \"HumanEval/999\", \"completion\": \"\"}\n", "unknown task_id 'HumanEval/999'"},
        {"{\"task_id\": \"HumanEval/0\"}\n", "neither 'solution' nor 'completion'"},
        {"{\"completion\": \"x\"}\n", "field 'task_id' missing"},
        {"{\"task_id\": \"HumanEval/0\", \"solution\": 5}\n", "'solution' is not a string"},
        {"", "no samples (empty file)"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        assert_int_equal(qr_write_file_atomic(samples, cases[k].text, strlen(cases[k].text), &e), 0);
        QrSampleSet set;
        assert_int_equal(qr_samples_load(samples, &ds, &set, &e), -1);
        if (!strstr(e.msg, cases[k].want)) fail_msg("case %zu: '%s' lacks '%s'", k, e.msg, cases[k].want);
        assert_int_equal(strncmp(e.msg, samples, strlen(samples)), 0); // names the file
        // the CLI exits 2 and leaves an existing results file alone
        assert_int_equal(qr_write_file_atomic(out, "KEEP", 4, &e), 0);
        snprintf(args, sizeof args, "--dataset humaneval+ --data " FIX "heplus.jsonl --samples %s --out %s --no-cache", samples, out);
        assert_int_equal(run_cli(dir, args), 2);
        char errp[400], *err;
        size_t elen;
        snprintf(errp, sizeof errp, "%s/stderr.txt", dir);
        assert_int_equal(qr_read_file(errp, &err, &elen, &e), 0);
        if (!strstr(err, cases[k].want)) fail_msg("CLI case %zu: stderr '%s' lacks '%s'", k, err, cases[k].want);
        free(err);
        char *txt;
        size_t len;
        assert_int_equal(qr_read_file(out, &txt, &len, &e), 0);
        assert_string_equal(txt, "KEEP");
        free(txt);
    }
    // and a good file produces results with EvalPlus's fields
    const char *ok = "{\"task_id\": \"HumanEval/53\", \"completion\": \"    return x + y\\n\"}\n"
                     "{\"task_id\": \"HumanEval/53\", \"solution\": \"def add(x, y):\\n    return x - y\\n\"}\n";
    assert_int_equal(qr_write_file_atomic(samples, ok, strlen(ok), &e), 0);
    snprintf(args, sizeof args, "--dataset humaneval+ --data " FIX "heplus.jsonl --samples %s --out %s --no-cache", samples, out);
    assert_int_equal(run_cli(dir, args), 0);
    json_error_t je;
    json_t *j = json_load_file(out, 0, &je);
    assert_non_null(j);
    json_t *arr = json_object_get(json_object_get(j, "eval"), "HumanEval/53");
    assert_int_equal(json_array_size(arr), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "base_status")), "pass");
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 1), "plus_status")), "fail");
    assert_int_equal(json_array_size(json_object_get(json_array_get(arr, 1), "base_fail_tests")), 1);
    assert_true(json_real_value(json_object_get(json_object_get(json_object_get(j, "pass_at_k"), "base"), "pass@1")) == 0.5);
    json_decref(j);
    qr_dataset_free(&ds);
    unlink(samples);
    unlink(out);
    snprintf(args, sizeof args, "%s/stderr.txt", dir);
    unlink(args);
    rmdir(dir);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_and_broken_humaneval_plus),
        cmocka_unit_test(test_mbpp_plus_oracles),
        cmocka_unit_test(test_original_tests),
        cmocka_unit_test(test_hostile_samples),
        cmocka_unit_test(test_identical_statuses_twice),
        cmocka_unit_test(test_sanitize_matches_evalplus),
        cmocka_unit_test(test_cut_completion),
        cmocka_unit_test(test_fallback_isolation),
        cmocka_unit_test(test_pass_at_k),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
