#include "eval/sandbox.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "eval/pyval.h"
#include "util/sbuf.h"
#include "util/sha256.h"
#include "util/timer.h"

// eval/zygote.py, embedded at build time (the Makefile makes sandbox.o depend
// on it). Paths in .incbin are relative to the compiler's working directory,
// the repository root.
__asm__(".section .rodata\n"
        ".global qr_zygote_py\n"
        ".type qr_zygote_py, @object\n"
        "qr_zygote_py:\n"
        ".incbin \"eval/zygote.py\"\n"
        ".byte 0\n"
        ".previous\n");
extern const char qr_zygote_py[];

#define DEFAULT_UID_BASE 2000000000u

struct QrSandbox {
    QrSandboxOptions opt;
    QrSandboxInfo info;
    char tmproot[200];
    uint32_t uid_base;
    int ctrl;
    pid_t zpid;
    uint8_t *rbuf;
    size_t rlen, rcap;
};

// The default is the system interpreter: workers run as other uids, and an
// interpreter under a user's home (pyenv in /root) is unreadable to them.
// Each sandbox gets its own block of UIDS_PER_SANDBOX uids: the zygote kills
// every process of a worker's uid after the worker exits, so two evaluations
// running at once (runner shards, tests) must never share a uid. The block is
// derived from the pid and a per-process counter, and skipped while any
// process on the machine still runs under one of its uids.
#define UIDS_PER_SANDBOX 256u

static int uid_range_busy(uint32_t lo) {
    DIR *d = opendir("/proc");
    int busy = 0;
    struct dirent *de;
    while (d && !busy && (de = readdir(d))) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
        char p[300], line[128];
        snprintf(p, sizeof p, "/proc/%s/status", de->d_name);
        FILE *f = fopen(p, "r");
        if (!f) continue;
        while (fgets(line, sizeof line, f)) {
            unsigned r, eu, su;
            if (sscanf(line, "Uid: %u %u %u", &r, &eu, &su) == 3) {
                busy = (r - lo < UIDS_PER_SANDBOX) || (eu - lo < UIDS_PER_SANDBOX) || (su - lo < UIDS_PER_SANDBOX);
                break;
            }
        }
        fclose(f);
    }
    if (d) closedir(d);
    return busy;
}

static uint32_t pick_uid_range(uint32_t base) {
    static unsigned counter;
    uint32_t nblocks = (0xFFFFFFFEu - base) / UIDS_PER_SANDBOX;
    uint32_t id = ((uint32_t)getpid() * 16u + (counter++ & 15u)) % nblocks;
    for (int tries = 0; tries < 64 && geteuid() == 0 && uid_range_busy(base + id * UIDS_PER_SANDBOX); tries++)
        id = (id + 7919u) % nblocks;
    return base + id * UIDS_PER_SANDBOX;
}

static int find_python(const char *want, char *out, size_t n) {
    if (!want && access("/usr/bin/python3", X_OK) == 0) {
        snprintf(out, n, "/usr/bin/python3");
        return 0;
    }
    if (!want) want = "python3";
    if (strchr(want, '/')) {
        snprintf(out, n, "%s", want);
        return access(out, X_OK);
    }
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *c = strchr(path, ':');
        size_t len = c ? (size_t)(c - path) : strlen(path);
        snprintf(out, n, "%.*s/%s", (int)len, path, want);
        if (len && access(out, X_OK) == 0) return 0;
        path += len + (c != NULL);
    }
    return -1;
}

static int write_file(const char *path, const char *s) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t w = write(fd, s, strlen(s));
    close(fd);
    return w == (ssize_t)strlen(s) ? 0 : -1;
}

// In the forked child before exec: a private network namespace. Returns a
// status byte: 'N' (netns, as root), 'U' (user+net namespace, unprivileged),
// '-' (none; errno describes why).
static char enter_netns(int no_netns) {
    if (no_netns) return 'x';
    if (unshare(CLONE_NEWNET) == 0) return 'N';
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0) {
        char m[64];
        write_file("/proc/self/setgroups", "deny");
        snprintf(m, sizeof m, "%u %u 1", (unsigned)uid, (unsigned)uid);
        int a = write_file("/proc/self/uid_map", m);
        snprintf(m, sizeof m, "%u %u 1", (unsigned)gid, (unsigned)gid);
        int b = write_file("/proc/self/gid_map", m);
        if (a == 0 && b == 0) return 'U';
    }
    return '-';
}

static int send_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                struct pollfd pf = {fd, POLLOUT, 0};
                poll(&pf, 1, 100);
                continue;
            }
            return -1;
        }
        c += w, n -= (size_t)w;
    }
    return 0;
}

// Reads one zygote frame, blocking up to timeout seconds (for the 'V' hello).
static PyVal *read_frame_blocking(QrSandbox *sb, QrArena *a, double timeout, QrErr *e) {
    double t0 = qr_now();
    for (;;) {
        if (sb->rlen >= 4) {
            uint32_t n;
            memcpy(&n, sb->rbuf, 4);
            if (sb->rlen >= 4 + (size_t)n) {
                PyVal *v = pv_unmarshal(a, sb->rbuf + 4, n, NULL, e);
                memmove(sb->rbuf, sb->rbuf + 4 + n, sb->rlen - 4 - n);
                sb->rlen -= 4 + n;
                return v;
            }
        }
        double left = timeout - (qr_now() - t0);
        if (left <= 0) {
            qr_fail(e, "sandbox: python3 zygote did not start within %.0f s", timeout);
            return NULL;
        }
        struct pollfd pf = {sb->ctrl, POLLIN, 0};
        int r = poll(&pf, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno != EINTR) {
            qr_fail(e, "sandbox: poll: %s", strerror(errno));
            return NULL;
        }
        if (r <= 0) continue;
        if (sb->rcap - sb->rlen < 65536) {
            size_t cap = sb->rcap ? sb->rcap * 2 : 1 << 17;
            uint8_t *nb = realloc(sb->rbuf, cap);
            if (!nb) {
                qr_fail(e, "sandbox: out of memory");
                return NULL;
            }
            sb->rbuf = nb, sb->rcap = cap;
        }
        ssize_t got = read(sb->ctrl, sb->rbuf + sb->rlen, sb->rcap - sb->rlen);
        if (got == 0) {
            qr_fail(e, "sandbox: python3 zygote exited during start-up (%s)", sb->info.python);
            return NULL;
        }
        if (got < 0 && errno != EINTR && errno != EAGAIN) {
            qr_fail(e, "sandbox: read: %s", strerror(errno));
            return NULL;
        }
        if (got > 0) sb->rlen += (size_t)got;
    }
}

static int start_zygote(QrSandbox *sb, QrErr *e) {
    int sv[2], st[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) return qr_fail(e, "sandbox: socketpair: %s", strerror(errno));
    if (pipe2(st, O_CLOEXEC)) {
        close(sv[0]), close(sv[1]);
        return qr_fail(e, "sandbox: pipe: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]), close(sv[1]), close(st[0]), close(st[1]);
        return qr_fail(e, "sandbox: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        // child: fd 3 = control socket, fd 4 = status pipe (close-on-exec)
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) dup2(null, 0), dup2(null, 1);
        if (sv[1] != 3) dup2(sv[1], 3);
        else fcntl(3, F_SETFD, 0);
        dup2(st[1], 4);
        fcntl(4, F_SETFD, FD_CLOEXEC);
        syscall(SYS_close_range, 5u, ~0u, 0u);
        char ns = enter_netns(sb->opt.no_netns);
        char msg[2] = {ns, (char)(ns == '-' ? errno : 0)};
        if (write(4, msg, 2) != 2) _exit(127);
        char *const argv[] = {"python3", "-s", "-c", (char *)qr_zygote_py, "3", NULL};
        char *const envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", "PYTHONHASHSEED=0",
                              "PYTHONDONTWRITEBYTECODE=1", "HOME=/nonexistent", NULL};
        signal(SIGPIPE, SIG_DFL);
        execve(sb->info.python, argv, envp);
        _exit(127);
    }
    close(sv[1]);
    close(st[1]);
    char msg[2] = {0, 0};
    ssize_t got = read(st[0], msg, 2);
    close(st[0]);
    sb->ctrl = sv[0];
    sb->zpid = pid;
    sb->rlen = 0;
    if (got != 2) {
        qr_sandbox_close(sb);
        return qr_fail(e, "sandbox: could not start %s", sb->info.python);
    }
    sb->info.netns = msg[0] == 'N' || msg[0] == 'U';
    QrSbuf note;
    qr_sb_init(&note);
    if (msg[0] == '-') qr_sb_printf(&note, "no network namespace (unshare: %s): workers can reach the network; ", strerror(msg[1]));
    if (msg[0] == 'x') qr_sb_puts(&note, "network namespace disabled by option: workers can reach the network; ");
    if (!sb->info.uid_drop)
        qr_sb_puts(&note, geteuid() ? "not root: workers run as the invoking user (no uid separation; NPROC counted over all its processes)"
                                    : "uid separation disabled by option");
    snprintf(sb->info.note, sizeof sb->info.note, "%s", note.s ? note.s : "");
    qr_sb_free(&note);
    QrArena a;
    qr_arena_init(&a, 0);
    PyVal *v = read_frame_blocking(sb, &a, 120.0, e);
    int ok = v && v->kind == PV_TUPLE && v->n == 2 && v->u.items[1]->kind == PV_STR;
    if (ok) snprintf(sb->info.python_version, sizeof sb->info.python_version, "%s", v->u.items[1]->u.s);
    qr_arena_free(&a);
    if (!ok) {
        if (v) qr_fail(e, "sandbox: unexpected hello from the zygote");
        return -1;
    }
    return 0;
}

// A supervisor killed with SIGKILL cannot remove its directory; the next one
// removes directories whose owner (the pid in the name) is gone.
static void remove_stale_roots(const char *tmp) {
    DIR *d = opendir(tmp);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        int pid;
        char rest[32];
        if (sscanf(de->d_name, "qrobust-sbx-%d-%31s", &pid, rest) != 2 || pid <= 0) continue;
        if (kill(pid, 0) == 0 || errno != ESRCH) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", tmp, de->d_name);
        qr_remove_tree(p);
    }
    if (d) closedir(d);
}

int qr_sandbox_open(QrSandbox **out, const QrSandboxOptions *o, QrErr *e) {
    *out = NULL;
    QrSandbox *sb = calloc(1, sizeof *sb);
    if (!sb) return qr_fail(e, "sandbox: out of memory");
    if (o) sb->opt = *o;
    sb->ctrl = -1;
    sb->uid_base = pick_uid_range(sb->opt.uid_base ? sb->opt.uid_base : DEFAULT_UID_BASE);
    sb->info.uid_first = sb->uid_base;
    sb->info.uid_count = UIDS_PER_SANDBOX;
    if (find_python(sb->opt.python, sb->info.python, sizeof sb->info.python)) {
        qr_fail(e, "sandbox: %s not found (install python3 or pass --python)",
                sb->opt.python ? sb->opt.python : "python3 in PATH");
        free(sb);
        return -1;
    }
    sb->info.uid_drop = geteuid() == 0 && !sb->opt.no_uid;
    const char *tmp = sb->opt.tmp_root ? sb->opt.tmp_root : getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    if (strlen(tmp) > sizeof sb->tmproot - 24) {
        free(sb);
        return qr_fail(e, "sandbox: temporary directory path too long: %s", tmp);
    }
    remove_stale_roots(tmp);
    snprintf(sb->tmproot, sizeof sb->tmproot, "%s/qrobust-sbx-%d-XXXXXX", tmp, (int)getpid());
    if (!mkdtemp(sb->tmproot)) {
        qr_fail(e, "sandbox: cannot create a directory in %s: %s", tmp, strerror(errno));
        free(sb);
        return -1;
    }
    chmod(sb->tmproot, 0711); // workers of other uids traverse to their own subdirectory
    if (start_zygote(sb, e)) {
        qr_remove_tree(sb->tmproot);
        free(sb->rbuf);
        free(sb);
        return -1;
    }
    *out = sb;
    return 0;
}

const char *qr_sandbox_harness_id(void) {
    static char id[17];
    if (!id[0]) {
        char hex[65];
        qr_sha256_hex(qr_zygote_py, strlen(qr_zygote_py), hex);
        memcpy(id, hex, 16);
    }
    return id;
}

const QrSandboxInfo *qr_sandbox_info(const QrSandbox *sb) { return &sb->info; }
int qr_sandbox_ctrl_fd(const QrSandbox *sb) { return sb->ctrl; }

int qr_sandbox_restart(QrSandbox *sb, QrErr *e) {
    if (sb->ctrl >= 0) close(sb->ctrl);
    sb->ctrl = -1;
    if (sb->zpid > 0) {
        kill(sb->zpid, SIGKILL);
        waitpid(sb->zpid, NULL, 0);
        sb->zpid = 0;
    }
    return start_zygote(sb, e);
}

static void dict_set(QrArena *a, PyVal *d, uint32_t *i, const char *k, PyVal *v) {
    d->u.items[2 * *i] = pv_str(a, k, strlen(k));
    d->u.items[2 * *i + 1] = v;
    (*i)++;
}

static PyVal *S(QrArena *a, const char *s) { return s ? pv_str(a, s, strlen(s)) : pv_new(a, PV_NONE); }

int qr_sandbox_spawn(QrSandbox *sb, int slot, int job, const QrSpawn *s, QrWorker *w, QrErr *e) {
    memset(w, 0, sizeof *w);
    w->job = job, w->slot = slot;
    w->res_fd = w->out_fd = -1;
    int res[2], outp[2];
    if (pipe2(res, O_CLOEXEC)) return qr_fail(e, "sandbox: pipe: %s", strerror(errno));
    if (pipe2(outp, O_CLOEXEC)) {
        close(res[0]), close(res[1]);
        return qr_fail(e, "sandbox: pipe: %s", strerror(errno));
    }
    fcntl(res[0], F_SETFL, O_NONBLOCK);
    fcntl(outp[0], F_SETFL, O_NONBLOCK);
    fcntl(res[0], F_SETPIPE_SZ, 1 << 20); // fewer wake-ups for many small outputs
    w->res_fd = res[0];
    w->out_fd = outp[0];
    snprintf(w->dir, sizeof w->dir, "%s/j%d", sb->tmproot, job);
    uint32_t uid = sb->uid_base + (uint32_t)slot;
    if (mkdir(w->dir, 0700) || (sb->info.uid_drop && chown(w->dir, uid, uid))) {
        qr_fail(e, "sandbox: cannot prepare %s: %s", w->dir, strerror(errno));
        close(res[1]), close(outp[1]);
        qr_sandbox_release(sb, w);
        return -1;
    }
    QrArena a;
    qr_arena_init(&a, 0);
    PyVal *lim = pv_container(&a, PV_DICT, 8);
    uint32_t li = 0;
    if (s->mem_bytes) {
        dict_set(&a, lim, &li, "RLIMIT_AS", pv_int(&a, (int64_t)s->mem_bytes));
        dict_set(&a, lim, &li, "RLIMIT_DATA", pv_int(&a, (int64_t)s->mem_bytes));
        dict_set(&a, lim, &li, "RLIMIT_STACK", pv_int(&a, (int64_t)s->mem_bytes)); // as EvalPlus's guard
    }
    if (s->cpu_seconds > 0) dict_set(&a, lim, &li, "RLIMIT_CPU", pv_int(&a, s->cpu_seconds));
    if (s->fsize_bytes) dict_set(&a, lim, &li, "RLIMIT_FSIZE", pv_int(&a, (int64_t)s->fsize_bytes));
    if (s->nofile > 0) dict_set(&a, lim, &li, "RLIMIT_NOFILE", pv_int(&a, s->nofile));
    if (s->nproc > 0 && sb->info.uid_drop) dict_set(&a, lim, &li, "RLIMIT_NPROC", pv_int(&a, s->nproc));
    dict_set(&a, lim, &li, "RLIMIT_CORE", pv_int(&a, 0));
    lim->n = li;
    PyVal *asserts = pv_container(&a, PV_LIST, (uint32_t)(s->n_asserts > 0 ? s->n_asserts : 0));
    for (int i = 0; i < s->n_asserts; i++) asserts->u.items[i] = S(&a, s->asserts[i]);
    int nfds = 2 + (s->inputs_fd >= 0);
    PyVal *req = pv_container(&a, PV_DICT, 13);
    uint32_t ri = 0;
    dict_set(&a, req, &ri, "job", pv_int(&a, job));
    dict_set(&a, req, &ri, "nfds", pv_int(&a, nfds));
    dict_set(&a, req, &ri, "mode", S(&a, s->mode));
    dict_set(&a, req, &ri, "code", S(&a, s->code));
    dict_set(&a, req, &ri, "entry", S(&a, s->entry));
    dict_set(&a, req, &ri, "test", S(&a, s->test ? s->test : ""));
    dict_set(&a, req, &ri, "asserts", asserts);
    dict_set(&a, req, &ri, "not_none", pv_int(&a, s->not_none));
    dict_set(&a, req, &ri, "limits", lim);
    dict_set(&a, req, &ri, "dir", S(&a, w->dir));
    dict_set(&a, req, &ri, "uid", sb->info.uid_drop ? pv_int(&a, uid) : pv_new(&a, PV_NONE));
    dict_set(&a, req, &ri, "nproc_rel", pv_int(&a, !sb->info.uid_drop && s->nproc > 0 ? s->nproc : 0));
    req->n = ri;
    QrSbuf b;
    qr_sb_init(&b);
    qr_sb_putn(&b, "\0\0\0\0", 4);
    pv_marshal(req, &b);
    qr_arena_free(&a);
    uint32_t plen = (uint32_t)(b.len - 4);
    memcpy(b.s, &plen, 4);

    int fds[3] = {res[1], outp[1], s->inputs_fd};
    union {
        char buf[CMSG_SPACE(sizeof fds)];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = {b.s, b.len};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
    memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
    ssize_t sent;
    do sent = sendmsg(sb->ctrl, &mh, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    int rc = 0;
    if (sent < 0) rc = qr_fail(e, "sandbox: zygote unreachable: %s", strerror(errno));
    else if ((size_t)sent < b.len && send_all(sb->ctrl, b.s + sent, b.len - (size_t)sent))
        rc = qr_fail(e, "sandbox: zygote unreachable: %s", strerror(errno));
    qr_sb_free(&b);
    close(res[1]);
    close(outp[1]);
    if (rc) qr_sandbox_release(sb, w);
    return rc;
}

int qr_sandbox_pump(QrSandbox *sb, QrSandboxEventFn fn, void *ctx, QrErr *e) {
    for (;;) {
        if (sb->rcap - sb->rlen < 65536) {
            size_t cap = sb->rcap ? sb->rcap * 2 : 1 << 17;
            uint8_t *nb = realloc(sb->rbuf, cap);
            if (!nb) return qr_fail(e, "sandbox: out of memory");
            sb->rbuf = nb, sb->rcap = cap;
        }
        ssize_t got = recv(sb->ctrl, sb->rbuf + sb->rlen, sb->rcap - sb->rlen, MSG_DONTWAIT);
        if (got == 0) return qr_fail(e, "sandbox: the python3 zygote exited");
        if (got < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            return qr_fail(e, "sandbox: zygote socket: %s", strerror(errno));
        }
        sb->rlen += (size_t)got;
    }
    size_t pos = 0;
    while (sb->rlen - pos >= 4) {
        uint32_t n;
        memcpy(&n, sb->rbuf + pos, 4);
        if (sb->rlen - pos < 4 + (size_t)n) break;
        QrArena a;
        qr_arena_init(&a, 4096);
        QrErr me;
        PyVal *v = pv_unmarshal(&a, sb->rbuf + pos + 4, n, NULL, &me);
        pos += 4 + n;
        if (!v || v->kind != PV_TUPLE || v->n != 3 || v->u.items[0]->kind != PV_STR || v->u.items[1]->kind != PV_INT) {
            qr_arena_free(&a);
            continue;
        }
        int kind = v->u.items[0]->u.s[0];
        int job = (int)v->u.items[1]->u.i;
        PyVal *x = v->u.items[2];
        fn(ctx, kind, job, x->kind == PV_INT ? (long)x->u.i : 0, x->kind == PV_STR ? x->u.s : "");
        qr_arena_free(&a);
    }
    memmove(sb->rbuf, sb->rbuf + pos, sb->rlen - pos);
    sb->rlen -= pos;
    return 0;
}

void qr_sandbox_kill(QrWorker *w) {
    if (w->pid > 0) kill(-w->pid, SIGKILL);
}

void qr_sandbox_release(QrSandbox *sb, QrWorker *w) {
    (void)sb;
    if (w->res_fd >= 0) close(w->res_fd);
    if (w->out_fd >= 0) close(w->out_fd);
    w->res_fd = w->out_fd = -1;
    if (w->dir[0]) qr_remove_tree(w->dir);
    w->dir[0] = 0;
}

void qr_sandbox_close(QrSandbox *sb) {
    if (!sb) return;
    if (sb->ctrl >= 0) close(sb->ctrl);
    if (sb->zpid > 0) {
        // The zygote exits when its socket closes; give it a moment, then insist.
        for (int i = 0; i < 50; i++) {
            if (waitpid(sb->zpid, NULL, WNOHANG) == sb->zpid) {
                sb->zpid = 0;
                break;
            }
            usleep(2000);
        }
        if (sb->zpid > 0) {
            kill(sb->zpid, SIGKILL);
            waitpid(sb->zpid, NULL, 0);
        }
    }
    if (sb->tmproot[0]) qr_remove_tree(sb->tmproot);
    free(sb->rbuf);
    free(sb);
}

int qr_memfd_sealed(const char *name, const void *data, size_t len, QrErr *e) {
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return qr_fail(e, "memfd_create: %s", strerror(errno));
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            close(fd);
            return qr_fail(e, "memfd write: %s", strerror(errno));
        }
        p += w, left -= (size_t)w;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)) {
        close(fd);
        return qr_fail(e, "memfd seal: %s", strerror(errno));
    }
    return fd;
}

// rm -rf without recursion and without following symlinks: entries of
// subdirectories are moved up into the top directory (renameat) until only
// plain entries remain, so a hostile, arbitrarily deep tree costs neither
// stack nor PATH_MAX.
int qr_remove_tree(const char *path) {
    int top = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (top < 0) {
        if (errno == ENOENT) return 0;
        return unlink(path);
    }
    unsigned long serial = 0;
    for (int round = 0; round < 1000000; round++) {
        int dfd = dup(top);
        DIR *d = fdopendir(dfd);
        if (!d) {
            close(dfd);
            break;
        }
        rewinddir(d);
        int any = 0, progress = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            any = 1;
            if (unlinkat(top, de->d_name, 0) == 0) {
                progress = 1;
                continue;
            }
            if (unlinkat(top, de->d_name, AT_REMOVEDIR) == 0) {
                progress = 1;
                continue;
            }
            fchmodat(top, de->d_name, 0700, 0); // a directory the sample made unreadable
            int sub = openat(top, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) continue;
            DIR *sd = fdopendir(sub);
            if (!sd) {
                close(sub);
                continue;
            }
            struct dirent *se;
            while ((se = readdir(sd))) {
                if (!strcmp(se->d_name, ".") || !strcmp(se->d_name, "..")) continue;
                char nn[64];
                snprintf(nn, sizeof nn, ".qr-rm-%lu", serial++);
                if (renameat(sub, se->d_name, top, nn) == 0) progress = 1;
            }
            closedir(sd);
        }
        closedir(d);
        if (!any || !progress) break;
    }
    close(top);
    return rmdir(path);
}
