#!/usr/bin/env python3
"""tty-flood.py [--nest LINE] [--watch CMD] PIDFILE BYTES CLI...: the flood
test of a --tty call.

Runs CLI (a --tty call of tests/commands.d/tty-shell) on a pseudo-terminal
of our own that we read as fast as it writes (so that what is measured is
negotiator's path, not a terminal emulator's rendering), starts a remote
`yes` that writes its pid to PIDFILE, waits until it has written BYTES,
sends Ctrl-C and times the key to the death of the process.  Then checks
the shell survived ($? 130) and ends it with exit 3.  Prints
"key_to_death_ms N" and "exit N" on stdout; exits 1 if any step did not
happen within its time limit (each bounded in wall-clock seconds).

The `yes` runs on this machine unless --watch is given: then PIDFILE is a
path on the other side, BYTES are counted as we read them, and CMD (a
shell command line run here, a call of the other side's bench-waitpid)
prints "ready" once it has removed PIDFILE, "started PID" once the pid is
in it and "gone" once that process has ended: the time is then from the
key to our hearing "gone", an upper bound.  --nest LINE: typed at the
first prompt, LINE opens the shell the flood runs in (a terminal in the
guest calling the host); it is left with exit 0 before the exit 3.
"""
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import fcntl
import termios
import time


def main():
    args = sys.argv[1:]
    nest = watch = None
    while args and args[0] in ("--nest", "--watch"):
        if args[0] == "--nest":
            nest = args[1]
        else:
            watch = args[1]
        args = args[2:]
    pidfile, want, cli = args[0], int(args[1]), args[2:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cli[0], cli)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    seen = bytearray()
    got = [0]               # bytes read from the terminal
    w = None                # the watcher (--watch)
    heard = []              # its lines

    def pump(limit, until):
        """Reads (keeping the last 4 KiB) until until() or limit s."""
        end = time.monotonic() + limit
        while not until():
            left = end - time.monotonic()
            if left <= 0:
                return False
            fds = [fd] + ([w.stdout] if w is not None else [])
            r, _, _ = select.select(fds, [], [], min(left, 0.005))
            if w is not None and w.stdout in r:
                part = os.read(w.stdout.fileno(), 4096)
                if not part:
                    return until()
                heard.extend(part.decode(errors="replace").split())
            if fd in r:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    return until()
                if not chunk:
                    return until()
                got[0] += len(chunk)
                seen.extend(chunk)
                del seen[:-4096]
        return True

    def fail(what):
        print("tty-flood: " + what, file=sys.stderr)
        for p in [pid] + ([w.pid] if w is not None else []):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        sys.exit(1)

    def wrote(p):
        try:
            with open("/proc/%d/io" % p) as f:
                for line in f:
                    if line.startswith("wchar:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return -1

    def said(word):
        return word in heard

    if not pump(20, lambda: b"tty$ " in seen):
        fail("no prompt")
    if nest is not None:
        seen.clear()
        os.write(fd, nest.encode() + b"\r")
        if not pump(30, lambda: b"tty$ " in seen):
            fail("no prompt from " + nest)
    if watch is not None:
        w = subprocess.Popen(watch, shell=True, stdout=subprocess.PIPE,
                             stdin=subprocess.DEVNULL)
        if not pump(30, lambda: said("ready")):
            fail("the watcher did not start (%s)" % heard)
    os.write(fd, ("sh -c 'echo $$ >%s; exec yes " % pidfile).encode() +
             b"0123456789abcdef" * 3 + b"012345678901234'\r")
    if watch is not None:
        if not pump(30, lambda: said("started")):
            fail("the flood did not start")
        got[0] = 0
        if not pump(300, lambda: got[0] >= want):
            fail("%d bytes did not come through (%d)" % (want, got[0]))
        t0 = time.monotonic()
        os.write(fd, b"\x03")
        if not pump(10, lambda: said("gone")):
            fail("Ctrl-C did not end the flood in 10 s")
    else:
        if not pump(20, lambda: os.path.exists(pidfile) and
                    os.path.getsize(pidfile) > 0):
            fail("the flood did not start")
        ypid = int(open(pidfile).read())
        if not pump(300, lambda: wrote(ypid) >= want):
            fail("%d bytes did not go through (%d)" % (want, wrote(ypid)))
        t0 = time.monotonic()
        os.write(fd, b"\x03")
        if not pump(10, lambda: not os.path.exists("/proc/%d" % ypid)):
            fail("Ctrl-C did not end the flood in 10 s")
    print("key_to_death_ms %d" % ((time.monotonic() - t0) * 1000),
          flush=True)
    if w is not None:
        w.wait()
        w = None
    seen.clear()
    os.write(fd, b"echo \"alive=$?\"\r")
    if not pump(60, lambda: b"alive=130" in seen):
        fail("the shell did not survive (or $? was not 130)")
    if nest is not None:
        seen.clear()
        os.write(fd, b"exit 0\r")
        if not pump(20, lambda: b"tty$ " in seen):
            fail("no prompt after the nested shell's exit")
    os.write(fd, b"exit 3\r")
    pump(20, lambda: False)
    _, status = os.waitpid(pid, 0)
    print("exit %d" % os.waitstatus_to_exitcode(status))


main()
