#!/usr/bin/python3
"""Hostile local callers on a daemon's control socket, for
tests/hostile-local.sh.  Every wait has a deadline.

  capture SOCK OUT       a fake daemon at SOCK: writes the first two frames
                         a CLI sends (its HELLO and its request, with
                         CONN_EARLY) to OUT, for the other modes to replay
  hold SOCK N STOP       N idle connections; prints "opened O held K" once
                         the daemon has had 1.5 s to close what it refuses;
                         holds them until the file STOP exists (120 s at
                         most)
  idle SOCK LIMIT        one idle connection; prints "closed after MS" when
                         the daemon closes it, "open after LIMIT s" if not
  flood SOCK FRAMES N SECONDS STOP
                         N connections that say HELLO, then send the
                         request of FRAMES over and over for SECONDS
                         without ever reading an answer; prints "open K
                         sent B" (K: those that took all it sent) and holds
                         them until STOP
  garbage SOCK PROCS SECONDS
                         PROCS processes (one uid) that each connect, send
                         4 KiB of random bytes and hang up, again and
                         again for SECONDS; prints "connections C"
"""
import os
import select
import socket
import struct
import sys
import time


def dial(path):
    """Connects, retrying for 5 s while the listener's backlog is full."""
    end = time.time() + 5
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(path)
            s.setblocking(True)
            return s
        except BlockingIOError:
            s.close()
            if time.time() >= end:
                raise
            time.sleep(0.01)


def closed(s):
    """True if the other end has closed s (nothing is ever read here)."""
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return False
    try:
        return s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def wait_for(path, limit):
    end = time.time() + limit
    while not os.path.exists(path) and time.time() < end:
        time.sleep(0.1)


def frames(data):
    """Splits a byte stream into frames by their length field."""
    out = []
    while len(data) >= 24:
        n = 24 + struct.unpack(">I", data[12:16])[0]
        out.append(data[:n])
        data = data[n:]
    return out


def capture(path, out):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(10)
    c, _ = srv.accept()
    c.settimeout(0.5)
    data = b""
    end = time.time() + 3
    while time.time() < end and len(frames(data)) < 2:
        try:
            d = c.recv(65536)
        except socket.timeout:
            continue
        if not d:
            break
        data += d
    f = frames(data)
    if len(f) < 2:
        sys.exit("captured %d frames" % len(f))
    with open(out, "wb") as o:
        o.write(f[0] + f[1])


def hold(path, n, stop):
    conns, failed = [], 0
    for _ in range(n):
        try:
            conns.append(dial(path))
        except OSError:
            failed += 1
    time.sleep(1.5)
    held = sum(1 for s in conns if not closed(s))
    print("opened %d held %d" % (len(conns), held), flush=True)
    wait_for(stop, 120)


def idle(path, limit):
    s = dial(path)
    t0 = time.time()
    r, _, _ = select.select([s], [], [], limit)
    if r and closed(s):
        print("closed after %d" % ((time.time() - t0) * 1000))
    else:
        print("open after %g s" % limit)


def flood(path, framefile, n, seconds, stop):
    with open(framefile, "rb") as f:
        hello, request = frames(f.read())[:2]
    conns = []
    for _ in range(n):
        try:
            s = dial(path)
            s.sendall(hello)
            s.setblocking(False)
            conns.append(s)
        except OSError:
            pass
    batch = request * 256
    sent = 0
    end = time.time() + seconds
    while time.time() < end and conns:
        _, w, _ = select.select([], conns, [], 0.2)
        for s in w:
            try:
                sent += s.send(batch)
            except BlockingIOError:
                pass
            except OSError:
                conns.remove(s)
    print("open %d sent %d" % (len(conns), sent), flush=True)
    wait_for(stop, 120)


def garbage(path, procs, seconds):
    end = time.time() + seconds
    kids = []
    for _ in range(procs):
        pid = os.fork()
        if pid == 0:
            n = 0
            while time.time() < end:
                try:
                    s = dial(path)
                    s.sendall(os.urandom(4096))
                    s.close()
                    n += 1
                except OSError:
                    time.sleep(0.01)
            os._exit(0 if n > 0 else 1)
        kids.append(pid)
    ok = 0
    for pid in kids:
        _, st = os.waitpid(pid, 0)
        ok += st == 0
    print("processes %d connected %d" % (procs, ok))


def main(a):
    if a[1:2] == ["capture"] and len(a) == 4:
        capture(a[2], a[3])
    elif a[1:2] == ["hold"] and len(a) == 5:
        hold(a[2], int(a[3]), a[4])
    elif a[1:2] == ["idle"] and len(a) == 4:
        idle(a[2], float(a[3]))
    elif a[1:2] == ["flood"] and len(a) == 7:
        flood(a[2], a[3], int(a[4]), float(a[5]), a[6])
    elif a[1:2] == ["garbage"] and len(a) == 5:
        garbage(a[2], int(a[3]), float(a[4]))
    else:
        sys.exit(__doc__)


main(sys.argv)
