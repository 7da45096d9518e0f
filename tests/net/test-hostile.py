#!/usr/bin/env python3
"""Hostile input against a real glowd: garbage and truncated frames, a bad
Noise message, a flood of connections that never finish the handshake, and
malformed packets on the control socket. After each, the node must still
serve its link and its clients, and the log must show the rejection."""
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

GLOWD = os.environ.get("GLOWD", "build/glowd")
GLOW = os.environ.get("GLOW", "build/glow")
passed = failed = 0
procs = []


def check(desc, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok -", desc)
    else:
        failed += 1
        print("not ok -", desc, detail)


USER_KEY = "GLOW-USER-V1\n" + os.urandom(32).hex() + "\n"


def start(tmp, name):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    # Every node of the test is a device of one user (as `glow join` leaves it).
    fd = os.open(os.path.join(d, "user.key"), os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, USER_KEY.encode())
    os.close(fd)
    err = open(os.path.join(d, "err"), "w")
    p = subprocess.Popen([GLOWD, "-d", d, "-l", "127.0.0.1:0", "-n", name, "--no-discovery"],
                         stdout=subprocess.PIPE, stderr=err, text=True)
    procs.append(p)
    port = None
    for line in p.stdout:
        if "listening on" in line:
            port = int(line.split(":")[-1].split()[0])
        if "control socket" in line:
            break
    return d, port, p


def glow(d, *args, timeout=15):
    r = subprocess.run([GLOW, "-d", d, *args], capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def log(d):
    with open(os.path.join(d, "err")) as f:
        return f.read()


def healthy(da, db, idb):
    rc, out = glow(da, "call", "glow://%s/0" % idb, "Info")
    return rc == 0 and '"name" : "beta"' in out


def tcp(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


def closed_by_peer(s, wait=3.0):
    s.settimeout(wait)
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


HDR = struct.Struct(">BBBBIQIIII32sQ32sQ")


def fnv(name):
    h = 2166136261
    for c in name.encode():
        h = ((h ^ c) * 16777619) & 0xffffffff
    return h


def packet(ptype, iface, method, payload=b"", plen=None, version=1, flags=0, call_id=1, aux=0, dst=0):
    if plen is None:
        plen = len(payload)
    return HDR.pack(version, ptype, flags, 16, plen, call_id, iface, method, 5000, aux,
                    b"\0" * 32, dst, b"\0" * 32, 0) + payload


def control(d):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(os.path.join(d, "glowd.sock"))
    s.settimeout(5)
    welcome = recv_packet(s)
    return s, welcome


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            raise EOFError
        b += chunk
    return b


def recv_packet(s):
    h = HDR.unpack(recv_exact(s, HDR.size))
    return h, recv_exact(s, h[4])


def recording_proxy(target_port):
    """Relays one TCP connection to target_port and records what the
    client sent. Returns (listen port, recorded bytes list, thread)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    sent = []

    def pipe(src, dst, record):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                if record is not None:
                    record.append(b)
                dst.sendall(b)
        except OSError:
            pass
        for x in (src, dst):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def run():
        c, _ = ls.accept()
        u = socket.create_connection(("127.0.0.1", target_port))
        t = threading.Thread(target=pipe, args=(u, c, None), daemon=True)
        t.start()
        pipe(c, u, sent)
        ls.close()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return ls.getsockname()[1], sent, th


def main():
    tmp = tempfile.mkdtemp(prefix="glow-hostile-")
    try:
        da, _, pa = start(tmp, "alpha")
        db, portb, pb = start(tmp, "beta")
        idb = glow(db, "id")[1].strip()
        rc, out = glow(da, "connect", "127.0.0.1:%d" % portb, idb)
        check("alpha links to beta", rc == 0, out)

        # 1. Garbage instead of a handshake.
        s = tcp(portb)
        s.sendall(b"\xfe\x01" + bytes(random.getrandbits(8) for _ in range(3000)))
        check("garbage: connection closed", closed_by_peer(s))
        check("garbage: node still serves", healthy(da, db, idb))

        # 2. A frame that promises more than it sends, then hangs up.
        s = tcp(portb)
        s.sendall(b"\xff\xff" + b"x" * 100)
        s.close()
        # 3. An empty frame.
        s = tcp(portb)
        s.sendall(b"\0\0")
        check("empty frame: connection closed", closed_by_peer(s))
        # 4. A valid-looking message 1, then a bogus message 3.
        s = tcp(portb)
        s.sendall(struct.pack(">H", 32) + os.urandom(32))
        hdr = recv_exact(s, 2)
        msg2 = recv_exact(s, struct.unpack(">H", hdr)[0])
        check("responder answers message 1 with message 2", len(msg2) >= 96)
        s.sendall(struct.pack(">H", 64) + os.urandom(64))
        check("bogus message 3: connection closed", closed_by_peer(s))
        # 5. Replay: record a real node's handshake and first records on the
        # way to beta, then play them to beta again on a new connection.
        dr, _, pr = start(tmp, "replayer")
        pport, recorded, th = recording_proxy(portb)
        rc, out = glow(dr, "connect", "127.0.0.1:%d" % pport, idb)
        check("a real node links through the recording proxy", rc == 0, out)
        glow(dr, "call", "glow://%s/0" % idb, "Info")
        glow(dr, "disconnect", idb)
        th.join(5)
        before = log(db).count("handshake failed")
        s = tcp(portb)
        s.sendall(b"".join(recorded))
        check("replayed handshake: connection closed", closed_by_peer(s))
        time.sleep(0.2)
        check("replayed handshake: rejected as a bad Noise message", log(db).count("handshake failed") > before,
              log(db)[-600:])
        check("node still serves after bad handshakes", healthy(da, db, idb))
        time.sleep(0.3)
        check("rejections are logged", all(w in log(db) for w in ("handshake failed", "empty frame", "oversized")),
              log(db)[-800:])

        # 6. A flood of connections that never speak: bounded and timed out.
        flood = []
        for _ in range(100):
            try:
                flood.append(tcp(portb))
            except OSError:
                break
        time.sleep(0.5)
        refused = sum(1 for c in flood[64:] if closed_by_peer(c, 0.5))
        check("flood: at most 64 handshakes pending, the rest refused", refused >= 30, "refused %d" % refused)
        check("flood: existing link keeps working", healthy(da, db, idb))
        rc, out = glow(db, "status")
        check("flood: control socket keeps working", rc == 0, out)
        time.sleep(6)
        timed_out = sum(1 for c in flood[:64] if closed_by_peer(c, 0.5))
        check("flood: silent handshakes time out", timed_out >= 60, "timed out %d" % timed_out)
        for c in flood:
            c.close()
        dc, _, pc = start(tmp, "gamma")
        rc, out = glow(dc, "connect", "127.0.0.1:%d" % portb)
        check("after the flood a new peer links", rc == 0, out)

        # 7. Hostile packets on the control socket.
        node_if, info_m = fnv("glow.Node"), fnv("glow.Node.Info")
        s, (wh, _) = control(db)
        check("control: welcome first", wh[1] == 4 and wh[6] == fnv("glow.Control"))
        s.sendall(packet(1, node_if, info_m))
        h, body = recv_packet(s)
        check("control: a raw Info call is answered", h[1] == 2 and b"beta" in body)
        s.sendall(packet(1, node_if, fnv("glow.Node.Connect"), b"\x0a\xff\xff\xff\xff\x0f", call_id=2))
        h, body = recv_packet(s)
        check("control: garbage protobuf -> BAD_REQUEST", h[1] == 3 and h[9] == 6, str(h))
        s.sendall(packet(1, 0x12345678, info_m, call_id=3))
        h, body = recv_packet(s)
        check("control: unknown interface -> UNIMPLEMENTED", h[1] == 3 and h[9] == 11, str(h))
        s.sendall(packet(1, node_if, info_m, flags=1, call_id=4))
        h, body = recv_packet(s)
        check("control: stream flag on a unary method -> BAD_REQUEST", h[1] == 3 and h[9] == 6, str(h))
        # Calls in progress per caller node are bounded (4096): more get TOO_FAST at once.
        diag_if, echo_m = fnv("glow.Diag"), fnv("glow.Diag.Echo")
        delayed = b"\x10\xd0\x0f"  # EchoRequest{delay_ms: 2000}
        burst = b"".join(packet(1, diag_if, echo_m, delayed, call_id=100 + i, dst=3) for i in range(4200))
        s.sendall(burst)
        too_fast = 0
        s.settimeout(1.5)
        try:
            while too_fast < 104:
                h, body = recv_packet(s)
                if h[1] == 3 and h[9] == 5:
                    too_fast += 1
        except socket.timeout:
            pass
        check("control: calls beyond the per-caller bound get TOO_FAST", too_fast >= 100, "got %d" % too_fast)
        s.close()
        # One-way MESSAGEs to a stream method must not pin memory.
        src_m = fnv("glow.Diag.Source")
        big = b"\x08\x01\x10\xc0\x84\x3d"  # SourceRequest{count: 1, size: 1000000}
        s, _ = control(db)
        s.sendall(b"".join(packet(4, diag_if, src_m, big, call_id=0, dst=3) for _ in range(300)))
        time.sleep(1)
        rc, out = glow(db, "status")
        rss = int([l for l in open("/proc/%d/status" % pb.pid) if l.startswith("VmRSS")][0].split()[1])
        check("control: MESSAGEs to a stream method pin no memory", rc == 0 and rss < 64 * 1024, "VmRSS %d kB" % rss)
        s.close()
        s, _ = control(db)
        s.sendall(packet(9, node_if, info_m, call_id=5))
        check("control: unknown packet type closes the session", closed_by_peer(s))
        s, _ = control(db)
        s.sendall(packet(1, node_if, info_m, plen=(1 << 20) + 1))
        check("control: oversized payload closes the session", closed_by_peer(s))
        s, _ = control(db)
        s.sendall(packet(1, node_if, info_m, version=7))
        check("control: unknown version closes the session", closed_by_peer(s))
        s, _ = control(db)
        s.sendall(packet(1, node_if, info_m)[:50])
        s.close()
        check("node survives all of it", pb.poll() is None and healthy(da, db, idb))
        rc, out = glow(db, "links")
        check("beta still has its links", rc == 0 and "alpha" in out and "gamma" in out, out)
        check("beta logged the refused connections", "refusing connection" in log(db))
        for p in procs:
            p.terminate()
        for i, p in enumerate(procs):
            try:
                rc = p.wait(10)
            except subprocess.TimeoutExpired:
                rc = "hung"
            check("glowd %d stops cleanly after the abuse" % i, rc == 0, "exit %s" % rc)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        subprocess.run(["rm", "-rf", tmp])
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
