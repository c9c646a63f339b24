#!/usr/bin/env python3
"""tty-flood.py PIDFILE BYTES CLI...: the flood test of a --tty call.

Runs CLI (a --tty call of tests/commands.d/tty-shell) on a pseudo-terminal
of our own that we read as fast as it writes (so that what is measured is
negotiator's path, not a terminal emulator's rendering), starts a remote
`yes` that writes its pid to PIDFILE, waits until it has written BYTES (its
/proc io), sends Ctrl-C and times the key to the death of the process.
Then checks the shell survived ($? 130) and ends it with exit.  Prints
"key_to_death_ms N" and "exit N" on stdout; exits 1 if any step did not
happen within its time limit (each bounded in wall-clock seconds).
"""
import os
import pty
import select
import signal
import struct
import sys
import fcntl
import termios
import time


def main():
    pidfile, want, cli = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cli[0], cli)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    seen = bytearray()

    def pump(limit, until):
        """Reads (keeping the last 4 KiB) until until() or limit s."""
        end = time.monotonic() + limit
        while not until():
            left = end - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([fd], [], [], min(left, 0.005))
            if r:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    return until()
                if not chunk:
                    return until()
                seen.extend(chunk)
                del seen[:-4096]
        return True

    def fail(what):
        print("tty-flood: " + what, file=sys.stderr)
        try:
            os.kill(pid, signal.SIGKILL)
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

    if not pump(20, lambda: b"tty$ " in seen):
        fail("no prompt")
    os.write(fd, ("sh -c 'echo $$ >%s; exec yes " % pidfile).encode() +
             b"0123456789abcdef" * 3 + b"012345678901234'\r")
    if not pump(20, lambda: os.path.exists(pidfile) and
                os.path.getsize(pidfile) > 0):
        fail("the flood did not start")
    ypid = int(open(pidfile).read())
    if not pump(120, lambda: wrote(ypid) >= want):
        fail("%d bytes did not go through (%d)" % (want, wrote(ypid)))
    t0 = time.monotonic()
    os.write(fd, b"\x03")
    if not pump(10, lambda: not os.path.exists("/proc/%d" % ypid)):
        fail("Ctrl-C did not end the flood in 10 s")
    print("key_to_death_ms %d" % ((time.monotonic() - t0) * 1000))
    seen.clear()
    os.write(fd, b"echo \"alive=$?\"\r")
    if not pump(20, lambda: b"alive=130" in seen):
        fail("the shell did not survive (or $? was not 130)")
    os.write(fd, b"exit 3\r")
    pump(20, lambda: False)
    _, status = os.waitpid(pid, 0)
    print("exit %d" % os.waitstatus_to_exitcode(status))


main()
