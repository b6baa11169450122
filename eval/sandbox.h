// The process sandbox that runs untrusted, model-written Python.
//
// One python3 "zygote" (eval/zygote.py, embedded in the binary) is started per
// QrSandbox with a scrubbed environment, in a new network namespace when the
// kernel allows (so workers have no network at all: not even loopback is up).
// For each job the supervisor sends the zygote a request; the zygote forks a
// worker that, before running any untrusted code:
//   * closes every inherited descriptor (the zygote's control socket included),
//     keeping only /dev/null as stdin, a capture pipe as stdout+stderr, a
//     result pipe (fd 3) and a sealed read-only memfd of test inputs (fd 4);
//   * becomes its own session and process group (setsid);
//   * sets RLIMIT_AS/DATA/STACK (memory), RLIMIT_CPU, RLIMIT_FSIZE,
//     RLIMIT_NPROC, RLIMIT_NOFILE and RLIMIT_CORE=0;
//   * changes into a private 0700 directory (removed afterwards);
//   * when the supervisor is root, becomes a uid/gid of its own (a block of
//     256 uids per sandbox from uid_base up, see uid_first; one per slot): an
//     unprivileged identity of its own, so it cannot signal, ptrace or read
//     the supervisor, cannot touch files it does not own, and RLIMIT_NPROC
//     bounds its process count. After the worker exits, the zygote kills every
//     process of that uid (catching setsid'd / double-forked escapees).
// What is not available (not root, no namespaces) is reported in
// QrSandboxInfo and by the evaluator in its results.
//
// The supervisor side is single-threaded and event driven: the caller polls
// the control fd and the workers' pipes (eval/evaluate.c does).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "util/err.h"

typedef struct {
    const char *python;   // interpreter; NULL: /usr/bin/python3, else "python3" from PATH
    const char *tmp_root; // NULL: $TMPDIR or /tmp
    uint32_t uid_base;    // root only; 0: 2000000000 (sandboxes take free 256-uid blocks above it)
    int no_netns;         // 1: do not try a network namespace (tests of the fallback)
    int no_uid;           // 1: do not switch uids even as root (tests of the fallback)
} QrSandboxOptions;

typedef struct {
    int netns;              // 1: workers run in a private network namespace
    int uid_drop;           // 1: workers run as per-slot unprivileged uids
    uint32_t uid_first, uid_count; // the uids of this sandbox's workers: uid_first + slot
    char python[256];       // resolved interpreter path
    char python_version[32];
    char note[256];         // what isolation is off and why ("" when all is on)
} QrSandboxInfo;

typedef struct QrSandbox QrSandbox;

// One worker job. Strings are copied into the request; the caller keeps them.
typedef struct {
    const char *mode;  // "diff" (differential), "gt" (canonical, trusted: no guard),
                       // "humaneval" (check(candidate)), "asserts" (MBPP assert list)
    const char *code;  // the program
    const char *entry; // entry point (diff, gt, humaneval)
    const char *test;  // humaneval: the check() source; asserts: setup code
    const char *const *asserts;
    int n_asserts;
    int inputs_fd;    // diff/gt: sealed memfd with the marshal list of inputs; -1 otherwise
    int not_none;     // gt: record `output is not None` instead of the output (EvalPlus NOT_NONE tasks)
    size_t mem_bytes; // RLIMIT_AS/DATA/STACK; 0 = unlimited
    int cpu_seconds;  // RLIMIT_CPU (kernel backstop; the supervisor enforces the real limits)
    size_t fsize_bytes;
    int nproc;  // RLIMIT_NPROC: the worker's uid may run this many processes (without uid
                // separation: this many more than the invoking user runs at the start)
    int nofile; // RLIMIT_NOFILE
} QrSpawn;

typedef struct {
    int job, slot;
    pid_t pid;          // the worker's pid once the zygote reported it (0 before)
    int res_fd, out_fd; // non-blocking read ends: results (framed) and stdout+stderr
    char dir[256];      // private directory
} QrWorker;

int qr_sandbox_open(QrSandbox **out, const QrSandboxOptions *o, QrErr *e);
const QrSandboxInfo *qr_sandbox_info(const QrSandbox *sb);
// The control socket: readable when the zygote reported something (qr_sandbox_pump).
int qr_sandbox_ctrl_fd(const QrSandbox *sb);
// Starts a job in slot `slot` (0-based; decides the uid). Fills w (pid = 0
// until the zygote reports 'S'). Does not block on the worker.
int qr_sandbox_spawn(QrSandbox *sb, int slot, int job, const QrSpawn *s, QrWorker *w, QrErr *e);

// Zygote events: 'S' started (value = pid), 'X' exited and cleaned up
// (value = wait status), 'F' fork failed (msg).
typedef void (*QrSandboxEventFn)(void *ctx, int kind, int job, long value, const char *msg);
// Reads what the zygote sent and calls fn per event. -1 when the zygote is
// gone (then qr_sandbox_restart before spawning again).
int qr_sandbox_pump(QrSandbox *sb, QrSandboxEventFn fn, void *ctx, QrErr *e);
int qr_sandbox_restart(QrSandbox *sb, QrErr *e);

// SIGKILL to the worker's process group (the zygote then kills the rest of its uid).
void qr_sandbox_kill(QrWorker *w);
// Closes the worker's pipes and removes its directory (after 'X').
void qr_sandbox_release(QrSandbox *sb, QrWorker *w);
void qr_sandbox_close(QrSandbox *sb);

// 16 hex digits identifying the embedded worker harness (eval/zygote.py), so
// caches of results it produced can be invalidated when it changes.
const char *qr_sandbox_harness_id(void);

// A sealed (immutable) memfd holding data, for worker inputs. -1 on error.
int qr_memfd_sealed(const char *name, const void *data, size_t len, QrErr *e);
// rm -rf that never follows symlinks. 0 ok.
int qr_remove_tree(const char *path);
