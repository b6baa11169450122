# qrobust sandbox zygote: the Python half of eval/sandbox.c.
#
# The C supervisor starts ONE python3 running this file (embedded in the
# qrobust binary) per evaluation, in a fresh network namespace when the kernel
# allows. It pre-imports the modules generated code commonly uses and then
# forks one worker process per (sample, test set) on request. Forking a warm
# interpreter costs about a millisecond; starting python3 costs ~100 ms here.
#
# The zygote is trusted; workers run untrusted code. A worker first drops
# everything that could reach the zygote or the supervisor (the control socket,
# every inherited fd), becomes its own session / process group, sets rlimits,
# changes into its private directory and, when the supervisor runs as root,
# switches to an unprivileged uid of its own. Only then does it exec the
# solution.
#
# Workers never judge anything. In differential mode they call the entry
# point on each input and send the return value back in marshal format
# (version 2: exact builtin types only, no references). The supervisor compares
# it with the canonical output in C, so no object the solution creates is ever
# asked whether it equals the expected value.
#
# Protocol, supervisor -> zygote (control socket, stream): frames
#   u32 length, marshal(dict) request; file descriptors ride along (SCM_RIGHTS)
# zygote -> supervisor: frames u32 length, marshal(tuple):
#   ('S', job, pid)            worker forked
#   ('X', job, wait_status)    worker reaped and every process of its uid killed
#   ('F', job, message)        could not fork
# worker -> supervisor (fd 3, a pipe): frames u32 length, u8 kind, payload:
#   R                    ready: code loaded, inputs read; input 0 starts now
#   O u32 i, f64 cpu, marshal(output)      cpu: of the call and the encoding
#   H u32 i, f64 cpu, u64 size, sha256     output too big to send (> 16 MiB marshal)
#   E u32 i, text        input i raised (text: "Type: message")
#   P u32 i, f64 cpu     assert test i passed
#   F u32 i, text        assert test i failed (AssertionError / other: see kind text)
#   L text               loading the solution raised
#   D                    all inputs done
import builtins
import gc
import marshal
import os
import resource
import select
import signal
import socket
import struct
import sys
import time

# Modules generated solutions import most; importing them here once makes
# every worker start warm. random is seeded so that runs are reproducible.
import array, bisect, cmath, collections, copy, dataclasses, datetime, decimal  # noqa: E401,F401
import enum, fractions, functools, hashlib, heapq, io, itertools, json, math  # noqa: E401,F401
import numbers, operator, random, re, statistics, string, textwrap, typing  # noqa: E401,F401
import unicodedata  # noqa: F401
import ast
import faulthandler
import shutil
import subprocess
import traceback

random.seed(0)
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)

CTRL_FD = int(sys.argv[1])
BIG_OUTPUT = 16 << 20  # outputs with a larger marshal encoding are sent as a SHA-256

ctrl = socket.socket(fileno=CTRL_FD)
jobs = {}  # pid -> (job id, uid)
rbuf = bytearray()
rfds = []


_libc = None


def _prctl_subreaper():
    # Orphans of workers (a fork bomb's children) are re-parented to us and
    # reaped here, so their zombies never count against a uid's NPROC.
    global _libc
    try:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except Exception:
        _libc = None


def send_ctrl(obj):
    data = marshal.dumps(obj, 2)
    ctrl.sendall(struct.pack("<I", len(data)) + data)


def recv_frames():
    """Reads what is available on the control socket; yields (request, fds)."""
    global rbuf
    msg, anc, flags, _ = ctrl.recvmsg(1 << 20, socket.CMSG_SPACE(64 * 4))
    if not msg:
        sys.exit(0)  # supervisor closed the socket
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            n = len(data) // 4
            rfds.extend(struct.unpack("<%di" % n, data[: n * 4]))
    rbuf += msg
    out = []
    while len(rbuf) >= 4:
        (n,) = struct.unpack_from("<I", rbuf, 0)
        if len(rbuf) < 4 + n:
            break
        req = marshal.loads(bytes(rbuf[4 : 4 + n]))
        del rbuf[: 4 + n]
        k = req["nfds"]
        fds, rfds[:k] = rfds[:k], []
        out.append((req, fds))
    return out


def kill_uid(uid):
    """Kills every process of uid (setsid/double-fork escapes included)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            # kill(-1) as uid reaches exactly the processes that uid owns. A
            # process killed mid-fork has its fork aborted, so after a pass
            # nothing new appears; the second pass is for safety. (kill(-1)
            # returns 0 whenever other processes exist, so its result says
            # nothing about whether any were ours.)
            for _ in range(2):
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    break
                time.sleep(0.0005)
        finally:
            os._exit(0)
    while True:
        try:
            os.waitpid(pid, 0)
            break
        except ChildProcessError:
            break
        except InterruptedError:
            continue


def reap():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid in jobs:
            job, uid = jobs.pop(pid)
            if uid is not None:
                kill_uid(uid)
            send_ctrl(("X", job, status))


# ---------------------------------------------------------------- worker side


def _write_all(fd, data):
    mv = memoryview(data)
    while mv:
        n = os.write(fd, mv)
        mv = mv[n:]


def _send(kind, payload=b""):
    # One write per frame: the supervisor times input i from the arrival of
    # the frame before it, so frames must not wait in a buffer. (Batching
    # them measured no faster here.)
    _write_all(3, struct.pack("<IB", len(payload) + 1, kind) + payload)


def _exc_line(ex):
    try:
        name = type(ex).__name__
        text = str(ex)
    except BaseException:
        name, text = "Exception", "(unprintable)"
    line = name + (": " + text if text else "")
    return line.replace("\n", " ")[:300].encode("utf-8", "replace")


_BASES = (bool, int, float, complex, str, bytes, tuple, list, dict, set, frozenset)


def _norm(x, depth=0):
    """Builtin-typed copy of x for marshal: subclasses of builtin types
    become their base type (namedtuple -> tuple, Counter -> dict, IntEnum ->
    int), anything else becomes StopIteration, the 'opaque object' marker."""
    if depth > 1000:
        raise RecursionError
    t = type(x)
    if x is None or t in (bool, int, float, complex, str, bytes) or x is Ellipsis:
        return x
    if t in (list, tuple, set, frozenset, dict) or isinstance(x, _BASES) or isinstance(x, (bytearray, memoryview)):
        if isinstance(x, bool):
            return bool.__bool__(x) if t is not bool else x
        if isinstance(x, int):
            return int.__int__(x)
        if isinstance(x, float):
            return float.__float__(x)
        if isinstance(x, complex):
            return complex(float(complex.__getattribute__(x, "real")), float(complex.__getattribute__(x, "imag")))
        if isinstance(x, str):
            return str.__str__(x)
        if isinstance(x, (bytes, bytearray, memoryview)):
            return bytes(x)
        if isinstance(x, tuple):
            return tuple(_norm(v, depth + 1) for v in tuple.__iter__(x))
        if isinstance(x, list):
            return [_norm(v, depth + 1) for v in list.__iter__(x)]
        if isinstance(x, dict):
            return {_norm(k, depth + 1): _norm(v, depth + 1) for k, v in dict.items(x)}
        if isinstance(x, frozenset):
            return frozenset(_norm(v, depth + 1) for v in frozenset.__iter__(x))
        if isinstance(x, set):
            return set(_norm(v, depth + 1) for v in set.__iter__(x))
    return StopIteration


def _encode(out):
    try:
        return marshal.dumps(out, 2)
    except Exception:
        pass
    try:
        return marshal.dumps(_norm(out), 2)
    except BaseException:
        return b"S"


def _read_inputs(fd):
    size = os.fstat(fd).st_size
    chunks, off = [], 0
    while off < size:
        b = os.pread(fd, min(size - off, 1 << 24), off)
        if not b:
            break
        chunks.append(b)
        off += len(b)
    os.close(fd)
    return marshal.loads(b"".join(chunks)) if chunks else []


def _assert_index(test_src, lineno):
    """Ordinal of the assert statement of test_src that holds line lineno."""
    try:
        lines = sorted(n.lineno for n in ast.walk(ast.parse(test_src)) if isinstance(n, ast.Assert))
    except BaseException:
        return -1
    idx = -1
    for k, ln in enumerate(lines):
        if ln <= lineno:
            idx = k
    return idx


def _guard(mem):
    """EvalPlus's reliability_guard (evalplus/eval/utils.py, itself from
    OpenAI's human-eval): the same functions are disabled so that solutions
    behave here as they do under EvalPlus (e.g. open() is unavailable). It is
    not what keeps the host safe -- the process sandbox is."""
    if mem:
        for r in (resource.RLIMIT_AS, resource.RLIMIT_DATA, resource.RLIMIT_STACK):
            try:
                resource.setrlimit(r, (mem, mem))
            except (ValueError, OSError):
                pass
    faulthandler.disable()
    builtins.exit = None
    builtins.quit = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork",
                 "forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod", "fchown",
                 "chmod", "chown", "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir"):
        setattr(os, name, None)
    builtins.open = None
    shutil.rmtree = None
    shutil.move = None
    shutil.chown = None
    subprocess.Popen = None
    builtins.help = None
    for m in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[m] = None


def _run(req):
    mode = req["mode"]
    if mode == "sanitize":  # parse only; inputs are (text, entry point) pairs
        _send(ord("R"))
        for i, (text, entry) in enumerate(_read_inputs(4)):
            t0 = time.process_time()
            try:
                out = _sanitize(text, entry)
            except BaseException as ex:
                _send(ord("E"), struct.pack("<I", i) + _exc_line(ex))
                continue
            _send(ord("O"), struct.pack("<Id", i, time.process_time() - t0) + marshal.dumps(out, 2))
        _send(ord("D"))
        return
    if mode != "gt":
        _guard(req.get("mem", 0))
    code = req["code"]
    cpu = time.process_time
    if mode in ("diff", "gt"):
        inputs = _read_inputs(4)
        g = {}  # as EvalPlus: no __name__, so `if __name__ == "__main__":` blocks do not run
        try:
            exec(code, g)
            fn = g[req["entry"]]
        except BaseException as ex:
            _send(ord("L"), _exc_line(ex))
            return
        _send(ord("R"))
        pack = struct.Struct("<Id").pack
        for i, inp in enumerate(inputs):
            t0 = cpu()
            try:
                out = fn(*inp)
            except BaseException as ex:
                _send(ord("E"), struct.pack("<I", i) + _exc_line(ex))
                if mode == "diff":
                    return
                continue
            if req.get("not_none"):  # EvalPlus: expected = output is not None
                out = out is not None
            data = _encode(out)
            if len(data) > BIG_OUTPUT:
                # Too big to ship: its marshal bytes are compared by digest.
                digest = struct.pack("<Q", len(data)) + hashlib.sha256(data).digest()
                del data
                _send(ord("H"), pack(i, cpu() - t0) + digest)
                continue
            _send(ord("O"), pack(i, cpu() - t0) + data)
        _send(ord("D"))
    elif mode == "humaneval":
        # human-eval's check program: prompt + completion + test + check(entry)
        test = req["test"]
        prog = code + "\n" + test + "\n" + "check(%s)" % req["entry"]
        start = code.count("\n") + 2  # first line of test within prog
        g = {}
        try:
            compiled = compile(prog, "<check>", "exec")
        except BaseException as ex:
            _send(ord("L"), _exc_line(ex))
            return
        _send(ord("R"))
        t0 = cpu()
        try:
            exec(compiled, g)
        except BaseException as ex:
            ln = -1
            for fr, lineno in traceback.walk_tb(ex.__traceback__):
                if fr.f_code.co_filename == "<check>":
                    ln = lineno
            idx = _assert_index(test, ln - start + 1) if ln >= start else -1
            kind = ord("F") if isinstance(ex, AssertionError) else ord("E")
            _send(kind, struct.pack("<i", idx) + _exc_line(ex))
            return
        _send(ord("P"), struct.pack("<Id", 0, cpu() - t0))
        _send(ord("D"))
    elif mode == "asserts":
        # MBPP: solution + test_setup_code, then each assert in turn
        g = {}
        try:
            exec(code + "\n" + req["test"], g)
        except BaseException as ex:
            _send(ord("L"), _exc_line(ex))
            return
        _send(ord("R"))
        for i, a in enumerate(req["asserts"]):
            t0 = cpu()
            try:
                exec(a, g)
            except BaseException as ex:
                kind = ord("F") if isinstance(ex, AssertionError) else ord("E")
                _send(kind, struct.pack("<i", i) + _exc_line(ex))
                return
            _send(ord("P"), struct.pack("<Id", i, cpu() - t0))
        _send(ord("D"))


# ---------------------------------------------------------------- sanitizer
# EvalPlus's sanitize() (evalplus/sanitize.py, v0.3.1) with Python's ast in
# place of tree-sitter: keep the longest syntactically valid run of lines,
# then its top-level imports and the top-level functions (with a return),
# classes and assignments reachable from the entry point, in source order.
# Parsing only: nothing of the text is executed.
import keyword
import tokenize


def _syntax_ok(code):
    try:
        ast.parse(code)
        return True
    except (SyntaxError, MemoryError, ValueError, RecursionError):
        return False


def _code_extract(text):
    lines = text.split("\n")
    best, longest = (0, 0), 0
    for i in range(len(lines)):
        for j in range(i + 1, len(lines)):
            cur = "\n".join(lines[i : j + 1])
            if _syntax_ok(cur):
                n = sum(1 for ln in lines[i : j + 1] if ln.strip())
                if n > longest:
                    longest, best = n, (i, j)
    return "\n".join(lines[best[0] : best[1] + 1])


def _identifiers(seg):
    out = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(seg).readline):
            if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string):
                out.add(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def _sanitize(text, entry):
    code = _code_extract(text)
    try:
        tree = ast.parse(code)
    except BaseException:
        tree = None
    imports, defs, names = [], [], set()
    for node in tree.body if tree else []:
        seg = ast.get_source_segment(code, node) or ""
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(seg)
            continue
        name = None
        if isinstance(node, ast.ClassDef) and not node.decorator_list:
            name = node.name
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.decorator_list:
            # tree-sitter sees a decorated def as another node type: dropped
            if not any(isinstance(n, ast.Return) for n in ast.walk(node)):
                continue
            name = node.name
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            t = node.targets[0] if isinstance(node, ast.Assign) else node.target
            name = t.id if isinstance(t, ast.Name) else None
        else:
            continue
        if name in names:
            continue
        names.add(name)
        defs.append((name, seg))
    if entry:
        deps = {name: _identifiers(seg) for name, seg in defs}
        reach, queue = {entry}, [entry]
        while queue:
            cur = queue.pop(0)
            for nb in deps.get(cur, ()):
                if nb not in reach:
                    reach.add(nb)
                    queue.append(nb)
    out = "".join(s + "\n" for s in imports)
    out += "".join(seg + "\n" for name, seg in defs if not entry or name in reach)
    out = out[:-1].strip()
    return out if out else _code_extract(text)


def _child(req, fds):
    # 1. Cut every path back to the zygote and the supervisor.
    ctrl.close()
    res_fd, out_fd = fds[0], fds[1]
    in_fd = fds[2] if len(fds) > 2 else -1
    os.setsid()
    hi = 1000
    os.dup2(res_fd, hi)
    os.dup2(out_fd, hi + 1)
    if in_fd >= 0:
        os.dup2(in_fd, hi + 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(hi + 1, 1)
    os.dup2(hi + 1, 2)
    os.dup2(hi, 3)
    if in_fd >= 0:
        os.dup2(hi + 2, 4)
    os.closerange(5, 1 << 16)
    # 2. Limits and identity.
    lim = req["limits"]
    for name, val in lim.items():
        r = getattr(resource, name)
        resource.setrlimit(r, (val, val))
    if req.get("nproc_rel"):
        # Not root: RLIMIT_NPROC counts every process of the invoking user, so
        # allow nproc_rel more than the user runs right now.
        me = os.getuid()
        n = 0
        for d in os.listdir("/proc"):
            try:
                n += d.isdigit() and os.stat("/proc/" + d).st_uid == me
            except OSError:
                pass
        resource.setrlimit(resource.RLIMIT_NPROC, (n + req["nproc_rel"], n + req["nproc_rel"]))
    os.chdir(req["dir"])
    uid = req.get("uid")
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG (cleared by setuid, so set it after)
    os.environ.clear()
    os.environ.update({"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": req["dir"], "TMPDIR": req["dir"],
                       "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"})
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(s, signal.SIG_DFL)
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
    sys.stderr = sys.stdout
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
    _run(req)
    try:
        sys.stdout.flush()
    except BaseException:
        pass


def main():
    _prctl_subreaper()
    # Objects that exist now are never collected: workers then do not touch
    # (and copy) the zygote's pages when their collector runs.
    gc.collect()
    gc.freeze()
    rpipe, wpipe = os.pipe()
    os.set_blocking(wpipe, False)
    signal.set_wakeup_fd(wpipe)
    signal.signal(signal.SIGCHLD, lambda *a: None)
    send_ctrl(("V", sys.version.split()[0]))
    while True:
        try:
            ready, _, _ = select.select([CTRL_FD, rpipe], [], [])
        except InterruptedError:
            continue
        if rpipe in ready:
            try:
                os.read(rpipe, 4096)
            except BlockingIOError:
                pass
        reap()
        if CTRL_FD in ready:
            for req, fds in recv_frames():
                pid = -1
                try:
                    pid = os.fork()
                except OSError as ex:
                    send_ctrl(("F", req["job"], str(ex)))
                if pid == 0:
                    try:
                        _child(req, fds)
                    except BaseException as ex:
                        try:
                            _send(ord("L"), b"SandboxSetupError: " + _exc_line(ex))
                        except BaseException:
                            pass
                    finally:
                        os._exit(0)
                for fd in fds:
                    os.close(fd)
                if pid > 0:
                    jobs[pid] = (req["job"], req.get("uid"))
                    send_ctrl(("S", req["job"], pid))
            reap()


main()
