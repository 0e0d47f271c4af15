#!/usr/bin/env python3
"""Fault-injection sweeps over pop3d's UPDATE and its recovery.

    faultsweep.py --pop3d BIN --work DIR --spec KINDS --dele 1,4
                   [--mode kill|ENOSPC|EIO] [--persist]
                   [--phase update|recover]
                   [--crash SYSCALL:N] [--deliver] [--uidl]
                   [--max-points N] [--verbose]

A session logs in, (asks UIDL,) marks --dele deleted and sends QUIT, with
pop3d run under strace.  First one traced run lists every write-type call
pop3d makes after reading QUIT (the injection points); then, for each
point, the mailbox is laid out anew and the session is run again with
strace -e inject=CALL:signal=SIGKILL:when=K (or error=ENOSPC / EIO) on
exactly that call.  After it, (--deliver: tests/lib/deliver.py appends a
message, as an MDA would once the dead process's lock is broken,) one
more session logs in, which runs the recovery, and the mailbox is checked
against the ground truth (lib/mbox.py): all of the session's deletions
done or none -- which one is fixed by whether the point lies after the
commit (the journal's rename, or the ftruncate of a journal-less update)
-- every other message once, byte-identical, in order, the delivered
message once after them, nothing else; no journal, no PATH.lock, inode,
owner and mode kept.  With an injected error, QUIT must answer +OK (and
the deletions are done at once) or -ERR [SYS/TEMP].  --persist makes the
error repeat on every later call of the same kind (a disk that stays
full), so pop3d's own retry fails as well.

--phase recover sweeps the recovery session instead: the session is
killed at --crash CALL:N (the N-th CALL after QUIT), optionally mail is
delivered, and that state is saved; for each write-type call of the
recovery session (from the open of the mailbox on) the state is restored in place and the
recovery session is run with the fault there, then one more session.

Prints a line per failing point (all points with --verbose) and a summary
line "points=N failed=N seconds=S"; exit status 1 if any point failed.
All loops are bounded by the number of points (at most --max-points,
default 400, or $INTEG_MAX_POINTS if smaller; sampled evenly, first and
last kept) and each session by a
60 s deadline.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # nothing generated in the tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mbox as mbox_lib  # noqa: E402  (tests/lib/mbox.py)
from pop3client import run_session  # noqa: E402  (tests/lib: no package)

UID = GID = 5000
CALLS = ("write,pwrite64,writev,pwritev,pwritev2,ftruncate,truncate,fsync,"
         "fdatasync,sync_file_range,rename,renameat,renameat2,unlink,"
         "unlinkat,link,linkat,symlink,close,openat,open,creat,fallocate,"
         "mkdir,fchmod,fchown").split(",")
CALL_RE = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(\w+)\((.*)$")
# the end of a call strace printed in two lines, another process's call
# having come between: "PID <... read resumed>REST"
RESUMED_RE = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+<\.\.\. (\w+) resumed>(.*)$")


class Sweep:
    def __init__(self, a):
        self.a = a
        self.work = os.path.abspath(a.work)
        self.spool = os.path.join(self.work, "spool")
        self.mbox = os.path.join(self.spool, "alice")
        self.truth = os.path.join(self.work, "truth.json")
        self.dele = [int(x) for x in a.dele.split(",") if x]
        self.failures = 0
        self.points_run = 0
        os.makedirs(self.spool, exist_ok=True)
        os.chmod(self.work, 0o755)
        os.chown(self.spool, UID, GID)
        os.chmod(self.spool, 0o755)
        pw = subprocess.run(["openssl", "passwd", "-6", "-salt", "integ",
                             "secret"], capture_output=True, check=True,
                            text=True).stdout.strip()
        self.passwd = os.path.join(self.work, "passwd")
        with open(self.passwd, "w") as f:
            f.write("alice:%s:%d:%d:Alice:%s:/bin/sh\n" %
                    (pw, UID, GID, self.work))
        mbox_lib.gen(a.spec, os.path.join(self.work, "orig"), self.truth,
                     a.seed)
        with open(os.path.join(self.work, "truth.orig"), "rb") as f:
            self.orig = f.read()
        with open(self.truth) as f:
            t = json.load(f)
        self.nvisible = len(t["starts"]) - t["hidden"]
        self.ndeleted_state = len(self.expected_bytes(True))
        self.delivery = os.path.join(self.work, "delivery")
        with open(self.delivery, "wb") as f:
            f.write(b"Subject: delivered between crash and recovery\n"
                    b"Message-ID: <integ-delivery@example.org>\n\n"
                    b"This message was delivered by an MDA after pop3d "
                    b"died in UPDATE.\nIt must be kept, once.\n")
        self.ino = None

    def expected_bytes(self, deleted):
        with open(self.truth) as f:
            t = json.load(f)
        return mbox_lib.expected(self.orig, t, set(self.dele) if deleted
                                 else set())

    def pop3d(self, inject=None, trace=None):
        argv = [self.a.pop3d, "-p", self.passwd, "-m", self.spool + "/%u",
                "-d", "0"]
        if inject is None and trace is None:
            return argv
        # inject into the session's own process only (not -f): strace
        # counts when=K per process, and the pre-authentication child
        # (which writes too) must not take the fault meant for it
        st = ["strace", "-qq"] if trace is None else ["strace", "-f", "-qq"]
        if trace is not None:
            st += ["-o", trace, "-e", "trace=" + ",".join(CALLS + ["read"]),
                   "-s", "40"]
        else:
            st += ["-o", "/dev/null"]
        if inject is not None:
            st += ["-e", "inject=" + inject]
        return st + ["--"] + argv

    # ---- laying out the mailbox ----

    def clear_spool(self):
        for name in os.listdir(self.spool):
            if name != "alice":
                os.unlink(os.path.join(self.spool, name))

    def write_in_place(self, data):
        """Rewrite the mailbox keeping its inode (a journal records it)."""
        fd = os.open(self.mbox, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.chown(self.mbox, UID, GID)
        os.chmod(self.mbox, 0o600)
        st = os.stat(self.mbox)
        self.ino = st.st_ino

    def fresh(self):
        self.clear_spool()
        self.write_in_place(self.orig)

    def save_state(self):
        state = {}
        for name in os.listdir(self.spool):
            p = os.path.join(self.spool, name)
            st = os.lstat(p)
            with open(p, "rb") as f:
                state[name] = (f.read(), st.st_mode & 0o7777, st.st_uid,
                               st.st_gid)
        return state

    def restore_state(self, state):
        self.clear_spool()
        for name, (data, mode, uid, gid) in state.items():
            if name == "alice":
                self.write_in_place(data)
                continue
            p = os.path.join(self.spool, name)
            with open(p, "wb") as f:
                f.write(data)
            os.chown(p, uid, gid)
            os.chmod(p, mode)

    # ---- listing the injection points ----

    def list_points(self, commands, start_marker, from_mailbox=False):
        trace = os.path.join(self.work, "trace.txt")
        replies, rc = run_session(self.pop3d(trace=trace), commands)
        counts = {}
        points = []
        started = None
        pending = {}    # pid: its read of fd 0 was printed unfinished
        self.mbox_fd = "3"
        with open(trace, errors="replace") as f:
            for l in f:
                r = RESUMED_RE.match(l)
                if r is not None and r.group(2) == "read" and \
                        r.group(3).startswith('"' + start_marker) and \
                        pending.pop(r.group(1), False):
                    started = "any" if from_mailbox else r.group(1)
                    continue
                m = CALL_RE.match(l)
                if m is None:
                    continue
                pid, name, rest = m.group(1), m.group(2), m.group(3)
                # the mailbox is opened in its directory's descriptor
                fd = re.match(r'(?:AT_FDCWD, "%s"|\d+, "%s"), O_RDWR.*\) = '
                              r'(\d+)$' % (re.escape(self.mbox),
                                           re.escape(os.path.basename(
                                               self.mbox))), rest)
                if name == "openat" and fd:
                    self.mbox_fd = fd.group(1)
                if name == "read":
                    pending[pid] = rest.startswith("0, <unfinished")
                    if rest.startswith('0, "' + start_marker):
                        # PASS is read by the pre-authentication
                        # process: the session is whoever opens the box
                        started = "any" if from_mailbox else pid
                    continue
                # strace counts when=K per process: the session's calls
                # only (its pre-authentication process ended at login)
                counts[pid, name] = counts.get((pid, name), 0) + 1
                # the recovery session: from the mailbox's open on
                if started == "any" and (
                        self.mbox in rest or
                        os.path.dirname(self.mbox) + '"' in rest):
                    started = pid
                if started != pid:
                    continue
                points.append((name, counts[pid, name],
                               rest[:90].rstrip(), rest))
        return points, replies, rc

    def commit_index(self, points):
        """The first point whose call makes the deletions certain."""
        for i, (name, _, _, full) in enumerate(points):
            if name.startswith("rename") and ".pop3d-journal.tmp" in full:
                return i
            if name == "ftruncate" and full.startswith(self.mbox_fd + ","):
                return i
        return None

    def sample(self, points):
        n = len(points)
        if n <= self.a.max_points:
            return list(range(n))
        step = (n - 1) / (self.a.max_points - 1)
        return sorted({round(i * step) for i in range(self.a.max_points)})

    # ---- checks ----

    def check_after(self, expect, delivered, label):
        """The final state: mailbox, leftovers, inode, owner, mode."""
        problems = []
        name, why = mbox_lib.check(self.truth, self.mbox, set(self.dele),
                                   expect, [self.delivery] if delivered
                                   else [])
        if name is None:
            problems.append(why)
        left = sorted(n for n in os.listdir(self.spool) if n != "alice")
        bad = [n for n in left if n.endswith(".lock") or
               "pop3d-journal" in n]
        if bad:
            problems.append("left behind: " + " ".join(bad))
        stray = [n for n in left if n not in bad]
        st = os.stat(self.mbox)
        if st.st_ino != self.ino:
            problems.append("mailbox inode changed")
        if (st.st_uid, st.st_gid, st.st_mode & 0o7777) != (UID, GID, 0o600):
            problems.append("owner/mode changed: %d:%d %o" % (
                st.st_uid, st.st_gid, st.st_mode & 0o7777))
        return name, problems, stray

    def check_stat(self, replies, expect, delivered):
        """replies of RECOVERY: greeting, USER, PASS, STAT, QUIT."""
        count = (self.nvisible - (len(self.dele) if expect == "deleted"
                                  else 0) + (1 if delivered else 0))
        stat = replies[3] if len(replies) > 3 else ""
        if not stat.startswith("+OK %d " % count):
            return "STAT says %r, want %d messages" % (stat, count)
        return None

    def deliver(self):
        lock = self.mbox + ".lock"
        # an MDA breaks a lock whose owner is dead (liblockfile -p, or
        # after its timeout); deliver.py itself only waits
        if os.path.exists(lock):
            os.unlink(lock)
        with open(self.delivery, "rb") as f:
            r = subprocess.run([sys.executable, os.path.join(
                HERE, "deliver.py"), self.mbox], stdin=f, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("deliver.py failed")
        os.chown(self.mbox, UID, GID)

    def session_commands(self):
        c = ["USER alice", "PASS secret"]
        if self.a.uidl:
            c.append("UIDL")
        c += ["DELE %d" % n for n in self.dele]
        return c + ["QUIT"]

    RECOVERY = ["USER alice", "PASS secret", "STAT", "QUIT"]

    def report(self, ok, label, detail):
        self.points_run += 1
        if not ok:
            self.failures += 1
        if not ok or self.a.verbose:
            print("%s %s: %s" % ("ok  " if ok else "FAIL", label, detail),
                  flush=True)

    def inject_spec(self, name, k):
        if self.a.mode == "kill":
            return "%s:signal=SIGKILL:when=%d" % (name, k)
        # --persist: that call and every later call of its kind fail
        return "%s:error=%s:when=%d%s" % (name, self.a.mode, k,
                                          "+" if self.a.persist else "")

    # ---- the update sweep ----

    def sweep_update(self):
        self.fresh()
        cmds = self.session_commands()
        points, replies, rc = self.list_points(cmds, "QUIT")
        if rc != 0 or not replies[-1].startswith("+OK"):
            print("FAIL trace run: QUIT got %r (exit %s)" % (replies, rc))
            return 1
        name, _ = mbox_lib.check(self.truth, self.mbox, set(self.dele),
                                 "deleted")
        if name != "deleted":
            print("FAIL trace run: the plain update is wrong")
            return 1
        commit = self.commit_index(points)
        if commit is None:
            print("FAIL trace run: no commit point found")
            return 1
        print("# %d injection points after QUIT (commit at #%d %s), "
              "sweeping %d, mode %s%s" % (
                  len(points), commit + 1, points[commit][0],
                  len(self.sample(points)), self.a.mode,
                  ", then delivery" if self.a.deliver else ""), flush=True)
        for i in self.sample(points):
            name, k, desc, _ = points[i]
            label = "#%d %s(%s) [when=%d]" % (i + 1, name, desc, k)
            self.fresh()
            replies, rc = run_session(self.pop3d(self.inject_spec(name, k)),
                                      cmds)
            quit = replies[-1] if len(replies) == len(cmds) + 1 else None
            expect = "deleted" if i > commit else "kept"
            problems = []
            if self.a.mode == "kill":
                if rc not in (-9, 137):
                    problems.append("not killed (exit %s, QUIT %r): the "
                                    "call list is not deterministic" %
                                    (rc, quit))
            else:
                if quit is None or quit == "":
                    # only the reply itself may be what failed
                    if not (name == "write" and (desc.startswith("1,") or
                                                 self.a.persist)):
                        problems.append("no QUIT reply: %r" % (replies,))
                elif quit.startswith("+OK"):
                    expect = "deleted"
                    now, _ = mbox_lib.check(self.truth, self.mbox,
                                            set(self.dele), "deleted")
                    if now != "deleted":
                        problems.append("+OK but the deletions are not "
                                        "done at once")
                elif not quit.startswith("-ERR [SYS/TEMP]"):
                    problems.append("QUIT answered %r" % quit)
                elif "nothing deleted" in quit:
                    # the client is told so: it must be true
                    now, _ = mbox_lib.check(self.truth, self.mbox,
                                            set(self.dele), "kept")
                    if now != "kept":
                        problems.append("QUIT says nothing deleted, but "
                                        "the deletions are done")
                if quit and quit.startswith("-ERR") and i > commit:
                    expect = "deleted"
                left = [n for n in os.listdir(self.spool)
                        if n.endswith(".lock") or n.endswith(".tmp")]
                # a lock nobody can remove (every unlink fails) names a
                # dead process once pop3d is gone: the next session
                # breaks it, and check_after() sees to that
                if self.a.persist and name.startswith("unlink"):
                    left = [n for n in left if not n.endswith(".lock")]
                if left:
                    problems.append("left after the error: %s" % left)
            if self.a.deliver:
                self.deliver()
            rep2, rc2 = run_session(self.pop3d(), self.RECOVERY)
            if rc2 != 0 or len(rep2) < 5 or not rep2[4].startswith("+OK"):
                problems.append("recovery session: %r (exit %s)" %
                                (rep2, rc2))
            else:
                why = self.check_stat(rep2, expect, self.a.deliver)
                if why:
                    problems.append(why)
            state, more, stray = self.check_after(expect, self.a.deliver,
                                                  label)
            problems += more
            detail = "QUIT %r -> %s%s" % (quit, state or "MISMATCH",
                                          " (stray: %s)" % " ".join(stray)
                                          if stray else "")
            if problems:
                detail += "; " + "; ".join(problems)
            self.report(not problems, label, detail)
        return 0

    # ---- the recovery sweep ----

    def sweep_recover(self):
        cname, cn = self.a.crash.split(":")
        cn = int(cn)
        self.fresh()
        cmds = self.session_commands()
        points, _, _ = self.list_points(cmds, "QUIT")
        commit = self.commit_index(points)
        idx = [i for i, p in enumerate(points) if p[0] == cname]
        if len(idx) < cn:
            print("FAIL: no %s call #%d after QUIT" % (cname, cn))
            return 1
        i = idx[cn - 1]
        expect = "deleted" if i > commit else "kept"
        self.fresh()
        _, rc = run_session(self.pop3d("%s:signal=SIGKILL:when=%d" % (
            cname, points[i][1])), cmds)
        if rc not in (-9, 137):
            print("FAIL: the crash run was not killed (%s)" % rc)
            return 1
        if self.a.deliver:
            self.deliver()
        crash = self.save_state()
        print("# crash at #%d %s(%s): %s; state: %s" % (
            i + 1, cname, points[i][2], expect, " ".join(sorted(crash))),
            flush=True)
        self.restore_state(crash)
        rpoints, rrep, rrc = self.list_points(self.RECOVERY, "PASS",
                                              from_mailbox=True)
        if rrc != 0:
            print("FAIL trace run of the recovery: %r" % (rrep,))
            return 1
        print("# %d injection points in the recovery session, sweeping %d, "
              "mode %s" % (len(rpoints), len(self.sample(rpoints)),
                           self.a.mode), flush=True)
        for j in self.sample(rpoints):
            name, k, desc, _ = rpoints[j]
            label = "recovery #%d %s(%s) [when=%d]" % (j + 1, name, desc, k)
            self.restore_state(crash)
            replies, rc = run_session(self.pop3d(self.inject_spec(name, k)),
                                      self.RECOVERY)
            problems = []
            if self.a.mode == "kill":
                if rc not in (-9, 137):
                    problems.append("not killed (exit %s)" % rc)
            else:
                login = replies[2] if len(replies) > 2 else ""
                if not (login.startswith("+OK") or
                        login.startswith("-ERR [SYS/TEMP]") or
                        (login == "" and name == "write")):
                    problems.append("login answered %r" % login)
                left = [n for n in os.listdir(self.spool)
                        if n.endswith(".lock") or n.endswith(".tmp")]
                if left:
                    problems.append("left after the error: %s" % left)
            rep2, rc2 = run_session(self.pop3d(), self.RECOVERY)
            if rc2 != 0 or len(rep2) < 5:
                problems.append("next session: %r (exit %s)" % (rep2, rc2))
            else:
                why = self.check_stat(rep2, expect, self.a.deliver)
                if why:
                    problems.append(why)
            state, more, stray = self.check_after(expect, self.a.deliver,
                                                  label)
            problems += more
            detail = "-> %s%s" % (state or "MISMATCH", " (stray: %s)" %
                                  " ".join(stray) if stray else "")
            if problems:
                detail += "; " + "; ".join(problems)
            self.report(not problems, label, detail)
        return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pop3d", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--spec", required=True)
    p.add_argument("--dele", required=True)
    p.add_argument("--mode", default="kill",
                   choices=("kill", "ENOSPC", "EIO"))
    p.add_argument("--phase", default="update",
                   choices=("update", "recover"))
    p.add_argument("--crash", default="fsync:3")
    p.add_argument("--deliver", action="store_true")
    p.add_argument("--uidl", action="store_true")
    p.add_argument("--persist", action="store_true",
                   help="the injected error repeats on every later call "
                   "of that kind (when=K+): the retry fails too")
    p.add_argument("--max-points", type=int, default=400)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args()
    # a slower pop3d (a cross build under qemu-user) sweeps fewer points
    cap = os.environ.get("INTEG_MAX_POINTS")
    if cap:
        a.max_points = min(a.max_points, int(cap))
    a.max_points = max(2, a.max_points)
    if a.deliver and a.spec.endswith("n"):
        p.error("--deliver after a last message without a newline would "
                "glue the delivery to it (deliver.py adds none)")
    start = time.monotonic()
    s = Sweep(a)
    r = s.sweep_update() if a.phase == "update" else s.sweep_recover()
    print("points=%d failed=%d seconds=%.1f" % (
        s.points_run, s.failures, time.monotonic() - start), flush=True)
    return 1 if r or s.failures or s.points_run == 0 else 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
