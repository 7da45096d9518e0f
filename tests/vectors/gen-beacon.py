#!/usr/bin/python3
"""Writes tests/vectors/beacon.txt: one LAN beacon (src/wire/beacon.h), byte
by byte, from an implementation that shares no code with src/: the layout
with struct, the user tag with hashlib's keyed BLAKE2b, and Ed25519 from the
RFC 8032 section 6 reference code (pure Python, below). The signature is
then checked a second way, with libsodium's crypto_sign_verify_detached
loaded through ctypes (libsodium.so.23), and the key pair compared with
crypto_sign_seed_keypair.

Standard library only:  python3 tests/vectors/gen-beacon.py
tests/unit/test-beacon.c checks src/wire/beacon.c against the output.
"""
import ctypes
import ctypes.util
import hashlib
import os
import struct
import sys

# --- Ed25519, RFC 8032 section 6 (slow, not constant time: test use only) ---

p = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
d = -121665 * pow(121666, p - 2, p) % p
SQRT_M1 = pow(2, (p - 1) // 4, p)


def sha512(s):
    return hashlib.sha512(s).digest()


def point_add(P, Q):
    A, B = (P[1] - P[0]) * (Q[1] - Q[0]) % p, (P[1] + P[0]) * (Q[1] + Q[0]) % p
    C, D = 2 * P[3] * Q[3] * d % p, 2 * P[2] * Q[2] % p
    E, F, G, H = B - A, D - C, D + C, B + A
    return (E * F, G * H, F * G, E * H)


def point_mul(s, P):
    Q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            Q = point_add(Q, P)
        P = point_add(P, P)
        s >>= 1
    return Q


def recover_x(y, sign):
    x2 = (y * y - 1) * pow(d * y * y + 1, p - 2, p)
    x = pow(x2, (p + 3) // 8, p)
    if (x * x - x2) % p != 0:
        x = x * SQRT_M1 % p
    if x & 1 != sign:
        x = p - x
    return x


gy = 4 * pow(5, p - 2, p) % p
gx = recover_x(gy, 0)
G = (gx, gy, 1, gx * gy % p)


def point_compress(P):
    zinv = pow(P[2], p - 2, p)
    x, y = P[0] * zinv % p, P[1] * zinv % p
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def secret_expand(seed):
    h = sha512(seed)
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def public_key(seed):
    a, _ = secret_expand(seed)
    return point_compress(point_mul(a, G))


def sign(seed, msg):
    a, prefix = secret_expand(seed)
    A = point_compress(point_mul(a, G))
    r = int.from_bytes(sha512(prefix + msg), "little") % L
    Rs = point_compress(point_mul(r, G))
    h = int.from_bytes(sha512(Rs + A + msg), "little") % L
    s = (r + h * a) % L
    return Rs + int.to_bytes(s, 32, "little")


# --- the beacon ------------------------------------------------------------------

SEED = bytes(range(32))
USER_PK = bytes(range(0xA0, 0xC0))
PORT = 7179
TIMESTAMP_MS = 1700000000000
INVITE_ID = 0xABCDE
NAME = "café laptop".encode()
ADDRS = [
    (4, bytes([192, 168, 1, 20]), 7179),
    (6, bytes.fromhex("fe800000000000000000000000000001"), 7179),
    (6, bytes.fromhex("20010db8000000000000000000000042"), 7180),
]
CONTEXT = b"glow-beacon-v1\0\0"


def user_tag(user_pk, node, ts):
    h = hashlib.blake2b(b"glow-beacon-user" + node + struct.pack(">Q", ts), key=user_pk, digest_size=32)
    return h.digest()[:16]


def body(node, tag):
    b = b"GLWB" + bytes([1, 0x01]) + struct.pack(">H", PORT) + node + tag
    b += struct.pack(">QI", TIMESTAMP_MS, INVITE_ID)
    b += bytes([len(NAME)]) + NAME + bytes([len(ADDRS)])
    for fam, addr, port in ADDRS:
        b += bytes([fam]) + addr + struct.pack(">H", port)
    return b


def check_with_libsodium(node, msg, sig):
    name = ctypes.util.find_library("sodium") or "libsodium.so.23"
    na = ctypes.CDLL(name)
    if na.sodium_init() < 0:
        sys.exit("sodium_init failed")
    pk, sk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(64)
    na.crypto_sign_seed_keypair(pk, sk, SEED)
    if pk.raw != node:
        sys.exit("libsodium derives another public key from the seed")
    if na.crypto_sign_verify_detached(sig, msg, ctypes.c_ulonglong(len(msg)), node) != 0:
        sys.exit("libsodium refuses the signature")
    bad = bytearray(msg)
    bad[0] ^= 1
    if na.crypto_sign_verify_detached(sig, bytes(bad), ctypes.c_ulonglong(len(bad)), node) == 0:
        sys.exit("libsodium accepts a wrong message: the check checks nothing")
    return name


def main():
    node = public_key(SEED)
    tag = user_tag(USER_PK, node, TIMESTAMP_MS)
    b = body(node, tag)
    sig = sign(SEED, CONTEXT + b)
    lib = check_with_libsodium(node, CONTEXT + b, sig)
    wire = b + sig
    assert len(wire) == 69 + len(NAME) + 1 + 7 + 19 + 19 + 64 <= 512

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "beacon.txt")
    with open(out, "w") as f:
        f.write(HEADER)
        f.write("seed: %s\n" % SEED.hex())
        f.write("node: %s\n" % node.hex())
        f.write("user_pk: %s\n" % USER_PK.hex())
        f.write("user_tag: %s\n" % tag.hex())
        f.write("port: %d\n" % PORT)
        f.write("timestamp_ms: %d\n" % TIMESTAMP_MS)
        f.write("invite_open: 1\n")
        f.write("invite_id: 0x%x\n" % INVITE_ID)
        f.write("name: %s\n" % NAME.decode())
        for fam, addr, port in ADDRS:
            f.write("addr: %d %s %d\n" % (fam, addr.hex(), port))
        f.write("\n# the %d bytes, one line per field\n" % len(wire))
        o = 0
        for what, n in [("magic GLWB", 4), ("version 1", 1), ("flags: invite open", 1),
                        ("TCP port 7179", 2), ("node ID", 32), ("user tag", 16),
                        ("timestamp 1700000000000 ms", 8), ("invite id 0xabcde", 4),
                        ("name length %d" % len(NAME), 1), ("name", len(NAME)),
                        ("address count 3", 1), ("IPv4 192.168.1.20 port 7179", 7),
                        ("IPv6 fe80::1 port 7179", 19), ("IPv6 2001:db8::42 port 7180", 19),
                        ("signature R", 32), ("signature S", 32)]:
            f.write("hex: %-64s  # %3d %s\n" % (wire[o:o + n].hex(), o, what))
            o += n
        assert o == len(wire)
    print("wrote %s (%d bytes; signature checked with %s)" % (out, len(wire), lib))


HEADER = """\
# beacon.txt — test vector for the LAN beacon (code: src/wire/beacon.{h,c},
# layout in beacon.h; checked by tests/unit/test-beacon.c). Written by
# tests/vectors/gen-beacon.py, which shares no code with src/ (struct,
# hashlib's keyed BLAKE2b, RFC 8032 Ed25519 in Python; the signature is also
# verified with libsodium through ctypes). Do not edit by hand: run it again.
#
# Format: "key: value" per line; '#' starts a comment; blank lines ignored.
#
#   seed          Ed25519 seed of the node (crypto_sign_seed_keypair): 00 01 .. 1f
#   node          the node ID, i.e. the public key from that seed (bytes 8..39)
#   user_pk       the user's public key (any 32 bytes do for the tag): a0 .. bf
#   user_tag      glow_beacon_user_tag(user_pk, node, timestamp_ms): first 16
#                 bytes of BLAKE2b-256 keyed with user_pk over
#                 "glow-beacon-user" || node || timestamp (u64 BE) (bytes 40..55)
#   port          the TCP link port (bytes 6..7)
#   timestamp_ms  milliseconds since the Unix epoch, 2023-11-14 22:13:20 UTC (56..63)
#   invite_open   flag bit 0 (byte 5)
#   invite_id     20-bit invite id (bytes 64..67)
#   name          the node name, UTF-8, rest of the line ("é" is c3 a9)
#   addr          FAMILY(4|6) ADDRESS-HEX PORT, in order
#   hex           the encoded beacon; the hex: lines concatenate, spaces ignored.
#                 The last 64 bytes are the Ed25519 signature over
#                 "glow-beacon-v1\\0\\0" || every byte before them.
#
"""

if __name__ == "__main__":
    main()
