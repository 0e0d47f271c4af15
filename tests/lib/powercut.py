#!/usr/bin/env python3
"""Power-cut crash states of pop3d's UPDATE and of its recovery.

    powercut.py --pop3d BIN --work DIR --scenario NAME
                   [--max-states N] [--per-point N] [--seed S] [--verbose]

A method after ALICE (OSDI 2014) and CrashMonkey (OSDI 2018): record the
file operations of a real session with strace (-f -y -xx, the data in
full), model the file system, and check every crash state it allows.

The model (README "Tests" says the same):
  - the spool directory's names and each file's bytes start durable;
  - a write, pwrite or ftruncate of a file is durable once that file was
    fsynced (or fdatasynced) later; a create, link, rename or unlink is
    durable once the directory was fsynced later; close() is no barrier;
  - a crash after operation C keeps every durable operation among the
    first C, any subset of the other data operations -- each write cut at
    4 KiB boundaries, every piece on its own (torn and reordered writes,
    a hole reads as zeros) -- and a prefix, in order, of the other name
    operations (the journal commits metadata in order; a rename may
    persist before the data written before it, which ext4 data=ordered
    allows when the data was never fsynced).
For each crash point the states are enumerated (or, above --per-point,
sampled deterministically, the extremes kept); identical states are
checked once, and above --max-states a deterministic sample is.

Each state is written into the spool (the mailbox keeps its inode: the
journal names it), every file dated before this boot (the power cut), a
dotlock naming a live, unrelated pid in every other state (pid reuse after
the reboot), mail appended as an MDA would after the crash (scenarios
"-deliver"), and then the next login runs: USER, PASS, STAT, QUIT
(every third state first runs pop3d --recover MAILBOX as a boot script
would).  Checked: PASS answered +OK within the lock wait (no [IN-USE]),
the mailbox as tests/lib/mbox.py checks it (every message once, in
order, byte-identical; the session's deletions all done or all undone;
delivered mail kept once after them), no journal, dotlock or unique lock
file left, the inode kept, and no state holding an empty dotlock.

Scenarios: dele-first, dele-middle, dele-last (the truncate-only update),
each also with "-deliver"; recover and recover-cut (each also with
"-deliver", the mail then appended after the kill) record instead the
recovery of an update killed (SIGKILL, page cache intact) right after its
commit or right after its ftruncate, and crash inside that recovery.

Prints one line per failing state (every state with --verbose) and
"states=N distinct=N checked=N deleted=N kept=N lost=N duplicated=N
corrupted=N failed=N seconds=S"; exit status 1 on any failure.  Bounded:
at most --max-states sessions of at most 20 s each.
"""
import argparse
import hashlib
import importlib.util
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # nothing generated in the tree
HERE = os.path.dirname(os.path.abspath(__file__))


def load(name, file):
    spec = importlib.util.spec_from_file_location(name,
                                                  os.path.join(HERE, file))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


sys.path.insert(0, HERE)
import mbox as mbox_lib  # noqa: E402  (tests/lib/mbox.py)
sweep_lib = load("faultsweep", "faultsweep.py")
pop3client = load("pop3client", "pop3client.py")

UID = GID = 5000
PAGE = 4096
LOCK_WAIT = 10          # params.h LOCK_WAIT: a login must not need it
CALLS = ("openat,open,creat,write,pwrite64,writev,pwritev,ftruncate,"
         "truncate,fsync,fdatasync,rename,renameat,renameat2,unlink,"
         "unlinkat,link,linkat,lseek,close,fallocate")
NAME_CALLS = ("rename", "renameat", "renameat2", "unlink", "unlinkat", "link",
              "linkat", "truncate")
SCENARIOS = {
    # name: (mailbox kinds, deleted, phase); ~40 KB kept after a delete
    "dele-first": ("s,m,s,m,s", [1], "update"),
    "dele-middle": ("s,m,s,m,m,s", [3], "update"),
    "dele-last": ("s,m,s,m,s", [5], "update"),
    # the update killed (SIGKILL) at the first CALL after AFTER, then
    # the recovery recorded: right after the commit (the directory fsync
    # after the journal's renameat), or once the file is cut (the
    # journal's unlinkat after the ftruncate); pop3d names its files in
    # the mailbox's directory descriptor, so these are the *at calls
    "recover": ("s,m,s,m,s", [1, 3], ("fsync", "renameat")),
    "recover-cut": ("s,m,s,m,s", [1, 3], ("unlinkat", "ftruncate")),
}
DELIVERY = (b"Subject: delivered after the power cut\n"
            b"Message-ID: <crashstate@example.org>\n\n"
            b"Appended by an MDA after the reboot; it must be kept, once.\n")


# ---- reading strace -f -y -xx output ----

LINE_RE = re.compile(r"^(\d+) +(\w+)\((.*)\) += (-?\d+)(<[^>]*>)?(.*)$")


def unhex(s):
    return bytes.fromhex(s.replace("\\x", ""))


def split_args(s):
    """Top-level comma-separated arguments (quotes, <>, [], {} nest)."""
    out, depth, cur, quoted = [], 0, [], False
    for ch in s:
        if quoted:
            quoted = ch != '"'
        elif ch == '"':
            quoted = True
        elif ch in "<[{":
            depth += 1
        elif ch in ">]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur).strip())
    return out


def arg_str(a):
    if a.endswith('"...'):
        raise SystemExit("strace cut a string: raise -s")
    return unhex(a[1:-1]).decode("latin-1")


def arg_fd(a):
    """'3<\\x2f...>' -> (3, path)"""
    m = re.match(r"^(-?\d+|AT_FDCWD)<(.*)>$", a)
    if m is None:
        return None, None
    return m.group(1), unhex(m.group(2)).decode("latin-1")


def read_trace(path, failed=False, pids=False):
    """Successful calls (and failed ones too if asked) as (name, args,
    ret, retpath), and the caller's pid if asked, in order."""
    pending = {}
    calls = []
    with open(path, errors="replace") as f:
        for l in f:
            l = l.rstrip("\n")
            m = re.match(r"^(\d+) +(.*) <unfinished \.\.\.>$", l)
            if m:
                pending[m.group(1)] = m.group(2)
                continue
            m = re.match(r"^(\d+) +<\.\.\. \w+ resumed>(.*)$", l)
            if m:
                l = m.group(1) + " " + pending.pop(m.group(1), "") + \
                    m.group(2)
            m = LINE_RE.match(l)
            if m is None or (int(m.group(4)) < 0 and not failed):
                continue
            rp = m.group(5)
            calls.append((m.group(2), split_args(m.group(3)),
                          int(m.group(4)),
                          unhex(rp[1:-1]).decode("latin-1") if rp else None)
                         + ((m.group(1),) if pids else ()))
    return calls


# ---- the file-system model ----

class Recorder:
    """Turns the calls on files of one directory into model operations:
    ("data", ino, off, bytes) / ("trunc", ino, size) / ("sync", ino) /
    ("dirsync",) / ("name", kind, args...)."""

    def __init__(self, spool, initial):
        self.spool = spool
        self.names = dict(initial)          # name -> ino (at record time)
        self.sizes = {}
        self.next_ino = max(initial.values(), default=0) + 1
        self.fds = {}                       # fd -> [ino or "dir", pos]
        self.ops = []

    def local(self, path, dirpath=None):
        if not path.startswith("/") and dirpath is not None:
            path = os.path.join(dirpath, path)
        d, n = os.path.split(path)
        return n if d == self.spool else None

    def opened(self, args, ret, retpath, flags):
        if retpath == self.spool:
            self.fds[ret] = ["dir", 0]
            return
        name = self.local(retpath or "")
        if name is None:
            self.fds.pop(ret, None)
            return
        if name not in self.names:
            if "O_CREAT" not in flags:
                raise SystemExit("open of an unknown file " + name)
            mode = int(args[-1], 8) if args[-1].startswith("0") else 0o600
            self.names[name] = self.next_ino
            self.ops.append(("name", "create", name, self.next_ino, mode))
            self.next_ino += 1
        ino = self.names[name]
        if "O_TRUNC" in flags:
            self.ops.append(("trunc", ino, 0))
        self.fds[ret] = [ino, 0]

    def data(self, fd, buf, off):
        ino = self.fds[fd][0]
        for start in range(off - off % PAGE, off + len(buf), PAGE):
            lo, hi = max(start, off), min(start + PAGE, off + len(buf))
            self.ops.append(("data", ino, lo, buf[lo - off:hi - off]))

    def call(self, name, args, ret, retpath):
        fd, _ = arg_fd(args[0]) if args else (None, None)
        fd = int(fd) if fd not in (None, "AT_FDCWD") else fd
        if name in ("open", "openat", "creat"):
            flags = args[2] if name == "openat" else args[1]
            if name == "creat":
                flags = "O_CREAT|O_TRUNC"
            return self.opened(args, ret, retpath, flags)
        if fd in self.fds and name in ("write", "pwrite64"):
            buf = unhex(args[1][1:-1])[:ret]
            off = int(args[3]) if name == "pwrite64" else self.fds[fd][1]
            self.data(fd, buf, off)
            if name == "write":
                self.fds[fd][1] = off + ret
        elif fd in self.fds and name == "lseek":
            self.fds[fd][1] = ret
        elif fd in self.fds and name == "ftruncate":
            self.ops.append(("trunc", self.fds[fd][0], int(args[1])))
        elif fd in self.fds and name in ("fsync", "fdatasync"):
            ino = self.fds[fd][0]
            self.ops.append(("dirsync",) if ino == "dir" else
                            ("sync", ino))
        elif fd in self.fds and name in ("writev", "pwritev", "fallocate"):
            raise SystemExit("model lacks %s on a spool file" % name)
        elif name == "close" and fd in self.fds:
            del self.fds[fd]
        elif name in NAME_CALLS:
            self.names_call(name, args)

    def names_call(self, name, args):
        strs = [(arg_str(a), arg_fd(args[i - 1])[1] if i else None)
                for i, a in enumerate(args) if a.startswith('"')]
        paths = [self.local(p, d) for p, d in strs]
        if name in ("unlink", "unlinkat") and paths[0] is not None:
            ino = self.names.pop(paths[0])
            self.ops.append(("name", "unlink", paths[0], ino))
        elif name in ("link", "linkat") and paths[1] is not None:
            ino = self.names[paths[0]]
            self.names[paths[1]] = ino
            self.ops.append(("name", "link", paths[1], ino))
        elif name.startswith("rename") and paths[1] is not None:
            ino = self.names.pop(paths[0])
            self.names[paths[1]] = ino
            self.ops.append(("name", "rename", paths[0], paths[1], ino))
        elif name in ("truncate",) and paths[0] is not None:
            raise SystemExit("model lacks truncate(2) by name")


def durable_flags(ops):
    """For each prefix length c: which of ops[:c] are durable.  Returns
    per op the index of the first barrier that covers it (or None)."""
    cover = [None] * len(ops)
    last_sync = {}
    last_dir = None
    for i in range(len(ops) - 1, -1, -1):
        op = ops[i]
        if op[0] == "sync":
            last_sync[op[1]] = i
        elif op[0] == "dirsync":
            last_dir = i
        elif op[0] in ("data", "trunc"):
            cover[i] = last_sync.get(op[1])
        elif op[0] == "name":
            cover[i] = last_dir
    return cover


def apply_state(initial_files, ops, chosen):
    """The files (name -> (bytes, mode)) after applying ops[i] for i in
    chosen, in order, on the initial files."""
    data = {}
    modes = {}
    names = {}
    for name, (ino, content, mode) in initial_files.items():
        names[name] = ino
        data[ino] = bytearray(content)
        modes[ino] = mode
    for i in chosen:
        op = ops[i]
        if op[0] == "data":
            _, ino, off, buf = op
            b = data.setdefault(ino, bytearray())
            if len(b) < off:
                b.extend(bytes(off - len(b)))
            b[off:off + len(buf)] = buf
        elif op[0] == "trunc":
            b = data.setdefault(op[1], bytearray())
            if len(b) > op[2]:
                del b[op[2]:]
            else:
                b.extend(bytes(op[2] - len(b)))
        elif op[1] == "create":
            names[op[2]] = op[3]
            data.setdefault(op[3], bytearray())
            modes[op[3]] = op[4]
        elif op[1] == "link":
            names[op[2]] = op[3]
        elif op[1] == "unlink":
            names.pop(op[2], None)
        elif op[1] == "rename":
            names.pop(op[2], None)
            names[op[3]] = op[4]
    return {n: (bytes(data.get(i, b"")), modes.get(i, 0o600))
            for n, i in names.items()}


def crash_states(ops, per_point, rng):
    """Yield (crash point, sorted op indices applied) for every crash
    point; per point all choices or a deterministic sample of them."""
    cover = durable_flags(ops)
    for c in range(len(ops) + 1):
        fixed, loose_data, loose_meta = [], [], []
        for i in range(c):
            if ops[i][0] in ("sync", "dirsync"):
                continue
            if cover[i] is not None and cover[i] < c:
                fixed.append(i)
            elif ops[i][0] == "name":
                loose_meta.append(i)
            else:
                loose_data.append(i)
        k, m = len(loose_data), len(loose_meta)
        total = (2 ** k) * (m + 1) if k < 30 else per_point + 1
        if total <= per_point:
            picks = [(mask, j) for mask in range(2 ** k)
                     for j in range(m + 1)]
        else:
            full = (1 << k) - 1
            picks = {(0, 0), (full, m), (full, 0), (0, m)}
            while len(picks) < per_point:
                picks.add((rng.getrandbits(k), rng.randint(0, m)))
            picks = sorted(picks)
        for mask, j in picks:
            chosen = set(fixed)
            chosen.update(i for b, i in enumerate(loose_data)
                          if mask >> b & 1)
            chosen.update(loose_meta[:j])
            yield c, sorted(chosen)


# ---- running pop3d ----

class Replay:
    def __init__(self, a):
        self.a = a
        base = a.scenario.replace("-deliver", "")
        self.spec, self.dele, self.phase = SCENARIOS[base]
        # mail delivered after the crash: into every state (update), or
        # once, after the kill and before the recorded recovery (recover)
        self.delivered = a.scenario.endswith("-deliver")
        self.deliver = self.delivered and self.phase == "update"
        self.ino = None
        # the spool, passwd file, mailbox and truth as the sweeps make them
        self.fix = sweep_lib.Sweep(argparse.Namespace(
            work=a.work, spec=self.spec, seed=a.seed,
            dele=",".join(str(n) for n in self.dele)))
        self.work, self.spool, self.mbox = (self.fix.work, self.fix.spool,
                                            self.fix.mbox)
        self.truth, self.passwd, self.orig = (self.fix.truth,
                                              self.fix.passwd,
                                              self.fix.orig)
        self.delivery = os.path.join(self.work, "delivery")
        with open(self.delivery, "wb") as f:
            f.write(DELIVERY)
        with open("/proc/stat") as f:
            self.btime = int(re.search(r"^btime (\d+)$", f.read(),
                                       re.M).group(1))
        self.sleeper = subprocess.Popen(["sleep", "3600"])
        self.counts = dict.fromkeys(("states", "distinct", "checked",
                                     "deleted", "kept", "lost",
                                     "duplicated", "corrupted", "failed"),
                                    0)

    def pop3d(self, *extra):
        return [self.a.pop3d, "-p", self.passwd, "-m",
                self.spool + "/%u", "-d", "0"] + list(extra)

    def traced(self, trace, inject=None):
        argv = ["strace", "-f", "-qq", "-y", "-xx", "-s", "16777216",
                "-o", trace, "-e", "trace=" + CALLS]
        if inject:
            argv += ["-e", "inject=" + inject]
        return argv + ["--"] + self.pop3d()

    def login(self, argv, dele=()):
        cmds = ["USER alice", "PASS secret", "STAT"] + \
            ["DELE %d" % n for n in dele] + ["QUIT"]
        return pop3client.run_session(argv, cmds)

    # ---- laying out a state ----

    def write_mbox(self, content):
        """In place: the mailbox keeps its inode (the journal names it)."""
        self.fix.write_in_place(content)

    def snapshot(self):
        """The spool as (name -> (ino, bytes, mode)) model inodes."""
        files = {}
        for n in sorted(os.listdir(self.spool)):
            p = os.path.join(self.spool, n)
            with open(p, "rb") as f:
                files[n] = (len(files) + 1, f.read(),
                            os.stat(p).st_mode & 0o7777)
        return files

    def lay_out(self, files, index):
        for n in os.listdir(self.spool):
            if n != "alice":
                os.unlink(os.path.join(self.spool, n))
        before = self.btime - 3600
        for n, (content, mode) in files.items():
            if n == "alice":
                self.write_mbox(content)
            else:
                if n == "alice.lock" and index % 2 and content[:1].isdigit():
                    # after the reboot the lock's pid is someone else's
                    content = re.sub(rb"^\d+", str(self.sleeper.pid)
                                     .encode(), content)
                p = os.path.join(self.spool, n)
                with open(p, "wb") as f:
                    f.write(content)
                os.chown(p, UID, GID)
                os.chmod(p, mode)
            os.utime(os.path.join(self.spool, n), (before, before))
        if self.deliver:
            self.append_delivery()

    # ---- recording ----

    def record(self):
        """(initial files, model ops) of the session to crash in."""
        self.write_mbox(self.orig)
        self.ino = os.stat(self.mbox).st_ino
        trace = os.path.join(self.work, "trace")
        if self.phase != "update":
            # the update killed at that point (the page cache intact)
            replies, rc = self.login(self.pop3d_kill(trace), self.dele)
            if rc not in (-9, 137):
                raise SystemExit("the update was not killed (%r)" % rc)
            if self.delivered:
                self.append_delivery()
            initial = self.snapshot()
            replies, rc = self.login(self.traced(trace))
        else:
            initial = self.snapshot()
            replies, rc = self.login(self.traced(trace), self.dele)
        if not replies or not replies[-1].startswith("+OK"):
            raise SystemExit("recorded session failed: %r" % replies)
        rec = Recorder(self.spool, {n: v[0] for n, v in initial.items()})
        for call in read_trace(trace):
            rec.call(*call)
        os.unlink(trace)
        return initial, rec.ops

    def pop3d_kill(self, trace):
        """pop3d killed at the scenario's point, found in a traced run
        (strace's when= counts failed calls too, per process: only the
        session's own calls are counted, and only it is injected)."""
        call, after = self.phase
        self.login(self.traced(trace), self.dele)
        calls = read_trace(trace, failed=True, pids=True)
        names = [c[0] for c in calls]
        os.unlink(trace)
        if after not in names or call not in names[names.index(after):]:
            raise SystemExit("the update made no %s after %s" % (call,
                                                                 after))
        for n in os.listdir(self.spool):
            if n != "alice":
                os.unlink(os.path.join(self.spool, n))
        self.write_mbox(self.orig)
        at = names.index(call, names.index(after))
        pid = calls[at][4]
        when = sum(1 for c in calls[:at + 1] if c[0] == call and c[4] == pid)
        return ["strace", "-qq", "-o", "/dev/null", "-e",
                "inject=%s:signal=SIGKILL:when=%d" % (call, when),
                "--"] + self.pop3d()

    def append_delivery(self):
        """As an MDA appends once it has broken the dead holder's lock."""
        with open(self.mbox, "ab") as f:
            f.write(mbox_lib.mbox_form(DELIVERY, b"mda@example.org",
                                       b"Tue Dec  1 00:00:00 2026"))

    # ---- checking one state ----

    def classify(self):
        """lost, duplicated, corrupted message counts of the mailbox."""
        with open(self.truth) as f:
            t = json.load(f)
        starts = t["starts"] + [len(self.orig)]
        want = {self.orig[starts[i]:starts[i + 1]]: i + 1 - t["hidden"]
                for i in range(len(t["starts"]))}
        with open(self.mbox, "rb") as f:
            data = f.read()
        got = mbox_lib.starts(data) + [len(data)]
        seen = {}
        corrupted = 0
        delivered = 0
        for i in range(len(got) - 1):
            m = data[got[i]:got[i + 1]]
            if m in want:
                seen[m] = seen.get(m, 0) + 1
            elif m.split(b"\n", 1)[-1] == DELIVERY + b"\n":
                delivered += 1
            else:
                corrupted += 1
        lost = sum(1 for m, n in want.items()
                   if m not in seen and n not in self.dele)
        dup = sum(n - 1 for n in seen.values() if n > 1)
        if self.delivered:
            lost += delivered == 0
            dup += max(0, delivered - 1)
        return lost, dup, corrupted

    def check_state(self, files, index):
        problems = []
        lock = files.get("alice.lock")
        if lock is not None and not lock[0]:
            problems.append("an empty dotlock survives the crash")
        self.lay_out(files, index)
        t0 = time.monotonic()
        if index % 3 == 2:
            r = subprocess.run([self.a.pop3d, "--recover", self.mbox],
                               capture_output=True, timeout=20)
            if r.returncode != 0:
                problems.append("--recover exit %d" % r.returncode)
        replies, rc = self.login(self.pop3d())
        took = time.monotonic() - t0
        if len(replies) < 3 or not replies[2].startswith("+OK"):
            # nothing recovered yet: a mailbox mid-update is no loss
            return problems + ["login: %r" % replies[2:3]]
        if took >= LOCK_WAIT / 2:
            problems.append("login took %.1f s (a lock waited for)" % took)
        delivered = [self.delivery] if self.delivered else []
        name, why = mbox_lib.check(self.truth, self.mbox, set(self.dele),
                                   "either", delivered)
        lost, dup, corrupt = self.classify()
        self.counts["lost"] += lost
        self.counts["duplicated"] += dup
        self.counts["corrupted"] += corrupt
        if name is None:
            problems.append(why)
        else:
            self.counts[name] += 1
        # the persistent index is a cache beside the mailbox (README
        # "Persistent index"): it and a crashed writer's temp file may stay
        left = [n for n in os.listdir(self.spool) if n != "alice" and
                n not in ("alice.pop3d-index", "alice.pop3d-index.tmp")]
        if left:
            problems.append("left behind: " + " ".join(sorted(left)))
        if os.stat(self.mbox).st_ino != self.ino:
            problems.append("mailbox inode changed")
        return problems

    def run(self):
        initial, ops = self.record()
        init_files = {n: v for n, v in initial.items()}
        rng = random.Random("%s/%d" % (self.a.scenario, self.a.seed))
        distinct = {}
        for c, chosen in crash_states(ops, self.a.per_point, rng):
            self.counts["states"] += 1
            files = apply_state(init_files, ops, chosen)
            key = hashlib.sha256(repr(sorted(
                (n, hashlib.sha256(d).digest(), m)
                for n, (d, m) in files.items())).encode()).digest()
            distinct.setdefault(key, (c, chosen))
        self.counts["distinct"] = len(distinct)
        todo = list(distinct.values())
        if len(todo) > self.a.max_states:
            todo = sorted(rng.sample(todo, self.a.max_states))
        print("# %d operations recorded, %d crash states, %d distinct, "
              "%d to check" % (len(ops), self.counts["states"],
                               len(distinct), len(todo)), flush=True)
        for index, (c, chosen) in enumerate(todo):
            files = apply_state(init_files, ops, chosen)
            problems = self.check_state(files, index)
            self.counts["checked"] += 1
            if problems or self.a.verbose:
                print("state %d (crash after op %d/%d, %d applied; files %s)"
                      ": %s" % (index, c, len(ops), len(chosen),
                                ",".join("%s:%d" % (n, len(d)) for n, (d, _)
                                         in sorted(files.items())),
                                "; ".join(problems) or "ok"), flush=True)
            if problems:
                self.counts["failed"] += 1
                if self.counts["failed"] >= 20:
                    print("# stopping after 20 failing states")
                    break
        return self.counts

    def close(self):
        self.sleeper.kill()
        self.sleeper.wait()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pop3d", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--scenario", required=True,
                   choices=sorted(SCENARIOS) +
                   sorted(s + "-deliver" for s in SCENARIOS))
    p.add_argument("--max-states", type=int, default=1000)
    p.add_argument("--per-point", type=int, default=64)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args()
    start = time.monotonic()
    r = Replay(a)
    try:
        c = r.run()
    finally:
        r.close()
    print("states=%d distinct=%d checked=%d deleted=%d kept=%d lost=%d "
          "duplicated=%d corrupted=%d failed=%d seconds=%.1f" % (
              c["states"], c["distinct"], c["checked"], c["deleted"],
              c["kept"], c["lost"], c["duplicated"], c["corrupted"],
              c["failed"], time.monotonic() - start), flush=True)
    return 1 if c["failed"] or c["lost"] or c["duplicated"] or \
        c["corrupted"] or c["checked"] == 0 else 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
