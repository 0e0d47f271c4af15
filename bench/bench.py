#!/usr/bin/env python3
"""bench/bench.py - pop3d against its floors and its peers, side by side.

Run by bench/run (`make bench`), as root.  Steps:

 1. setup: install what is missing (gcc, libcrypt-dev, dovecot-pop3d, the
    libraries GNU Mailutils' pop3d needs), unpack popa3d and Mailutils'
    pop3d (which conflict with dovecot-pop3d as packages) with
    `apt-get download` + `dpkg -x` into bench/peers/, build the bench's C
    helpers into bench/out/bin/ and ./pop3d, generate the corpora into
    bench/corpora/ (seeded: the same bytes every time).
 2. measure, in a private mount namespace (unshare -m) so that nothing on
    the host changes: copies of /etc/passwd, /etc/shadow, /etc/group and
    /etc/pam.d with a test user (pop3bench, and pop3bench0 whose mailbox is
    empty) and popa3d's own user are bind-mounted over the real ones, and
    bench/out/work/spool/popa3d over /var/mail (popa3d's compiled-in spool).
    Every server checks the same yescrypt hash (libxcrypt's default cost).
 3. report: medians of every figure over the rounds, ratios to the floors
    measured next to them in the same round, and the issue's targets with
    pass/miss.  A figure whose correctness check failed is never printed.

Environment (all optional):
  BENCH_SIZES=S,M,L,T   corpora (S 1,000 msgs; M 10,000 ~400 MB; L 100,000
                        ~1.2 GB; T 200,000 tiny)      default S,M,L,T
  BENCH_ROUNDS=5        rounds (medians need >= 5)     default 5
  BENCH_SERVERS=...     pop3d,dovecot,popa3d,mailutils,dovecot-cold,
                        mailutils-cold (the -cold ones: login+STAT on a
                        mailbox the server has never opened)
  BENCH_SCENARIOS=...   quit,stat,uidl,retr,top,dele_last,dele_first,dele_all,
                        and for pop3d's persistent index: stat_append (login+
                        STAT after 100 messages were appended to an indexed
                        mailbox), uidl_append (login+UIDL after the same
                        append: a keep-mail client's poll), after_dele (login+STAT after DELE all +
                        QUIT), stat_noindex (the first login, no index file),
                        stat_scan (the same with --no-index: a build without
                        the index)
  BENCH_SEED=1          corpus seed
  BENCH_TIMEOUT=600     seconds one run may take before it is killed
  BENCH_POP3D=PATH      the pop3d binary (default ./pop3d, built by make)
  BENCH_OUT=DIR         results and work files (default bench/out)
  BENCH_KEEP=1          keep the mailbox copies in bench/out/work/
"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
OUT = os.path.abspath(os.environ.get("BENCH_OUT", os.path.join(BENCH, "out")))
CORPORA = os.path.join(BENCH, "corpora")
PEERS = os.path.join(BENCH, "peers")
BIN = os.path.join(OUT, "bin")
WORK = os.path.join(OUT, "work")

SIZES = [s for s in os.environ.get("BENCH_SIZES", "S,M,L,T").upper().split(",")
         if s]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
ALL_SERVERS = ["pop3d", "dovecot", "popa3d", "mailutils", "dovecot-cold",
               "mailutils-cold"]
SERVERS = [s for s in os.environ.get("BENCH_SERVERS",
                                     ",".join(ALL_SERVERS)).split(",") if s]
ALL_SCEN = ["quit", "stat", "uidl", "retr", "top", "dele_last", "dele_first",
            "dele_all", "stat_append", "uidl_append", "after_dele",
            "stat_noindex",
            "stat_scan"]
# pop3d's persistent index: scenarios only pop3d runs
INDEX_SCEN = ("stat_append", "uidl_append", "after_dele", "stat_noindex",
              "stat_scan")
APPENDED = 100
SCENARIOS = [s for s in os.environ.get("BENCH_SCENARIOS",
                                       ",".join(ALL_SCEN)).split(",") if s]
SEED = int(os.environ.get("BENCH_SEED", "1"))
TIMEOUT = int(os.environ.get("BENCH_TIMEOUT", "600"))
POP3D = os.path.abspath(os.environ.get("BENCH_POP3D",
                                       os.path.join(ROOT, "pop3d")))
POP3D_RUN = os.path.join(BIN, "pop3d-under-test")

USER, USER0 = "pop3bench", "pop3bench0"   # USER0's mailbox is empty
# USERX is USER (same uid, a hard link to the same mailbox) with a cheap
# sha512crypt hash: pop3d's peak RSS without yescrypt's 16 MB
USERX = "pop3benchx"
UID, UID0, POPA3D_UID = 5301, 5303, 5302
FRONT_UID = 5304    # pop3d's --front-user, when the host has none
PASSWORD = "bench-secret"
SPOOL = os.path.join(WORK, "spool")
HOMES = os.path.join(WORK, "home")
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
       "LANG": "C"}

SCEN_TITLE = {
    "quit": "login+QUIT", "stat": "login+STAT", "uidl": "login+UIDL",
    "retr": "RETR every message", "top": "TOP n 0 every message",
    "dele_last": "DELE last + QUIT", "dele_first": "DELE first + QUIT",
    "dele_all": "DELE all + QUIT", "quit@E": "login+QUIT, empty mailbox",
    "stat_append": "login+STAT, %d appended since the index" % APPENDED,
    "uidl_append": "login+UIDL, %d appended since the index" % APPENDED,
    "after_dele": "login+STAT after DELE all + QUIT",
    "stat_noindex": "login+STAT, first login (no index file)",
    "stat_scan": "login+STAT with --no-index",
}
# the floor each scenario's time (beyond the hash) is compared with
SCEN_FLOOR = {"stat": "scan", "uidl": "scan", "retr": "emit", "top": "scan",
              "stat_noindex": "scan", "stat_scan": "scan",
              "dele_first": "copy", "dele_all": "copy", "dele_last": "copy"}
FLOOR_TITLE = {
    "true": "fork+exec /bin/true", "hash": "fork+exec + one crypt()",
    "cat": "cat file > /dev/null", "scan": "separator scan",
    "emit": "emit through a socket", "copy": "read+write+fsync copy",
}
DELE = ("dele_last", "dele_first", "dele_all")


def base(srv):
    """The server behind a variant: dovecot-cold is dovecot."""
    return srv[:-5] if srv.endswith("-cold") else srv


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


# ----------------------------------------------------------------------
# Setup (on the host, before the namespace)

def have_pkg(name):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name],
                       capture_output=True, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


def install(pkgs):
    pkgs = [p for p in pkgs if not have_pkg(p)]
    if not pkgs:
        return True
    log("bench: installing " + " ".join(pkgs))
    r = subprocess.run([os.path.join(ROOT, "tests", "install-packages")] +
                       pkgs, stdout=sys.stderr)
    return r.returncode == 0


def deb_depends(deb):
    r = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], capture_output=True,
                       text=True, check=True)
    names = []
    for dep in r.stdout.replace("\n", " ").split(","):
        name = dep.split("|")[0].split("(")[0].strip()
        if name:
            names.append(name.split(":")[0])
    return names


def unpack_peer(pkg, dest, binary):
    """apt-get download + dpkg -x; returns the binary's path or None."""
    path = os.path.join(dest, binary.lstrip("/"))
    if os.path.exists(path):
        return path
    debs = os.path.join(PEERS, "debs")
    os.makedirs(debs, exist_ok=True)
    os.chmod(debs, 0o777)   # apt's _apt user downloads into it
    found = [f for f in os.listdir(debs) if f.startswith(pkg + "_")]
    if not found:
        r = subprocess.run(["apt-get", "download", "-q", pkg], cwd=debs,
                           stdout=sys.stderr, stderr=sys.stderr)
        if r.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], stdout=sys.stderr)
            r = subprocess.run(["apt-get", "download", "-q", pkg], cwd=debs,
                               stdout=sys.stderr)
        found = [f for f in os.listdir(debs) if f.startswith(pkg + "_")]
        if r.returncode != 0 or not found:
            log("bench: cannot download %s; it is left out" % pkg)
            return None
    deb = os.path.join(debs, sorted(found)[-1])
    os.makedirs(dest, exist_ok=True)
    run(["dpkg", "-x", deb, dest])
    # its libraries come from Debian as usual (they do not conflict)
    deps = [d for d in deb_depends(deb) if d not in ("netbase",)]
    if not install(deps):
        log("bench: cannot install what %s needs; it is left out" % pkg)
        return None
    return path


def setup_peers():
    peers = {}
    if any(base(s) == "dovecot" for s in SERVERS):
        if os.path.exists("/usr/lib/dovecot/pop3") or \
                install(["dovecot-pop3d"]):
            peers["dovecot"] = "/usr/lib/dovecot/pop3"
        else:
            log("bench: dovecot-pop3d cannot be installed; left out")
    if "popa3d" in SERVERS:
        p = unpack_peer("popa3d", os.path.join(PEERS, "popa3d"),
                        "/usr/sbin/popa3d")
        if p:
            peers["popa3d"] = p
    if any(base(s) == "mailutils" for s in SERVERS):
        p = unpack_peer("mailutils-pop3d", os.path.join(PEERS, "mailutils"),
                        "/usr/sbin/pop3d")
        if p:
            peers["mailutils"] = p
    return peers


def build():
    os.makedirs(BIN, exist_ok=True)
    cflags = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Wpedantic"]
    progs = {"gen": ["-lm"], "drive": [], "sepscan": [], "emit": [],
             "copyfloor": [], "hashfloor": ["-lcrypt"]}
    for name, libs in progs.items():
        src, exe = os.path.join(BENCH, name + ".c"), os.path.join(BIN, name)
        if os.path.exists(exe) and \
                os.path.getmtime(exe) >= os.path.getmtime(src):
            continue
        run(["cc"] + cflags + ["-o", exe, src] + libs)
    if "BENCH_POP3D" not in os.environ:
        run(["make", "-s", "-C", ROOT, "pop3d"])
    # measure a snapshot: a rebuild of ./pop3d during the run must not
    # change what is measured halfway
    shutil.copy2(POP3D, POP3D_RUN)
    return describe_pop3d()


def describe_pop3d():
    import hashlib
    with open(POP3D_RUN, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    desc = "%s (binary sha256 %s" % (POP3D, digest)
    r = subprocess.run(["git", "-C", ROOT, "log", "-1", "--format=%h %cd",
                        "--date=format:%Y-%m-%d %H:%M"],
                       capture_output=True, text=True)
    if r.returncode == 0 and POP3D == os.path.join(ROOT, "pop3d"):
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain",
                                "--", "*.c", "*.h", "Makefile"],
                               capture_output=True, text=True).stdout.strip()
        desc += ", built from commit %s%s" % (
            r.stdout.strip(), " + uncommitted changes" if dirty else "")
    return desc + ")"


def read_manifest(path):
    m = {}
    with open(path) as f:
        for line in f:
            k, v = line.split()
            m[k] = v if k == "corpus" else int(v)
    return m


def make_corpus(size):
    os.makedirs(CORPORA, exist_ok=True)
    path = os.path.join(CORPORA, "%s-%d.mbox" % (size, SEED))
    man = path + ".manifest"
    if not (os.path.exists(path) and os.path.exists(man)):
        log("bench: generating corpus %s (seed %d)" % (size, SEED))
        t = time.monotonic()
        run([os.path.join(BIN, "gen"), size, str(SEED), path])
        log("bench: corpus %s: %.1f s" % (size, time.monotonic() - t))
    m = read_manifest(man)
    if m["bytes"] != os.path.getsize(path):
        raise SystemExit("bench: %s does not match its manifest" % path)
    return path, m


def setup():
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root: the servers start as root "
                         "and drop to a test user, as under inetd")
    need = [p for c, p in (("cc", "gcc"), ("make", "make"),
                           ("unshare", "util-linux"), ("openssl", "openssl"))
            if shutil.which(c) is None]
    if not os.path.exists("/usr/include/crypt.h"):
        need.append("libcrypt-dev")
    if not os.path.exists("/usr/include/openssl/ssl.h"):
        need.append("libssl-dev")
    if need and not install(need):
        raise SystemExit("bench: cannot install " + " ".join(need))
    desc = build()
    peers = setup_peers()
    corpora = {}
    for s in ["E"] + SIZES:
        corpora[s] = make_corpus(s)
    return peers, corpora, desc


# ----------------------------------------------------------------------
# The namespace: users, PAM, spools (nothing on the host changes)

def hash_of(password):
    r = subprocess.run([os.path.join(BIN, "hashfloor"), "make", password],
                       capture_output=True, text=True, check=True)
    return r.stdout.strip()


def setup_namespace(peers, pwhash):
    """A copy of /etc, with the bench's users, bind-mounted over /etc.
    (Binding single files would not do: whatever replaces /etc/passwd on
    the host by rename, as useradd does, detaches such a mount.)"""
    etc = os.path.join(WORK, "etc")
    os.makedirs(WORK, exist_ok=True)
    shutil.rmtree(etc, ignore_errors=True)
    run(["cp", "-a", "/etc", etc])
    for d in (OUT, WORK):
        os.chmod(d, 0o755)
    day = int(time.time() // 86400) - 1
    ours = tuple(u + ":" for u in (USER, USER0, USERX))
    with open("/etc/passwd") as f:
        passwd = [l for l in f if not l.startswith(ours)]
    with open("/etc/shadow") as f:
        shadow = [l for l in f if not l.startswith(ours)]
    with open("/etc/group") as f:
        group = [l for l in f if not l.startswith(ours)]
    cheap = subprocess.run(["openssl", "passwd", "-6", "-salt", "pop3bench",
                            PASSWORD], capture_output=True, text=True,
                           check=True).stdout.strip()
    for name, uid, h in ((USER, UID, pwhash), (USER0, UID0, pwhash),
                         (USERX, UID, cheap)):
        home = os.path.join(HOMES, name)
        passwd.append("%s:x:%d:%d:pop3d bench:%s:/bin/sh\n" %
                      (name, uid, uid, home))
        shadow.append("%s:%s:%d:0:99999:7:::\n" % (name, h, day))
        if name != USERX:
            group.append("%s:x:%d:\n" % (name, uid))
    if not any(l.startswith("popa3d:") for l in passwd):
        passwd.append("popa3d:x:%d:%d:popa3d:/nonexistent:/usr/sbin/nologin\n"
                      % (POPA3D_UID, POPA3D_UID))
        shadow.append("popa3d:*:%d:0:99999:7:::\n" % day)
        group.append("popa3d:x:%d:\n" % POPA3D_UID)
    # pop3d's pre-authentication process runs as pop3d, chrooted to an
    # empty directory (README "Security"), as make install-front makes
    if not any(l.startswith("pop3d:") for l in passwd):
        passwd.append("pop3d:x:%d:%d:pop3d front:/nonexistent:"
                      "/usr/sbin/nologin\n" % (FRONT_UID, FRONT_UID))
        shadow.append("pop3d:*:%d:0:99999:7:::\n" % day)
        group.append("pop3d:x:%d:\n" % FRONT_UID)
    os.makedirs("/var/lib/pop3d/empty", mode=0o755, exist_ok=True)
    for name, lines, mode in (("passwd", passwd, 0o644),
                              ("shadow", shadow, 0o640),
                              ("group", group, 0o644)):
        p = os.path.join(etc, name)
        with open(p, "w") as f:
            f.writelines(lines)
        os.chmod(p, mode)
    if "popa3d" in peers:
        shutil.copy(os.path.join(PEERS, "popa3d", "etc", "pam.d", "popa3d"),
                    os.path.join(etc, "pam.d", "popa3d"))
    run(["mount", "--bind", etc, "/etc"])
    # spools: one per server, sticky and world-writable like /tmp, so each
    # test user can make its dotlocks there without a spool group
    for srv in ALL_SERVERS:
        d = os.path.join(SPOOL, srv)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o1777)
    for srv in ("dovecot", "dovecot-cold"):
        for name, uid in ((USER, UID), (USER0, UID0)):
            h = os.path.join(HOMES, srv, name)
            os.makedirs(h, exist_ok=True)
            os.chown(h, uid, uid)
    for name, uid in ((USER, UID), (USER0, UID0)):
        h = os.path.join(HOMES, name)
        os.makedirs(h, exist_ok=True)
        os.chown(h, uid, uid)
    os.chmod(HOMES, 0o755)
    # Dovecot runs as the user and logs into this directory
    os.chmod(os.path.join(HOMES, "dovecot"), 0o1777)
    os.chmod(os.path.join(HOMES, "dovecot-cold"), 0o1777)
    if "popa3d" in peers:
        run(["mount", "--bind", os.path.join(SPOOL, "popa3d"), "/var/mail"])
    write_configs()


def write_configs():
    for srv in ("dovecot", "dovecot-cold"):
        with open(os.path.join(WORK, srv + ".conf"), "w") as f:
            f.write("""# bench/bench.py: Dovecot's pop3 run pre-authenticated, one
# session per process on stdin/stdout (USER and HOME in the environment)
protocols = pop3
ssl = no
mail_location = mbox:~/mail:INBOX=%s/%%u
# like the other servers: RETR does not write Status: headers back
pop3_no_flag_updates = yes
""" % os.path.join(SPOOL, srv))
    for srv in ("mailutils", "mailutils-cold"):
        with open(os.path.join(WORK, srv + ".conf"), "w") as f:
            f.write("""# bench/bench.py: GNU Mailutils pop3d --inetd
auth {
  authentication system;
  authorization system;
};
mailbox {
  mailbox-pattern "%s/${user}";
  mailbox-type mbox;
};
""" % os.path.join(SPOOL, srv))


# ----------------------------------------------------------------------
# Mailboxes

def spool_file(srv, user=USER):
    if srv == "popa3d":
        return os.path.join("/var/mail", user)
    return os.path.join(SPOOL, srv, user)


def fsync_path(p):
    fd = os.open(p, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_in_place(src, dst, uid):
    """Overwrite dst (same inode if it exists) with src, durable, with
    src's mtime: a restored mailbox looks as it did (Dovecot's index)."""
    st = os.stat(src)
    fd_in = os.open(src, os.O_RDONLY)
    fd_out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        left, off = st.st_size, 0
        while left > 0:
            n = os.sendfile(fd_out, fd_in, off, min(left, 1 << 30))
            if n <= 0:
                raise OSError("short copy of %s" % src)
            off += n
            left -= n
        os.fsync(fd_out)
        os.fchown(fd_out, uid, uid)
        os.fchmod(fd_out, 0o600)
    finally:
        os.close(fd_in)
        os.close(fd_out)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))


def snap(p):
    try:
        st = os.stat(p)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def files_equal(a, a_off, b, b_off, length):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        fa.seek(a_off)
        fb.seek(b_off)
        while length > 0:
            n = min(length, 8 << 20)
            x, y = fa.read(n), fb.read(n)
            if x != y or len(x) != n:
                return False
            length -= n
    return True


def line_at(path, off):
    with open(path, "rb") as f:
        f.seek(off)
        return f.readline()


class Mailboxes:
    """The pristine mailbox of each server and whether its copy is dirty."""

    def __init__(self, corpus_path, man, corpus_e):
        self.corpus, self.man = corpus_path, man
        self.corpus_e = corpus_e
        self.pristine = {}      # server -> (mbox file, index dir or None)
        self.state = {}         # server -> snap() after the last restore
        self.first_rewrite = set()  # servers that rewrote it at warm-up
        self.warm_changed = False

    def restore(self, srv):
        src, index = self.pristine.get(srv, (self.corpus, None))
        dst = spool_file(srv)
        copy_in_place(src, dst, UID)
        if index is not None and os.path.isdir(index):
            home_mail = os.path.join(HOMES, srv, USER, "mail")
            shutil.rmtree(home_mail, ignore_errors=True)
            shutil.copytree(index, home_mail, copy_function=shutil.copy2)
            for dp, dn, fn in os.walk(home_mail):
                for n in dn + fn:
                    os.chown(os.path.join(dp, n), UID, UID)
            os.chown(home_mail, UID, UID)
        self.state[srv] = snap(dst)

    def restore_cold(self, srv):
        """A mailbox never opened: the original file, no index."""
        copy_in_place(self.corpus, spool_file(srv), UID)
        shutil.rmtree(os.path.join(HOMES, srv, USER, "mail"),
                      ignore_errors=True)
        self.state[srv] = snap(spool_file(srv))

    def ensure(self, srv):
        """True when the mailbox had to be restored."""
        if srv.endswith("-cold"):
            self.restore_cold(srv)
            return True
        if self.state.get(srv) is None or \
                snap(spool_file(srv)) != self.state[srv]:
            self.restore(srv)
            return True
        return False

    def empty(self, srv):
        copy_in_place(self.corpus_e, spool_file(srv, USER0), UID0)


# ----------------------------------------------------------------------
# Sessions

def script_lines(srv, scen, n, user=USER):
    login = [] if base(srv) == "dovecot" else \
        ["USER " + user, "PASS " + PASSWORD]
    body = {
        "quit": [],
        "stat": ["STAT"],
        "uidl": ["UIDL"],
        "uidl_append": ["UIDL"],
        "retr": ["STAT"] + ["RETR %d" % i for i in range(1, n + 1)],
        "top": ["TOP %d 0" % i for i in range(1, n + 1)],
        "dele_last": ["DELE %d" % n] if n else [],
        "dele_first": ["DELE 1"] if n else [],
        "dele_all": ["DELE %d" % i for i in range(1, n + 1)],
    }.get(scen, ["STAT"])
    return login + body + ["QUIT"]


def server_argv(srv, peers):
    if srv == "pop3d":
        return [POP3D_RUN, "-m", os.path.join(SPOOL, "pop3d", "%u")]
    if base(srv) == "dovecot":
        return [peers["dovecot"], "-c", os.path.join(WORK, srv + ".conf")]
    if srv == "popa3d":
        return [peers["popa3d"]]
    if base(srv) == "mailutils":
        return [peers["mailutils"], "--inetd",
                "--config-file=" + os.path.join(WORK, srv + ".conf")]
    raise ValueError(srv)


def drive(argv, mode="none", script=None, uid=None, cwd=None, env=None,
          greeting=True, errfile=None):
    cmd = [os.path.join(BIN, "drive"), "-m", mode, "-t", str(TIMEOUT)]
    if not greeting:
        cmd.append("-n")
    if errfile:
        cmd += ["-e", errfile]
    if script:
        cmd += ["-s", script]
    if uid is not None:
        cmd += ["-u", "%d:%d" % (uid, uid)]
    if cwd:
        cmd += ["-d", cwd]
    r = subprocess.run(cmd + ["--"] + argv, capture_output=True, text=True,
                       env=env or ENV)
    try:
        res = json.loads(r.stdout)
    except ValueError:
        res = {"ok": False, "why": "drive: " + (r.stdout + r.stderr)[:200]}
    return res


class Session:
    def __init__(self, peers, scripts_dir):
        self.peers = peers
        self.scripts_dir = scripts_dir
        self.scripts = {}

    def script(self, srv, scen, n, user):
        key = (base(srv) == "dovecot", scen, n, user)
        if key not in self.scripts:
            p = os.path.join(self.scripts_dir, "%s-%s-%d-%s.txt" % (
                "preauth" if key[0] else "login", scen, n, user))
            with open(p, "w") as f:
                f.write("\n".join(script_lines(srv, scen, n, user)) + "\n")
            self.scripts[key] = p
        return self.scripts[key]

    def run(self, srv, scen, n, user=USER):
        uid = UID0 if user == USER0 else UID
        argv = server_argv(srv, self.peers)
        if scen == "stat_scan":
            argv = argv + ["--no-index"]
        s = self.script(srv, scen, n, user)
        if base(srv) == "dovecot":
            home = os.path.join(HOMES, srv, user)
            env = dict(ENV, USER=user, HOME=home)
            return drive(argv, "pop3", s, uid=uid, cwd=home, env=env,
                         greeting=False, errfile=home + ".log")
        return drive(argv, "pop3", s)


# ----------------------------------------------------------------------
# Checks: a figure is kept only when its run was correct

def check_run(srv, scen, res, man, mb, before):
    """Returns (ok, why, notes)."""
    notes = []
    if not res.get("ok"):
        why = res.get("why", "?")
        if res.get("first_err"):
            why += ": " + res["first_err"]
        return False, why, notes
    n = man["messages"]
    strict = srv == "pop3d"
    stat = res.get("stat", [0, 0])
    if scen == "uidl_append":
        if res["uidl_n"] != n + APPENDED:
            return False, "%d UIDL lines, not %d" % (
                res["uidl_n"], n + APPENDED), notes
        return True, "", notes
    if scen in INDEX_SCEN:
        want = {"stat_append": n + APPENDED, "after_dele": 0}.get(scen, n)
        if stat[0] != want:
            return False, "STAT says %d messages, not %d" % (
                stat[0], want), notes
        return True, "", notes
    if scen in ("stat", "retr"):
        if stat[0] != n:
            return False, "STAT says %d messages, not %d" % (stat[0], n), notes
        if stat[1] != man["octets"]:
            if strict:
                return False, "STAT octets %d, the generator says %d" % (
                    stat[1], man["octets"]), notes
            notes.append("STAT octets %d (generator sizes: %d)" % (
                stat[1], man["octets"]))
    if scen == "retr":
        if res["retr_n"] != n:
            return False, "%d RETR replies, not %d" % (res["retr_n"], n), notes
        if res["retr_octets"] != stat[1]:
            return False, "RETR sent %d octets, STAT said %d" % (
                res["retr_octets"], stat[1]), notes
    if scen == "uidl" and res["uidl_n"] != n:
        return False, "%d UIDL lines, not %d" % (res["uidl_n"], n), notes
    if scen == "top":
        if res["top_n"] != n:
            return False, "%d TOP replies, not %d" % (res["top_n"], n), notes
        if strict and res["top_octets"] != man["top0_octets"]:
            return False, "TOP sent %d octets, expected %d" % (
                res["top_octets"], man["top0_octets"]), notes
    path = spool_file(srv)
    if scen in DELE:
        ok, why = check_dele(srv, scen, man, mb, path, strict, notes)
        return ok, why, notes
    if scen != "quit@E" and snap(path) != before:
        if strict:
            return False, "the mailbox changed in a read-only session", notes
        notes.append("rewrote the mailbox")
    return True, "", notes


def check_dele(srv, scen, man, mb, path, strict, notes):
    n, size = man["messages"], os.path.getsize(path)
    src = mb.pristine.get(srv, (mb.corpus, None))[0]
    if strict:
        if scen == "dele_all":
            ok = size == 0
        elif scen == "dele_last":
            ok = size == man["last_off"] and \
                files_equal(path, 0, src, 0, size)
        else:
            ok = size == man["bytes"] - man["second_off"] and \
                files_equal(path, 0, src, man["second_off"], size)
        return (True, "") if ok else (False, "the mailbox after QUIT is not "
                                      "the original minus the message")
    # peers may rewrite headers: count the messages, check the ends
    r = drive([os.path.join(BIN, "sepscan"), path], "none")
    try:
        parts = r["output"].split()
        count, first, last = int(parts[1]), int(parts[3]), int(parts[5])
    except (KeyError, IndexError, ValueError):
        return False, "cannot scan the mailbox after QUIT"
    want = 0 if scen == "dele_all" else n - 1
    if scen == "dele_all" and count == 1 and base(srv) == "dovecot":
        with open(path, "rb") as f:
            if b"FOLDER INTERNAL DATA" in f.read(4096):
                notes.append("leaves its folder-internal pseudo-message "
                             "when every message is deleted")
                count = 0
    if count != want:
        return False, "%d messages after QUIT, not %d" % (count, want)
    if scen == "dele_first" and line_at(path, first) != \
            line_at(mb.corpus, man["second_off"]):
        return False, "message 2 is not first after QUIT"
    if scen == "dele_last" and line_at(path, last) != \
            line_at(mb.corpus, man["penult_off"]):
        return False, "message N-1 is not last after QUIT"
    return True, ""


def check_floor(name, res, man, dst=None):
    if not res.get("ok") or res.get("exit") != 0:
        return False, res.get("why") or "exit %s" % res.get("exit")
    if name == "scan":
        parts = res["output"].split()
        if len(parts) < 2 or int(parts[1]) != man["messages"]:
            return False, "found %s separators" % parts[1:2]
    if name == "emit" and res["out_bytes"] != man["emit_octets"]:
        return False, "emitted %d octets, not %d" % (res["out_bytes"],
                                                     man["emit_octets"])
    if name == "copy" and os.path.getsize(dst) != man["bytes"]:
        return False, "the copy is short"
    return True, ""


# ----------------------------------------------------------------------
# Measuring

class Samples:
    def __init__(self):
        self.runs = {}      # key -> list of per-round dicts (or failures)
        self.notes = {}     # key -> set of notes

    def add(self, key, rnd, res, ok, why, notes=()):
        rec = {"round": rnd, "ok": ok, "why": why}
        if ok:
            rec.update(wall=res["wall"], cpu=res["user"] + res["sys"],
                       rss=res["maxrss_kb"])
        self.runs.setdefault(key, []).append(rec)
        self.notes.setdefault(key, set()).update(notes)

    def by_round(self, key):
        return {r["round"]: r for r in self.runs.get(key, []) if r["ok"]}

    def failed(self, key):
        return [r for r in self.runs.get(key, []) if not r["ok"]]


def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v), idle


class Bench:
    def __init__(self, peers, corpora):
        self.peers = peers
        self.corpora = corpora
        self.servers = [s for s in SERVERS if s == "pop3d" or
                        base(s) in peers]
        scripts = os.path.join(WORK, "scripts")
        os.makedirs(scripts, exist_ok=True)
        self.sess = Session(peers, scripts)
        self.results = {}
        self.load = {}

    def floor(self, name, path, man, S, rnd, block):
        key = ("floor", name, block)
        if name == "true":
            res = drive(["/bin/true"])
        elif name == "hash":
            res = drive([os.path.join(BIN, "hashfloor"), "check", PASSWORD,
                         self.pwhash])
        elif name == "cat":
            res = drive(["cat", path], "null")
        elif name == "scan":
            res = drive([os.path.join(BIN, "sepscan"), path])
        elif name == "emit":
            res = drive([os.path.join(BIN, "emit"), path], "drain")
        elif name == "copy":
            dst = os.path.join(WORK, "copy-floor.tmp")
            res = drive([os.path.join(BIN, "copyfloor"), path, dst])
            ok, why = check_floor(name, res, man, dst)
            os.unlink(dst)
            S.add(key, rnd, res, ok, why)
            return
        ok, why = check_floor(name, res, man)
        S.add(key, rnd, res, ok, why)

    def index_prepare(self, srv, scen, man, mb):
        """pop3d's index scenarios: the state each one starts from,
        untimed.  The index is warmed by a session first."""
        n = man["messages"]
        mb.restore(srv)
        idx = spool_file(srv) + ".pop3d-index"
        if scen in ("stat_noindex", "stat_scan"):
            if os.path.exists(idx):
                os.unlink(idx)
            return
        self.sess.run(srv, "uidl", n)
        if scen in ("stat_append", "uidl_append"):
            with open(mb.corpus, "rb") as f:
                more = f.read(man["second_off"])
            with open(spool_file(srv), "ab") as f:
                for _ in range(APPENDED):
                    f.write(more)
        elif scen == "after_dele":
            self.sess.run(srv, "dele_all", n)

    def server_run(self, srv, scen, man, mb, S, rnd):
        n = man["messages"]
        if scen in INDEX_SCEN:
            if srv != "pop3d":
                return
            self.index_prepare(srv, scen, man, mb)
            res = self.sess.run(srv, scen, n)
            ok, why, notes = check_run(srv, scen, res, man, mb, None)
            S.add((srv, scen), rnd, res, ok, why, notes)
            mb.state[srv] = None
            return
        if scen == "quit@E":
            mb.empty(srv)
            res = self.sess.run(srv, "quit", 0, USER0)
            ok, why, notes = check_run(srv, scen, res, man, mb, None)
            S.add((srv, scen), rnd, res, ok, why, notes)
            return
        if scen in DELE or srv.endswith("-cold"):
            if srv.endswith("-cold"):
                mb.restore_cold(srv)
            else:
                mb.restore(srv)
        elif mb.ensure(srv) and srv == "pop3d":
            # a restored mailbox is a rewritten one: warm its index
            self.sess.run(srv, "uidl", n)
        before = snap(spool_file(srv))
        res = self.sess.run(srv, scen, n)
        ok, why, notes = check_run(srv, scen, res, man, mb, before)
        S.add((srv, scen), rnd, res, ok, why, notes)
        if scen in DELE:
            mb.state[srv] = None    # restore before the next read-only run

    def warm(self, srv, mb, man):
        """The first sessions on a mailbox, untimed.  Dovecot and Mailutils
        rewrite the mbox then (X-IMAPbase, X-UID, Status headers) and
        Dovecot builds its index: keep that state as their pristine
        mailbox, the one later runs start from."""
        copy_in_place(mb.corpus, spool_file(srv), UID)
        home_mail = os.path.join(HOMES, srv, USER, "mail")
        shutil.rmtree(home_mail, ignore_errors=True)
        before = snap(spool_file(srv))
        for scen in ("uidl", "retr", "top"):
            res = self.sess.run(srv, scen, man["messages"])
            if not res.get("ok"):
                log("bench: %s warm-up %s failed: %s %s" % (
                    srv, scen, res.get("why"), res.get("first_err", "")))
        changed = snap(spool_file(srv)) != before
        if srv == "pop3d" and changed:
            mb.warm_changed = True
        if changed and srv != "pop3d":
            mb.first_rewrite.add(srv)
        if srv == "pop3d" or not (changed or os.path.isdir(home_mail)):
            mb.state[srv] = snap(spool_file(srv))
            return
        keep = os.path.join(WORK, "pristine-" + srv)
        shutil.rmtree(keep, ignore_errors=True)
        os.makedirs(keep)
        mbox = os.path.join(keep, "mbox")
        shutil.copy2(spool_file(srv), mbox)
        fsync_path(mbox)
        if os.path.isdir(home_mail):
            shutil.copytree(home_mail, os.path.join(keep, "index"),
                            copy_function=shutil.copy2)
        mb.pristine[srv] = (mbox, os.path.join(keep, "index"))
        mb.state[srv] = snap(spool_file(srv))

    def corpus(self, size):
        path, man = self.corpora[size]
        mb = Mailboxes(path, man, self.corpora["E"][0])
        S = Samples()
        log("bench: corpus %s: %d messages, %.1f MB" % (
            size, man["messages"], man["bytes"] / 1e6))
        # warm-up, untimed: page cache, first-run effects, indexes
        for srv in self.servers:
            if not srv.endswith("-cold"):
                self.warm(srv, mb, man)
        for srv in mb.first_rewrite:
            S.notes.setdefault((srv, "stat"), set()).add(
                "rewrites the mailbox the first time it opens it (untimed "
                "warm-up; see %s-cold)" % srv)
        if mb.warm_changed:
            S.add(("pop3d", "stat"), -1, {}, False,
                  "pop3d changed the mailbox in a read-only session")
        for name in ("cat", "scan", "emit"):
            self.floor(name, path, man, Samples(), 0, "warm-up")
        blocks = [("quit@E", ["true", "hash"])]
        for scen in SCENARIOS:
            fl = ["true", "hash"] + ([SCEN_FLOOR[scen]]
                                     if scen in SCEN_FLOOR else [])
            if scen == "stat":
                fl.append("cat")
            blocks.append((scen, fl))
        t0, (tot0, idle0) = time.monotonic(), cpu_times()
        load0 = os.getloadavg()
        ru0 = os.times()
        for rnd in range(ROUNDS):
            log("bench: corpus %s round %d/%d" % (size, rnd + 1, ROUNDS))
            for scen, floors in blocks:
                for name in floors:
                    self.floor(name, path, man, S, rnd, scen)
                k = rnd % len(self.servers)
                order = self.servers[k:] + self.servers[:k]
                for srv in order:
                    if srv.endswith("-cold") and scen != "stat":
                        continue
                    self.server_run(srv, scen, man, mb, S, rnd)
        tot1, idle1 = cpu_times()
        ru1 = os.times()
        busy = 1 - (idle1 - idle0) / max(1, tot1 - tot0)
        ours = ((ru1.children_user + ru1.children_system) -
                (ru0.children_user + ru0.children_system))
        elapsed = time.monotonic() - t0
        self.load[size] = {
            "elapsed": elapsed, "busy": busy,
            "ours": ours / (elapsed * os.cpu_count()),
            "load_start": load0, "load_end": os.getloadavg()}
        self.rss_probe(size, man, mb, S)
        self.results[size] = S
        return S

    def rss_probe(self, size, man, mb, S):
        """pop3d as USERX (cheap hash): its own peak RSS, which yescrypt's
        16 MB would hide.  Untimed.  Round 0 is the first session on the
        restored mailbox (a scan, the index written); round 1, for the
        scenarios that leave the mailbox as it was, the next one (the
        index warm, as in the timed rows)."""
        if "pop3d" not in self.servers:
            return
        link = spool_file("pop3d", USERX)
        for scen in SCENARIOS:
            mb.restore("pop3d")
            if os.path.lexists(link):
                os.unlink(link)
            os.link(spool_file("pop3d"), link)
            for rnd in ((0,) if scen in DELE else (0, 1)):
                res = self.sess.run("pop3d", scen, man["messages"], USERX)
                ok, why, notes = \
                    check_run("pop3d", scen, res, man, mb, None) \
                    if scen in DELE else (res.get("ok"), res.get("why"), [])
                S.add(("rss", scen), rnd, res, ok, why)
            os.unlink(link)
            if os.path.lexists(link + ".pop3d-index"):
                os.unlink(link + ".pop3d-index")
        mb.state["pop3d"] = None


# ----------------------------------------------------------------------
# Report

def med(xs):
    return statistics.median(xs) if xs else None


def fmt_s(v):
    if v is None:
        return "-"
    if abs(v) < 0.1:
        return "%.1f ms" % (v * 1000)
    return "%.3f s" % v


def fmt_mb(kb):
    return "-" if kb is None else "%.1f MB" % (kb / 1024)


def fmt_x(v):
    return "-" if v is None else "%.2fx" % v


class Figures:
    """Per-round derived figures for one corpus."""

    def __init__(self, S, servers):
        self.S = S
        self.servers = servers

    def floor_rounds(self, name, block):
        """The floor measured next to the runs of scenario `block`."""
        return self.S.by_round(("floor", name, block))

    def floor_all(self, name):
        return [r for k, v in self.S.runs.items()
                if k[:2] == ("floor", name) for r in v if r["ok"]]

    def hash_cost(self, rnd, block):
        """The password hash alone: the hash floor minus the true floor,
        medians of every sample of this corpus (one sample is as noisy as
        the difference it should measure on a busy machine)."""
        if not hasattr(self, "_hash"):
            h = med([r["wall"] for r in self.floor_all("hash")])
            t = med([r["wall"] for r in self.floor_all("true")])
            self._hash = None if h is None or t is None else max(0.0, h - t)
        return self._hash

    def checks_hash(self, srv):
        return base(srv) != "dovecot"

    def beyond(self, srv, scen):
        """Per round: wall minus the hash (for servers that check one)."""
        out = {}
        for rnd, r in self.S.by_round((srv, scen)).items():
            h = self.hash_cost(rnd, scen) if self.checks_hash(srv) else 0.0
            if h is not None:
                out[rnd] = r["wall"] - h
        return out

    def valid(self, srv, scen):
        return not self.S.failed((srv, scen)) and \
            bool(self.S.by_round((srv, scen)))

    def ratio_floor(self, srv, scen, floor):
        fr = self.floor_rounds(floor, scen)
        b = self.beyond(srv, scen)
        xs = [b[r] / fr[r]["wall"] for r in b if r in fr and fr[r]["wall"]]
        return med(xs)

    def beyond_login(self, srv, scen):
        """Per round: wall minus the same server's login+QUIT."""
        q = self.S.by_round((srv, "quit"))
        return med([r["wall"] - q[rnd]["wall"]
                    for rnd, r in self.S.by_round((srv, scen)).items()
                    if rnd in q])


def report(bench, out):
    lines = []
    w = lines.append
    w("# pop3d benchmark")
    w("")
    w("Run %s on %s (%d cores), %d rounds, seed %d; pop3d = %s." % (
        time.strftime("%Y-%m-%d %H:%M"), os.uname().nodename,
        os.cpu_count(), ROUNDS, SEED,
        os.environ.get("BENCH_POP3D_DESC", POP3D)))
    w("Medians over the rounds.  `beyond hash`: wall time minus the "
      "password hash (median of the `hash` floor minus median of the `true` "
      "floor, all samples of the corpus) for servers that check one; "
      "Dovecot runs pre-authenticated and checks none.  `beyond login`: "
      "wall time minus the same server's login+QUIT on the same mailbox in "
      "the same round (what the session costs once the mailbox is open).  "
      "Ratios are medians of per-round ratios to the floor "
      "measured next to the runs.  A cell that says FAILED had a run whose "
      "correctness check failed; its figures are not shown.")
    if ROUNDS < 5:
        w("")
        w("**Fewer than 5 rounds: figures for a quick look only.**")
    targets = {}
    for size in SIZES:
        if size not in bench.results:
            continue
        S = bench.results[size]
        path, man = bench.corpora[size]
        F = Figures(S, bench.servers)
        ld = bench.load[size]
        w("")
        w("## Corpus %s: %d messages, %.1f MB" % (
            size, man["messages"], man["bytes"] / 1e6))
        w("")
        w("Machine while measuring: %.0f%% of the CPU busy, %.0f%% of it "
          "this bench; load average %.2f at the start, %.2f at the end; "
          "%.0f s." % (100 * ld["busy"], 100 * ld["ours"],
                       ld["load_start"][0], ld["load_end"][0],
                       ld["elapsed"]))
        w("")
        w("| floor | wall | CPU | peak RSS |")
        w("|---|---|---|---|")
        for name in ("true", "hash", "cat", "scan", "emit", "copy"):
            keys = [k for k in S.runs if k[:2] == ("floor", name)]
            if not keys:
                continue
            fails = [r for k in keys for r in S.failed(k)]
            if fails:
                w("| %s | FAILED: %s | | |" % (FLOOR_TITLE[name],
                                               fails[0]["why"]))
                continue
            rs = F.floor_all(name)
            w("| %s | %s | %s | %s |" % (
                FLOOR_TITLE[name], fmt_s(med([r["wall"] for r in rs])),
                fmt_s(med([r["cpu"] for r in rs])),
                fmt_mb(med([r["rss"] for r in rs]))))
        w("")
        foot = []
        w("| scenario | server | wall | beyond hash | beyond login | CPU | "
          "peak RSS | vs floor | pop3d faster by |")
        w("|---|---|---|---|---|---|---|---|---|")
        for scen in ["quit@E"] + SCENARIOS:
            for srv in bench.servers:
                key = (srv, scen)
                if key not in S.runs:
                    continue
                title = SCEN_TITLE[scen]
                if S.failed(key):
                    f = S.failed(key)
                    w("| %s | %s | FAILED (%d of %d runs): %s | | | | | | |" % (
                        title, srv, len(f), len(S.runs[key]), f[0]["why"]))
                    continue
                rs = S.by_round(key)
                b = med(list(F.beyond(srv, scen).values()))
                fl = SCEN_FLOOR.get(scen)
                ratio = "%s %s" % (fmt_x(F.ratio_floor(srv, scen, fl)), fl) \
                    if fl else "-"
                vs = "-"
                if srv != "pop3d" and F.valid("pop3d", scen):
                    pb = med(list(F.beyond("pop3d", scen).values()))
                    if pb and b:
                        vs = fmt_x(b / pb)
                for note in sorted(S.notes.get(key, ())):
                    foot.append("%s, %s: %s" % (srv, title, note))
                bl = F.beyond_login(srv, scen) \
                    if scen not in ("quit", "quit@E") and \
                    F.valid(srv, "quit") else None
                w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    title, srv,
                    fmt_s(med([r["wall"] for r in rs.values()])), fmt_s(b),
                    fmt_s(bl),
                    fmt_s(med([r["cpu"] for r in rs.values()])),
                    fmt_mb(max(r["rss"] for r in rs.values())), ratio, vs))
        if foot:
            w("")
            for note in foot:
                w("- " + note)
        targets[size] = F
    w("")
    w("## Targets (README 'Performance')")
    w("")
    w("| target | measured | result |")
    w("|---|---|---|")
    for row in target_rows(bench, targets):
        w("| %s | %s | %s |" % row)
    text = "\n".join(lines) + "\n"
    with open(out, "w") as f:
        f.write(text)
    return text


def target_rows(bench, T):
    rows = []

    def verdict(v, limit):
        if v is None:
            return "not measured"
        return "pass" if v <= limit else "MISS by %.1f%%" % (
            100 * (v / limit - 1))

    def need(size, srv, scen):
        F = T.get(size)
        if F is None:
            return None, "corpus %s not run" % size
        if (srv, scen) not in F.S.runs:
            return None, "not run"
        if not F.valid(srv, scen):
            return None, "check FAILED"
        return F, None

    # 1. login+STAT beyond the hash <= 1.3x the separator scan (M)
    F, why = need("M", "pop3d", "stat")
    v = F.ratio_floor("pop3d", "stat", "scan") if F else None
    rows.append(("login+STAT beyond the hash <= 1.3x separator scan (M)",
                 fmt_x(v) if F else why, verdict(v, 1.3) if F else why))
    # 2. RETR <= 1.3x emit floor, >= 2x faster than popa3d
    F, why = need("M", "pop3d", "retr")
    v = F.ratio_floor("pop3d", "retr", "emit") if F else None
    rows.append(("RETR every message <= 1.3x emit floor (M)",
                 fmt_x(v) if F else why, verdict(v, 1.3) if F else why))
    if F and F.valid("popa3d", "retr"):
        pb = med(list(F.beyond("pop3d", "retr").values()))
        qb = med(list(F.beyond("popa3d", "retr").values()))
        sp = qb / pb if pb else None
        rows.append(("RETR every message >= 2x faster than popa3d (M, "
                     "beyond hash)", fmt_x(sp),
                     "pass" if sp and sp >= 2 else
                     "MISS (%.2fx of 2x)" % (sp or 0)))
    else:
        rows.append(("RETR every message >= 2x faster than popa3d (M)",
                     "popa3d not measured", "not measured"))
    # 3. TOP n 0 <= 2x separator scan
    F, why = need("M", "pop3d", "top")
    v = F.ratio_floor("pop3d", "top", "scan") if F else None
    rows.append(("TOP n 0 every message <= 2x separator scan (M)",
                 fmt_x(v) if F else why, verdict(v, 2.0) if F else why))
    # 4. DELE last + QUIT on L <= 20 ms beyond login
    F, why = need("L", "pop3d", "dele_last")
    v = F.beyond_login("pop3d", "dele_last") if F and \
        F.valid("pop3d", "quit") else None
    rows.append(("DELE last + QUIT <= 20 ms beyond login+QUIT (L)",
                 fmt_s(v) if v is not None else (why or "login+QUIT not run"),
                 verdict(v, 0.020) if v is not None else (why or "-")))
    # 5. DELE first + QUIT <= 2.2x copy floor (M)
    F, why = need("M", "pop3d", "dele_first")
    v = F.ratio_floor("pop3d", "dele_first", "copy") if F else None
    rows.append(("DELE first + QUIT beyond the hash <= 2.2x copy floor (M)",
                 fmt_x(v) if F else why, verdict(v, 2.2) if F else why))
    # 6. peak RSS on L <= 16 MB, growing with the number of messages only
    for size in ("L",) + tuple(s for s in ("S", "M", "T") if s in T):
        F = T.get(size)
        if F is None:
            if size == "L":
                rows.append(("peak RSS on L <= 16 MB", "corpus L not run",
                             "not measured"))
            continue
        probe = [(r["rss"], scen) for scen in SCENARIOS
                 for r in F.S.by_round(("rss", scen)).values()]
        timed = [r["rss"] for scen in SCENARIOS
                 for r in F.S.by_round(("pop3d", scen)).values()]
        hr = [r["rss"] for r in F.floor_all("hash")]
        if not probe:
            continue
        m, worst = max(probe)
        label = "peak RSS of pop3d (%s), worst scenario, cheap hash" % size
        if size == "L":
            label = "peak RSS on L <= 16 MB (worst scenario, with a cheap " \
                "sha512crypt hash)"
        rows.append((label, "%s (%s); with yescrypt %s, the hash floor "
                     "alone %s" % (fmt_mb(m), SCEN_TITLE[worst],
                                   fmt_mb(max(timed) if timed else None),
                                   fmt_mb(max(hr) if hr else None)),
                     verdict(m / 1024, 16.0) if size == "L" else "-"))
    # 7. login+QUIT start-up beyond the hash <= 2 ms (empty mailbox):
    #    every corpus's rounds pooled, as the figure is the same for all
    qs, hs, bad = [], [], False
    for size in SIZES:
        F = T.get(size)
        if F is None:
            continue
        bad = bad or bool(F.S.failed(("pop3d", "quit@E")))
        qs += [r["wall"] for r in F.S.by_round(("pop3d", "quit@E")).values()]
        hs += [r["wall"] for r in F.floor_all("hash")]
    if bad:
        rows.append(("login+QUIT start-up beyond the hash <= 2 ms",
                     "check FAILED", "-"))
    elif qs and hs:
        v = med(qs) - med(hs)
        rows.append(("login+QUIT start-up beyond the hash <= 2 ms (empty "
                     "mailbox; median of %d sessions minus median of %d "
                     "fork+exec+crypt floors)" % (len(qs), len(hs)),
                     fmt_s(v), verdict(v, 0.002)))
    # 8. the persistent index (L): login cost beyond the hash
    F = T.get("L")
    for scen, limit, what in (
            ("stat", 0.005, "login+STAT beyond the hash, unchanged <= 5 ms"),
            ("uidl", 0.010, "login+UIDL beyond the hash, unchanged <= 10 ms"),
            ("after_dele", 0.005, "login+STAT after DELE all + QUIT, beyond "
             "the hash <= 5 ms"),
            ("stat_append", 0.005, "login+STAT after %d appended, beyond the "
             "hash <= 5 ms + the scan of the new bytes" % APPENDED)):
        if F is None or not F.valid("pop3d", scen):
            rows.append((what + " (L)", "not measured", "-"))
            continue
        v = med(list(F.beyond("pop3d", scen).values()))
        rows.append((what + " (L)", fmt_s(v), verdict(v, limit)))
    if F is not None and F.valid("pop3d", "retr"):
        v = F.ratio_floor("pop3d", "retr", "emit")
        rows.append(("RETR every message <= 1.15x emit floor (L)",
                     fmt_x(v), verdict(v, 1.15)))
    if F is not None and F.valid("pop3d", "stat_noindex") and \
            F.valid("pop3d", "stat_scan"):
        a = med(list(F.beyond("pop3d", "stat_noindex").values()))
        b = med(list(F.beyond("pop3d", "stat_scan").values()))
        rows.append(("first login without an index <= +5% vs --no-index "
                     "(L, beyond the hash)", "%s vs %s" % (fmt_s(a), fmt_s(b)),
                     verdict(a / b, 1.05) if b else "-"))
    # every scenario: faster than the best peer
    for size in SIZES:
        F = T.get(size)
        if F is None:
            continue
        for scen in SCENARIOS:
            if not F.valid("pop3d", scen):
                continue
            pb = med(list(F.beyond("pop3d", scen).values()))
            best, who = None, None
            for srv in bench.servers:
                if srv == "pop3d" or not F.valid(srv, scen):
                    continue
                b = med(list(F.beyond(srv, scen).values()))
                if b is not None and (best is None or b < best):
                    best, who = b, srv
            if best is None:
                continue
            rows.append(("%s (%s) faster than the best peer, beyond hash" % (
                SCEN_TITLE[scen], size), "pop3d %s, %s %s" % (
                fmt_s(pb), who, fmt_s(best)),
                "pass" if pb < best else "MISS"))
    return rows


def save_json(bench, path):
    data = {"rounds": ROUNDS, "seed": SEED, "servers": bench.servers,
            "load": bench.load, "corpora": {}}
    for size, S in bench.results.items():
        data["corpora"][size] = {
            "manifest": bench.corpora[size][1],
            "runs": {"/".join(k): v for k, v in S.runs.items()},
            "notes": {"/".join(k): sorted(v) for k, v in S.notes.items()}}
    with open(path, "w") as f:
        json.dump(data, f, indent=1)


# ----------------------------------------------------------------------

def measure(peers, corpora):
    setup_namespace(peers, hash_of(PASSWORD))
    bench = Bench(peers, corpora)
    bench.pwhash = hash_of(PASSWORD)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for size in SIZES:
        bench.corpus(size)
        save_json(bench, os.path.join(OUT, "results-%s.json" % stamp))
        text = report(bench, os.path.join(OUT, "report-%s.md" % stamp))
    shutil.copy(os.path.join(OUT, "report-%s.md" % stamp),
                os.path.join(OUT, "report.md"))
    print(text)
    if os.environ.get("BENCH_KEEP") != "1":
        # the mailbox copies (gigabytes with L); the corpora stay
        for d in ("spool", "home", "scripts") + tuple(
                "pristine-" + s for s in ALL_SERVERS):
            shutil.rmtree(os.path.join(WORK, d), ignore_errors=True)


def main():
    if os.environ.get("BENCH_IN_NAMESPACE") == "1":
        peers = json.loads(os.environ["BENCH_PEERS"])
        corpora = {s: make_corpus(s) for s in ["E"] + SIZES}
        measure(peers, corpora)
        return 0
    peers, corpora, desc = setup()
    made_popa3d_dir = False
    if "popa3d" in peers and not os.path.isdir("/var/lib/popa3d"):
        # popa3d chroots its AUTHORIZATION child there (compiled in)
        os.makedirs("/var/lib/popa3d", 0o755)
        made_popa3d_dir = True
    os.makedirs(OUT, exist_ok=True)
    env = dict(os.environ, BENCH_IN_NAMESPACE="1",
               BENCH_PEERS=json.dumps(peers), BENCH_POP3D_DESC=desc)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    try:
        r = subprocess.run(["unshare", "-m", "--propagation", "private",
                            sys.executable, os.path.abspath(__file__)],
                           env=env)
    finally:
        if made_popa3d_dir:
            os.rmdir("/var/lib/popa3d")
        # the namespace's copy of /etc holds a copy of /etc/shadow
        shutil.rmtree(os.path.join(WORK, "etc"), ignore_errors=True)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
