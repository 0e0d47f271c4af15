#!/usr/bin/env python3
"""Check, from strace -f output, who read the client's socket.

    socketreaders.py FRONT_UID USER_UID CHROOT TRACE...

Each TRACE is one pop3d run under `strace -f -o TRACE -e trace=read,
readv,recvfrom,recvmsg,pread64,setresuid,setuid,chroot,clone,clone3,fork,
vfork,dup,dup2,dup3,fcntl`.  Per pid it follows the effective uid
(setresuid/setuid), whether the process has chrooted, and which of its
descriptors are the client socket (fd 0 at the start, and every dup of
it); a child inherits all of that from the clone that made it.  It fails
if any read on the client socket happens with euid 0, or is neither by a
chrooted process running as FRONT_UID (the pre-authentication process)
nor by one running as USER_UID (the user's session).  It also fails if no
read at all was made by the front (the check would prove nothing).
Prints one summary line per trace.
"""
import re
import sys

LINE = re.compile(r"^(\d+)\s+(?:<\.\.\. (\w+) resumed>|(\w+)\()(.*)$")
READS = {"read", "readv", "recvfrom", "recvmsg", "pread64"}
FORKS = {"clone", "clone3", "fork", "vfork"}


def parse(path):
    """(pid, call, text, result) for every finished call, in order; the
    start of an unfinished call is kept with its arguments."""
    calls, pending = [], {}
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line.rstrip("\n"))
            if m is None:
                continue
            pid, resumed, name, rest = m.groups()
            if rest.endswith("<unfinished ...>"):
                pending[pid] = (name, rest)
                calls.append((pid, name, rest, None, "start"))
                continue
            if resumed:
                name, start = pending.pop(pid, (resumed, ""))
                rest = start.replace("<unfinished ...>", "") + rest
            r = re.search(r"\)\s+=\s+(-?\d+)", rest)
            calls.append((pid, name, rest, int(r.group(1)) if r else None,
                          "end"))
    return calls


def check(path, front_uid, user_uid, root_dir):
    calls = parse(path)
    if not calls:
        return ["empty trace"], 0, 0
    first = calls[0][0]
    state = {first: {"euid": 0, "chroot": False, "fds": {0}}}
    snap = {}
    problems, front_reads, user_reads = [], 0, 0
    for pid, name, rest, res, kind in calls:
        if pid not in state:
            # a child whose first call came before its parent's clone
            # returned: take the state the parent had at the clone
            state[pid] = snap.get(pid) or {"euid": None, "chroot": False,
                                            "fds": {0}}
        st = state[pid]
        if name in FORKS and kind == "start":
            st["forking"] = {k: (set(v) if isinstance(v, set) else v)
                             for k, v in st.items() if k != "forking"}
        if kind != "end" or res is None:
            if name in READS and rest.startswith("0,") and st["euid"] == 0:
                problems.append("pid %s reads fd 0 as root: %s" %
                                (pid, rest[:60]))
            continue
        if name in FORKS and res > 0:
            base = st.pop("forking", st)
            child = {k: (set(v) if isinstance(v, set) else v)
                     for k, v in base.items() if k != "forking"}
            snap[str(res)] = child
            if str(res) in state and state[str(res)]["euid"] is None:
                state[str(res)] = child
            elif str(res) not in state:
                state[str(res)] = child
        elif name == "setresuid" and res == 0:
            a = re.match(r"(-?\d+), (-?\d+)", rest)
            if a and a.group(2) != "-1":
                st["euid"] = int(a.group(2))
        elif name == "setuid" and res == 0:
            st["euid"] = int(re.match(r"(\d+)", rest).group(1))
        elif name == "chroot" and res == 0:
            st["chroot"] = rest.startswith('"%s"' % root_dir)
        elif name in ("dup", "dup2", "dup3", "fcntl") and res >= 0:
            src = re.match(r"(\d+)", rest)
            if src and int(src.group(1)) in st["fds"] and (
                    name != "fcntl" or "F_DUPFD" in rest):
                st["fds"].add(res)
        elif name in READS:
            fd = int(re.match(r"(\d+)", rest).group(1))
            if fd not in st["fds"]:
                continue
            if st["euid"] == 0 or st["euid"] is None:
                problems.append("pid %s reads the client as root: %s" %
                                (pid, rest[:60]))
            elif st["chroot"] and st["euid"] == front_uid:
                front_reads += 1
            elif st["euid"] == user_uid and not st["chroot"]:
                user_reads += 1
            else:
                problems.append("pid %s (euid %s, chroot %s) reads the "
                                "client: %s" % (pid, st["euid"],
                                                st["chroot"], rest[:60]))
    if front_reads == 0:
        problems.append("no read by the pre-authentication process")
    return problems, front_reads, user_reads


def main():
    front_uid, user_uid, root_dir = int(sys.argv[1]), int(sys.argv[2]), \
        sys.argv[3]
    bad = 0
    for path in sys.argv[4:]:
        problems, fr, ur = check(path, front_uid, user_uid, root_dir)
        print("%s: front reads %d, user-session reads %d, problems %d" %
              (path, fr, ur, len(problems)))
        for p in problems[:20]:
            print("  " + p)
        bad += bool(problems)
    sys.exit(1 if bad else 0)


main()
