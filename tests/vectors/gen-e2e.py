#!/usr/bin/python3
"""Writes tests/vectors/e2e.txt: an end-to-end session between two Glow nodes,
byte by byte (docs/firefly.md section 11), from an implementation that shares
no code with src/: Noise_IK_25519_ChaChaPoly_BLAKE2b written here from the
Noise spec (revision 34) over PyNaCl's primitives and Python's hashlib.

Run with Debian's Python and python3-nacl:  /usr/bin/python3 tests/vectors/gen-e2e.py
tests/unit/test-e2e-vectors.c checks src/router/e2e.c against the output.
"""
import hashlib
import hmac
import os
import struct

import nacl.bindings as nb

HASHLEN = 64
PROTOCOL = b"Noise_IK_25519_ChaChaPoly_BLAKE2b"


def blake2b(data):
    return hashlib.blake2b(data).digest()


def hmac_b2b(key, data):
    return hmac.new(key, data, hashlib.blake2b).digest()


def hkdf(ck, ikm, n):
    temp = hmac_b2b(ck, ikm)
    o1 = hmac_b2b(temp, b"\x01")
    o2 = hmac_b2b(temp, o1 + b"\x02")
    return (o1, o2) if n == 2 else (o1, o2, hmac_b2b(temp, o2 + b"\x03"))


def nonce(n):
    return b"\x00" * 4 + struct.pack("<Q", n)


def aead_enc(k, n, ad, pt):
    return nb.crypto_aead_chacha20poly1305_ietf_encrypt(pt, ad, nonce(n), k)


def aead_dec(k, n, ad, ct):
    return nb.crypto_aead_chacha20poly1305_ietf_decrypt(ct, ad, nonce(n), k)


def dh(priv, pub):
    return nb.crypto_scalarmult(priv, pub)


class Symmetric:
    def __init__(self):
        self.h = PROTOCOL.ljust(HASHLEN, b"\x00") if len(PROTOCOL) <= HASHLEN else blake2b(PROTOCOL)
        self.ck = self.h
        self.k = None
        self.n = 0

    def mix_hash(self, data):
        self.h = blake2b(self.h + data)

    def mix_key(self, ikm):
        self.ck, temp = hkdf(self.ck, ikm, 2)
        self.k = temp[:32]
        self.n = 0

    def encrypt_and_hash(self, pt):
        ct = aead_enc(self.k, self.n, self.h, pt) if self.k else pt
        self.n += 1 if self.k else 0
        self.mix_hash(ct)
        return ct

    def decrypt_and_hash(self, ct):
        pt = aead_dec(self.k, self.n, self.h, ct) if self.k else ct
        self.n += 1 if self.k else 0
        self.mix_hash(ct)
        return pt

    def split(self):
        k1, k2 = hkdf(self.ck, b"", 2)
        return k1[:32], k2[:32]


def x25519_pub(priv):
    return nb.crypto_scalarmult_base(priv)


def ik_message1(ss, s_priv, s_pub, e_priv, rs, payload):
    e_pub = x25519_pub(e_priv)
    ss.mix_hash(e_pub)
    ss.mix_key(dh(e_priv, rs))
    enc_s = ss.encrypt_and_hash(s_pub)
    ss.mix_key(dh(s_priv, rs))
    return e_pub + enc_s + ss.encrypt_and_hash(payload)


def ik_read1(ss, s_priv, msg):
    re = msg[:32]
    ss.mix_hash(re)
    ss.mix_key(dh(s_priv, re))
    rs = ss.decrypt_and_hash(msg[32:80])
    ss.mix_key(dh(s_priv, rs))
    return re, rs, ss.decrypt_and_hash(msg[80:])


def ik_message2(ss, e_priv, re, rs, payload):
    e_pub = x25519_pub(e_priv)
    ss.mix_hash(e_pub)
    ss.mix_key(dh(e_priv, re))
    ss.mix_key(dh(e_priv, rs))
    return e_pub + ss.encrypt_and_hash(payload)


def ik_read2(ss, s_priv, e_priv, msg):
    re = msg[:32]
    ss.mix_hash(re)
    ss.mix_key(dh(e_priv, re))
    ss.mix_key(dh(s_priv, re))
    return ss.decrypt_and_hash(msg[32:])


def fnv(name):
    h = 2166136261
    for c in name.encode():
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h


def header(typ, hop, plen, dst, src, call_id=0, iface=0, method=0, deadline=0, aux=0, flags=0):
    return struct.pack(">BBBBIQIIII", 1, typ, flags, hop, plen, call_id, iface, method, deadline, aux) + \
        dst[0] + struct.pack(">Q", dst[1]) + src[0] + struct.pack(">Q", src[1])


def outer(typ, payload, dst, src, hop=16):
    return header(typ, hop, len(payload), (dst, 0), (src, 0)) + payload


def sealed(k, counter, rindex, inner, dst, src, hop=16):
    plen = 12 + len(inner) + 16
    hdr = header(12, hop, plen, (dst, 0), (src, 0))
    ad = header(12, 0, plen, (dst, 0), (src, 0))
    return hdr + struct.pack(">IQ", rindex, counter) + aead_enc(k, counter, ad, inner)


def main():
    seed_a = bytes(range(0x00, 0x20))
    seed_b = bytes(range(0x20, 0x40))
    e_a = bytes(range(0x40, 0x60))   # initiator's ephemeral (X25519 private)
    e_b = bytes(range(0x60, 0x80))   # responder's ephemeral
    idx_a, idx_b = 0x11223344, 0x55667788

    id_a, sk_a = nb.crypto_sign_seed_keypair(seed_a)
    id_b, sk_b = nb.crypto_sign_seed_keypair(seed_b)
    xs_a, xp_a = nb.crypto_sign_ed25519_sk_to_curve25519(sk_a), nb.crypto_sign_ed25519_pk_to_curve25519(id_a)
    xs_b, xp_b = nb.crypto_sign_ed25519_sk_to_curve25519(sk_b), nb.crypto_sign_ed25519_pk_to_curve25519(id_b)
    assert x25519_pub(xs_a) == xp_a and x25519_pub(xs_b) == xp_b
    prologue = b"glow-e2e-v1" + id_a + id_b

    # A (initiator) and B (responder): each side computed independently.
    ia, rb = Symmetric(), Symmetric()
    for ss in (ia, rb):
        ss.mix_hash(prologue)
        ss.mix_hash(xp_b)            # <- s: the responder's static is known
    # Each side's session index is the payload of its handshake message.
    msg1 = ik_message1(ia, xs_a, xp_a, e_a, xp_b, struct.pack(">I", idx_a))
    re, rs, p1 = ik_read1(rb, xs_b, msg1)
    assert rs == xp_a and p1 == struct.pack(">I", idx_a)
    msg2 = ik_message2(rb, e_b, re, rs, struct.pack(">I", idx_b))
    assert ik_read2(ia, xs_a, e_a, msg2) == struct.pack(">I", idx_b)
    a_send, a_recv = ia.split()
    b_recv, b_send = rb.split()
    assert a_send == b_recv and a_recv == b_send and ia.h == rb.h

    init_pkt = outer(10, msg1, id_b, id_a)
    resp_pkt = outer(11, struct.pack(">I", idx_a) + msg2, id_a, id_b)
    # The CALL `glow status` would make of B, from A's first control-session endpoint.
    node_if, info_m = fnv("glow.Node"), fnv("glow.Node.Info")
    call = header(1, 16, 0, (id_b, 0), (id_a, 1 << 63), call_id=1, iface=node_if, method=info_m, deadline=10000)
    reply_payload = b"\x12\x04beta"    # NodeInfo{name: "beta"}
    reply = header(2, 16, len(reply_payload), (id_a, 1 << 63), (id_b, 0), call_id=1, iface=node_if,
                   method=info_m) + reply_payload
    sealed_call = sealed(a_send, 0, idx_b, call, id_b, id_a)
    sealed_reply = sealed(b_send, 0, idx_a, reply, id_a, id_b)
    keepalive = sealed(a_send, 1, idx_b, b"", id_b, id_a)

    def hx(b):
        return b.hex()

    out = []
    w = out.append
    w("# e2e.txt: one end-to-end session between node A and node B, byte by byte")
    w("# (docs/firefly.md section 11). Produced by tests/vectors/gen-e2e.py, an")
    w("# implementation of Noise_IK_25519_ChaChaPoly_BLAKE2b on PyNaCl that shares")
    w("# no code with src/; checked against src/router/e2e.c by")
    w("# tests/unit/test-e2e-vectors.c. Format: key: hex, one per line.")
    w("#")
    w("# Ed25519 seeds give the node IDs; the X25519 static keys are their")
    w("# conversions; the ephemerals and session indices are fixed here (a real")
    w("# node draws them at random). Packets are whole (112-byte outer header +")
    w("# payload) as the sending node's end-to-end layer emits them, before the")
    w("# router decrements hop_limit (16).")
    w("seed_a: " + hx(seed_a))
    w("seed_b: " + hx(seed_b))
    w("node_a: " + hx(id_a))
    w("node_b: " + hx(id_b))
    w("x25519_static_a: " + hx(xp_a))
    w("x25519_static_b: " + hx(xp_b))
    w("ephemeral_priv_a: " + hx(e_a))
    w("ephemeral_priv_b: " + hx(e_b))
    w("index_a: %08x" % idx_a)
    w("index_b: %08x" % idx_b)
    w("prologue: " + hx(prologue))
    w("# E2E_INIT, A -> B: IK message 1: e || encrypted s || encrypted payload u32 index_a")
    w("e2e_init: " + hx(init_pkt))
    w("# E2E_RESP, B -> A: u32 index_a (in clear: A finds its handshake) || IK message 2: e || encrypted payload u32 index_b")
    w("e2e_resp: " + hx(resp_pkt))
    w("handshake_hash: " + hx(ia.h))
    w("key_a_to_b: " + hx(a_send))
    w("key_b_to_a: " + hx(b_send))
    w("# The inner CALL (glow.Node.Info from glow://A/2^63 to glow://B/0) and B's REPLY")
    w("inner_call: " + hx(call))
    w("inner_reply: " + hx(reply))
    w("# SEALED A -> B, counter 0, the CALL; SEALED B -> A, counter 0, the REPLY;")
    w("# SEALED A -> B, counter 1, empty plaintext (a keepalive)")
    w("sealed_call: " + hx(sealed_call))
    w("sealed_reply: " + hx(sealed_reply))
    w("sealed_keepalive: " + hx(keepalive))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "e2e.txt")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
