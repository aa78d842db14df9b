#!/usr/bin/env python3
"""An independent check of the vectors, written only from docs/protocol.md.

Needs Python 3 and the 'cryptography' package. Not run by ctest (the C test
test_vectors does that); it exists to show that a second implementation, in
another language, with its own protobuf encoder, gets the same bytes.

Usage: python3 tests/vectors/check_vectors.py [tests/vectors]
"""
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

RAW = serialization.Encoding.Raw


def varint(v):
    v &= (1 << 64) - 1  # negative int32/int64 are sent as 10-byte two's complement
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(num, v):
    """proto3: a zero value is not written."""
    return varint(num << 3) + varint(v) if v else b""


def f_bytes(num, b):
    if isinstance(b, str):
        b = b.encode()
    return varint(num << 3 | 2) + varint(len(b)) + b if b else b""


def envelope_bytes(e):
    return b"".join([
        f_varint(1, e["version"]), f_bytes(2, e["sender"]), f_bytes(3, e["sender_instance"]),
        f_bytes(4, e["key_id"]), f_varint(5, e["seq"]), f_varint(6, e["sent_ms"]),
        f_varint(7, e["type_value"]), f_bytes(8, e["msg_id"]), f_bytes(9, e["correlation_id"]),
        f_bytes(10, e["recipient"]), f_bytes(11, bytes.fromhex(e["payload_hex"]))])


def member_bytes(m):
    services = b"".join(
        f_bytes(7, f_bytes(1, s["name"]) + f_bytes(2, s["endpoint"]) + f_bytes(3, s["pub_endpoint"]))
        for s in m["services"])
    return b"".join([
        f_bytes(1, m["id"]), f_bytes(2, m["agency"]), f_bytes(3, m["role"]), f_bytes(4, m["name"]),
        f_bytes(5, bytes.fromhex(m["sign_pk"])), f_bytes(6, bytes.fromhex(m["curve_pk"])), services,
        b"".join(f_bytes(8, r) for r in m["may_send"]), f_bytes(9, m["ticket_prefix"]),
        f_bytes(10, m["area"])])


def registry_bytes(d):
    return b"".join([
        f_varint(1, d["version"]), f_varint(2, d["issued_ms"]), f_bytes(3, d["mesh"]),
        b"".join(f_bytes(4, member_bytes(m)) for m in d["members"]),
        b"".join(f_bytes(5, k) for k in d["revoked_keys"])])


# ---- the layout rules of section 6 (checks 1 to 4), on the bytes as received ----

MAX_MSG = 4194304
PROTO_VERSION = 3  # Envelope.version sent (CPM_PROTO_VERSION)
PROTO_VERSIONS = (2, 3)  # taken by a receiver (section 4)


def sig_input(version, eb):
    """Section 5: what an envelope of this version is signed over."""
    if version == 2:
        return b"CPMESH-ENVELOPE-V1\0" + eb
    return b"CPMESH-ENVELOPE-V3\0" + hashlib.blake2b(eb, digest_size=64).digest()


def env_version(eb):
    """Field 1 of the envelope bytes (a varint; absent is 0)."""
    return {n: v for n, _, v in wire_fields(eb)}.get(1, 0)
VARINT_FIELDS = {1, 5, 6, 7}  # version, seq, sent_ms, type
STRING_FIELDS = {2, 3, 4, 8, 9, 10}  # sender ... recipient; 11 (payload) is bytes


class Malformed(Exception):
    pass


def read_varint(b, i):
    """At most 10 bytes, non-minimal forms allowed; the value is taken mod 2^64."""
    v = 0
    for k in range(10):
        if i >= len(b):
            raise Malformed("varint runs past the end")
        x = b[i]
        i += 1
        v |= (x & 0x7F) << (7 * k)
        if not x & 0x80:
            return v & ((1 << 64) - 1), i
    raise Malformed("varint of more than 10 bytes")


def wire_fields(b):
    """(number, wire type, value) of each top-level field; Malformed on bad wire data."""
    i, out = 0, []
    while i < len(b):
        tag, i = read_varint(b, i)
        num, wt = tag >> 3, tag & 7
        if num < 1 or num > (1 << 29) - 1:
            raise Malformed("field number %d" % num)
        if wt == 0:
            val, i = read_varint(b, i)
        elif wt in (1, 5):
            n = 8 if wt == 1 else 4
            if len(b) - i < n:
                raise Malformed("fixed field runs past the end")
            val, i = int.from_bytes(b[i:i + n], "little"), i + n
        elif wt == 2:
            n, i = read_varint(b, i)
            if n > len(b) - i:
                raise Malformed("length past the end")
            val, i = b[i:i + n], i + n
        else:
            raise Malformed("wire type %d" % wt)
        out.append((num, wt, val))
    return out


def read_layout(frame):
    """Checks 2 and 3: the fixed layouts of SignedEnvelope and Envelope.
    Returns (envelope fields by number, envelope bytes, signature)."""
    outer = {}
    for num, wt, val in wire_fields(frame):
        if num not in (1, 2) or wt != 2 or num in outer:
            raise Malformed("SignedEnvelope field %d, wire type %d" % (num, wt))
        outer[num] = val
    env = {}
    for num, wt, val in wire_fields(outer.get(1, b"")):
        if not 1 <= num <= 11 or num in env or wt != (0 if num in VARINT_FIELDS else 2):
            raise Malformed("Envelope field %d, wire type %d" % (num, wt))
        if num in STRING_FIELDS:
            if 0 in val:
                raise Malformed("Envelope field %d holds a zero byte" % num)
            try:
                val.decode("utf-8")  # strict: no overlong forms, surrogates, > U+10FFFF
            except UnicodeDecodeError:
                raise Malformed("Envelope field %d is not UTF-8" % num)
        env[num] = val
    return env, outer.get(1, b""), outer.get(2, b"")


def early_verdict(frame):
    """The verdict of checks 1 to 4b of section 6, or None when the frame passes them."""
    if len(frame) > MAX_MSG:
        return "oversize"
    try:
        env, _, _ = read_layout(frame)
    except Malformed:
        return "malformed"
    if env.get(1, 0) not in PROTO_VERSIONS:
        return "bad_version"
    if not 1 <= len(env.get(3, b"")) <= 63:
        return "malformed"
    return None


def apply_edit(c, target, b):
    """A layout case's edit (README.md): at offset, delete bytes, insert bytes."""
    ed = c.get("edit")
    if not ed or ed["target"] != target:
        return b
    off, n = ed["offset"], ed["delete"]
    check(0 <= off and off + n <= len(b), c["name"] + " edit offset")
    return b[:off] + bytes.fromhex(ed["insert_hex"]) + b[off + n:]


def check(cond, what):
    if not cond:
        sys.exit("MISMATCH: " + what)


def check_exchange(vdir, reg):
    """exchange.json (docs/protocol.md 19.5, 19.6), from the text alone."""
    path = os.path.join(vdir, "exchange.json")
    if not os.path.exists(path):
        return 0
    x = json.load(open(path))
    pk_of = {m["id"]: bytes.fromhex(m["sign_pk"]) for m in reg["document"]["members"]}
    link = lambda prev, c: hashlib.sha256(b"CPMESH-XLOG-V1\0" + prev + c).digest()
    prev = bytes(32)
    for e in x["log"]:
        body = bytes.fromhex(e["body_hex"])
        f = {n: v for n, _, v in wire_fields(body)}
        check(f[1] == e["seq"] and f[3].decode() == e["kind"], "log entry %d fields" % e["seq"])
        c = hashlib.sha256(body).digest()
        check(c.hex() == e["content_hex"], "log %d content" % e["seq"])
        check(prev.hex() == e["prev_hash_hex"], "log %d prev_hash" % e["seq"])
        prev = link(prev, c)
        check(prev.hex() == e["hash_hex"], "log %d hash" % e["seq"])
    cp = x["checkpoint"]
    frame = bytes.fromhex(cp["frame_hex"])
    outer = {n: v for n, _, v in wire_fields(frame)}
    envb, sig = outer[1], outer[2]
    Ed25519PublicKey.from_public_bytes(pk_of[cp["agency"]]).verify(
        sig, sig_input(env_version(envb), envb))
    ef = {n: v for n, _, v in wire_fields(envb)}
    check(ef[2].decode() == cp["agency"] and ef[7] == 104, "checkpoint envelope sender/type")
    pf = {n: v for n, _, v in wire_fields(ef[11])}
    check(pf[1].decode() == cp["agency"] and pf[2] == cp["seq"] and pf[3] == prev,
          "checkpoint payload names the head")
    co = x["cosignature"]
    signed = b"CPMESH-XCOSIGN-V1\0" + frame + co["at_ms"].to_bytes(8, "big", signed=True)
    check(signed.hex() == co["signed_bytes_hex"], "cosignature signed bytes")
    Ed25519PublicKey.from_public_bytes(pk_of[co["cosigner"]]).verify(
        bytes.fromhex(co["signature_hex"]), signed)
    # the evidence: registry as in registry.json, the record, the chain to the head
    ev = {}
    for n, _, v in wire_fields(bytes.fromhex(x["evidence"]["file_hex"])):
        ev.setdefault(n, []).append(v)
    check(ev[1] == [1], "evidence version")
    check(ev[2][0].hex() == reg["signed_registry_hex"], "evidence registry")
    rec = {n: v for n, _, v in wire_fields(ev[3][0])}
    h = link(rec[2], hashlib.sha256(rec[1]).digest())
    check(h == rec[3], "evidence record hash")
    for c in ev.get(4, []):
        h = link(h, c)
    scp = {}
    for n, _, v in wire_fields(ev[5][0]):
        scp.setdefault(n, []).append(v)
    check(scp[1][0] == frame and h == prev, "evidence links the entry to the checkpoint head")
    return len(x["log"])

def check_checkpoints(vdir):
    """checkpoints.json (docs/protocol.md section 20): the range digest, the
    EventCheckpoint and Envelope bytes built here, and the signature."""
    c = json.load(open(os.path.join(vdir, "checkpoints.json")))
    priv = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(c["seed_hex"]))
    pk = priv.public_key().public_bytes(RAW, serialization.PublicFormat.Raw)
    check(pk.hex() == c["sign_pk_hex"], "checkpoint signer")
    d = hashlib.sha256(b"CPM-EVRANGE-V1\0" + b"".join(bytes.fromhex(h)
                                                      for h in c["range_hashes_hex"])).digest()
    check(d.hex() == c["range_digest_hex"], "checkpoint range digest")
    head = bytes.fromhex(c["head_hash_hex"])
    payload = b"".join([f_bytes(1, c["node"]), f_bytes(2, c["service"]), f_varint(3, c["seq"]),
                        f_bytes(4, head), f_varint(5, c["at_ms"]), f_varint(6, c["range_from"]),
                        f_bytes(7, d)])
    eb = envelope_bytes({"version": PROTO_VERSION, "sender": c["node"],
                         "sender_instance": c["service"] + ".ckpt", "key_id": c["key_id"],
                         "seq": c["seq"], "sent_ms": c["at_ms"], "type_value": 110,
                         "msg_id": head[:16].hex(), "correlation_id": "", "recipient": "*",
                         "payload_hex": payload.hex()})
    sig = priv.sign(sig_input(PROTO_VERSION, eb))
    check((f_bytes(1, eb) + f_bytes(2, sig)).hex() == c["frame_hex"], "checkpoint frame")
    return 1


# ---- group receipts (docs/protocol.md 26), from the text alone ----

def leaf_hash(b):
    return hashlib.sha256(b"\x00" + b).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(hs):
    if len(hs) == 1:
        return hs[0]
    k = split(len(hs))
    return node_hash(mth(hs[:k]), mth(hs[k:]))


def audit_path(m, hs):
    if len(hs) == 1:
        return []
    k = split(len(hs))
    if m < k:
        return audit_path(m, hs[:k]) + [mth(hs[k:])]
    return audit_path(m - k, hs[k:]) + [mth(hs[:k])]


def path_holds(lh, index, size, path, root):
    """26.3: RFC 9162 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, lh
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


class Refused(Exception):
    def __init__(self, field):
        Exception.__init__(self, field)
        self.field = field


def only_known(b, known):
    """Fields of a message, each of a known number and wire type (repeated ones in lists)."""
    out = {}
    try:
        fields = wire_fields(b)
    except Malformed:
        return None
    for num, wt, val in fields:
        if num not in known or known[num][0] != wt:
            return None
        if known[num][1]:
            out.setdefault(num, []).append(val)
        else:
            out[num] = val
    return out


GROUP_ROOT = {1: (2, False), 2: (0, False), 3: (0, False)}
PROOFS = {1: (2, True)}
PROOF = {1: (2, False), 2: (0, False), 3: (2, True)}
LEAF = {1: (2, False), 2: (2, False), 3: (0, False), 4: (0, False), 5: (2, False), 6: (2, False)}


def receipt_layout(frame):
    """26.4: fields 1, 2, 3 in this order, each once; the bytes before field 3."""
    try:
        fields, i, last, cut = [], 0, 0, len(frame)
        while i < len(frame):
            start = i
            tag, i = read_varint(frame, i)
            n, i = read_varint(frame, i)
            if tag & 7 != 2 or not last < tag >> 3 <= 3 or n > len(frame) - i:
                raise Refused("frame")
            last = tag >> 3
            if last == 3:
                cut = start
            fields.append((last, frame[i:i + n]))
            i += n
    except Malformed:
        raise Refused("frame")
    f = dict(fields)
    return f.get(1, b""), f.get(2, b""), f.get(3), frame[:cut]


def open_proofs(env, proofs_b, max_count, self_addr):
    """26.5 steps 3 to 5 on a verified envelope (fields by number)."""
    if env.get(7) != 15:
        raise Refused("envelope.type")
    if env.get(10, b"") != b"*":
        raise Refused("envelope.recipient")
    gr = only_known(env.get(11, b""), GROUP_ROOT)
    if gr is None:
        raise Refused("group_root")
    root, size = gr.get(1, b""), gr.get(2, 0)
    if len(root) != 32:
        raise Refused("group_root.root")
    if not 1 <= size <= 65536:
        raise Refused("group_root.size")
    ps = only_known(proofs_b or b"", PROOFS) if proofs_b else None
    if ps is None or not 1 <= len(ps.get(1, [])) <= min(size, max_count):
        raise Refused("proofs")
    out, prev = [], -1
    for i, pb in enumerate(ps[1]):
        p = only_known(pb, PROOF)
        if p is None:
            raise Refused("proofs")
        index, path, leaf = p.get(2, 0), p.get(3, []), p.get(1, b"")
        if index >= size or index <= prev:
            raise Refused("proofs[%d].index" % i)
        prev = index
        if len(path) > 32 or any(len(h) != 32 for h in path):
            raise Refused("proofs[%d].path" % i)
        if not path_holds(leaf_hash(leaf), index, size, path, root):
            raise Refused("proofs[%d].path" % i)
        lf = only_known(leaf, LEAF)
        if lf is None:
            raise Refused("proofs[%d].leaf" % i)
        if lf.get(4, 0) not in (2, 11):
            raise Refused("proofs[%d].leaf.type" % i)
        if len(lf.get(6, b"")) != 32:
            raise Refused("proofs[%d].leaf.item_hash" % i)
        if not lf.get(2):
            raise Refused("proofs[%d].leaf.correlation_id" % i)
        rcpt = lf.get(1, b"")
        if (self_addr is not None and rcpt != self_addr.encode()) or not rcpt:
            raise Refused("proofs[%d].leaf.recipient" % i)
        out.append((index, lf))
    return gr, out


def third_party(frame, reg):
    """26.6: a stand-alone proof with the registry alone; returns (signer, leaf fields)."""
    eb, sig, proofs_b, prefix = receipt_layout(frame)
    try:
        env, _, _ = read_layout(prefix)
    except Malformed:
        raise Refused("frame")
    member = next((m for m in reg["document"]["members"]
                   if m["id"].encode() == env.get(2, b"")), None)
    if member is None:
        raise Refused("envelope.sender")
    if hashlib.sha256(bytes.fromhex(member["sign_pk"])).digest()[:8].hex().encode() != env.get(4):
        raise Refused("envelope.key_id")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(member["sign_pk"])).verify(
            sig, sig_input(env.get(1, 0), eb))
    except Exception:
        raise Refused("signature")
    # 26.6 step 4 (after type and recipient): sealed by intake.reply of a member running intake.
    if env.get(7) == 15 and env.get(10, b"") == b"*":
        if env.get(3, b"") != b"intake.reply":
            raise Refused("envelope.sender_instance")
        if not any(s["name"] == "intake" for s in member.get("services", [])):
            raise Refused("envelope.sender")
    gr, items = open_proofs(env, proofs_b, 1, None)
    return member["id"], gr, items[0][1]


def check_receipts(vdir, sk, reg):
    doc = json.load(open(os.path.join(vdir, "receipts.json")))
    t = doc["trees"]
    lhs = [leaf_hash(s.encode()) for s in t["leaves"]]
    check([h.hex() for h in lhs] == t["leaf_hashes_hex"], "receipts: leaf hashes")
    npaths = 0
    for tree in t["trees"]:
        n = tree["size"]
        root = mth(lhs[:n])
        check(root.hex() == tree["root_hex"], "receipts: root of %d" % n)
        for i in range(n):
            p = audit_path(i, lhs[:n])
            check([h.hex() for h in p] == tree["paths_hex"][i], "receipts: path %d of %d" % (i, n))
            check(path_holds(lhs[i], i, n, p, root), "receipts: path %d of %d holds" % (i, n))
            check(not path_holds(lhs[i], i, n, p[:-1], root) if p else True, "short path")
            npaths += 1

    g = doc["group"]
    lbs = []
    for lf in g["leaves"]:
        pl = lf["payload"]
        if lf["type"] == "MSG_ERROR":
            pb = f_varint(1, pl["code"]) + f_bytes(2, pl["field"]) + f_bytes(3, pl["message"]) + \
                f_varint(4, int(pl["retryable"]))
        else:
            pb = f_bytes(1, pl["ticket"]) + f_varint(2, int(pl["duplicate"])) + \
                f_bytes(3, pl["lookup_code"])
        check(pb.hex() == lf["payload_hex"], "receipts: leaf %d payload" % lf["index"])
        ih = hashlib.sha256(lf["item_text"].encode()).digest()
        check(ih.hex() == lf["item_hash_hex"], "receipts: leaf %d item hash" % lf["index"])
        lb = f_bytes(1, lf["recipient"]) + f_bytes(2, lf["correlation_id"]) + \
            f_varint(3, lf["item"]) + f_varint(4, lf["type_value"]) + f_bytes(5, pb) + f_bytes(6, ih)
        check(lb.hex() == lf["leaf_hex"], "receipts: leaf %d bytes" % lf["index"])
        check(leaf_hash(lb).hex() == lf["leaf_hash_hex"], "receipts: leaf %d hash" % lf["index"])
        lbs.append(lb)
    hs = [leaf_hash(b) for b in lbs]
    root = mth(hs)
    check(root.hex() == g["root_hex"], "receipts: group root")
    grb = f_bytes(1, root) + f_varint(2, len(lbs)) + f_varint(3, g["committed_ms"])
    check(grb.hex() == g["group_root_hex"], "receipts: GroupRoot bytes")
    check(g["envelope"]["payload_hex"] == grb.hex(), "receipts: envelope payload")
    eb = envelope_bytes(g["envelope"])
    check(eb.hex() == g["envelope_hex"], "receipts: envelope bytes")
    sig = sk[g["signer"]].sign(sig_input(g["envelope"]["version"], eb))
    check(sig.hex() == g["signature_hex"], "receipts: signature")
    prefix = f_bytes(1, eb) + f_bytes(2, sig)
    check(prefix.hex() == g["signed_envelope_hex"], "receipts: signed envelope")

    def proofs_bytes(idx):
        return b"".join(f_bytes(1, f_bytes(1, lbs[i]) + f_varint(2, i) +
                                b"".join(f_bytes(3, h) for h in audit_path(i, hs)))
                        for i in idx)

    mine = [it["index"] for it in g["items"]]
    pb = proofs_bytes(mine)
    check(pb.hex() == g["proofs_hex"], "receipts: proofs")
    frame = prefix + f_bytes(3, pb)
    check(frame.hex() == g["frame_hex"], "receipts: frame")
    # The client: the layout, section 6 on the prefix, then 26.5.
    eb2, _, proofs_b, pre = receipt_layout(frame)
    check(pre == prefix and early_verdict(frame) == "malformed", "receipts: prefix")
    env, _, _ = read_layout(pre)
    _, items = open_proofs(env, proofs_b, 1 << 16, g["self"])
    check([(i, lf.get(2).decode(), lf.get(3, 0)) for i, lf in items] ==
          [(it["index"], it["correlation_id"], it["item"]) for it in g["items"]], "receipts: items")

    p = doc["proof"]
    pf = prefix + f_bytes(3, proofs_bytes([p["leaf"]]))
    check(pf.hex() == p["frame_hex"], "receipts: stand-alone proof frame")
    signer, gr, leaf = third_party(pf, reg)
    check(signer == p["signer"] and gr.get(3) == p["committed_ms"], "receipts: proof signer")
    check(leaf.get(3, 0) == g["leaves"][p["leaf"]]["item"], "receipts: proof leaf")

    for r in doc["refusals"]:
        f = bytes.fromhex(r["frame_hex"])
        check(early_verdict(f) == r["verifier_whole_frame"], r["name"] + ": whole-frame verdict")
        try:
            if r["by"] == "open":
                _, _, proofs_b, pre = receipt_layout(f)
                env, _, _ = read_layout(pre)
                open_proofs(env, proofs_b, 1 << 16, r["self"])
            else:
                third_party(f, reg)
            got = None
        except Refused as e:
            got = e.field
        check(got == r["field"], "%s: refused with %s, the vector says %s" %
              (r["name"], got, r["field"]))
    return npaths, len(doc["refusals"])


def main():
    vdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    load = lambda n: json.load(open(os.path.join(vdir, n)))
    keys, reg, env, events = (load("keys.json"), load("registry.json"), load("envelopes.json"),
                              load("events.json"))

    sk = {}
    for i in keys["identities"]:
        seed = bytes.fromhex(i["seed"])
        priv = Ed25519PrivateKey.from_private_bytes(seed)
        pk = priv.public_key().public_bytes(RAW, serialization.PublicFormat.Raw)
        check(pk.hex() == i["sign_pk"], i["id"] + " sign_pk")
        check((seed + pk).hex() == i["sign_sk"], i["id"] + " sign_sk")
        check(hashlib.sha256(pk).digest()[:8].hex() == i["key_id"], i["id"] + " key_id")
        csk = hashlib.sha256(b"CPMESH-CURVE-SEED\0" + seed).digest()
        check(csk.hex() == i["curve_sk"], i["id"] + " curve_sk")
        cpk = X25519PrivateKey.from_private_bytes(csk).public_key().public_bytes(
            RAW, serialization.PublicFormat.Raw)
        check(cpk.hex() == i["curve_pk"], i["id"] + " curve_pk")
        sk[i["id"]] = priv

    rb = registry_bytes(reg["document"])
    check(rb.hex() == reg["registry_hex"], "registry bytes")
    sig = sk[reg["root"]].sign(b"CPMESH-REGISTRY-V1\0" + rb)
    check(sig.hex() == reg["signature_hex"], "registry signature")
    check((f_bytes(1, rb) + f_bytes(2, sig)).hex() == reg["signed_registry_hex"], "signed registry")

    prev = bytes(32)
    for e in events["events"]:
        body = prev + e["seq"].to_bytes(8, "big") + e["at_ms"].to_bytes(8, "big", signed=True)
        # version 2: typed fields; state is a CaseState number between the strings
        for k in ("kind", "ticket", "agency", "area", "category", "state", "rule", "actor", "note"):
            if k == "state":
                body += e[k].to_bytes(4, "big")
                continue
            s = e[k].encode()
            body += len(s).to_bytes(4, "big") + s
        if "business" in e:  # a record-carrying event: the "R1" tail (cpm_eventlog.h)
            body += b"R1"
            for k in ("business", "address", "violation", "fine_vnd", "tax_code", "inspection",
                      "channel", "outcome"):
                if k == "fine_vnd":
                    body += e[k].to_bytes(8, "big", signed=True)
                elif k == "outcome":
                    body += e[k].to_bytes(4, "big")
                else:
                    s = e[k].encode()
                    body += len(s).to_bytes(4, "big") + s
        if "category_by" in e:  # the suggestion fields: the "R2" tail (cpm_eventlog.h)
            body += b"R2"
            for k in ("product", "suggested", "suggestion_pm", "category_by"):
                if k == "suggestion_pm":
                    body += e[k].to_bytes(4, "big")
                else:
                    s = e[k].encode()
                    body += len(s).to_bytes(4, "big") + s
        check(body.hex() == e["hash_input_hex"], "event %d hash input" % e["seq"])
        check(e["prev_hash_hex"] == prev.hex(), "event %d prev_hash" % e["seq"])
        prev = hashlib.sha256(body).digest()
        check(prev.hex() == e["hash_hex"], "event %d hash" % e["seq"])

    n = n_layout = 0
    for c in env["cases"]:
        if "envelope" not in c:
            if "frame" in c:
                frame = bytes.fromhex(c["frame"]["fill_hex"]) * c["frame"]["length"]
            else:
                frame = bytes.fromhex(c["frame_hex"])
            v = early_verdict(frame)
            check(v == c["expect"][0], "%s: checks 1 to 4 give %s" % (c["name"], v))
            continue
        eb = apply_edit(c, "envelope", envelope_bytes(c["envelope"]))
        check(eb.hex() == c["envelope_hex"], c["name"] + " envelope bytes")
        # A case signs the way signed_as says: as its version says, or the
        # other version's way on purpose (its verdict is then bad_signature).
        check(c["signed_as"] in (2, 3), c["name"] + " signed_as is 2 or 3")
        si = sig_input(c["signed_as"], eb)
        check(si.hex() == c["signature_input_hex"], c["name"] + " signature input")
        check(c["signed_as"] == c["envelope"]["version"] or c["envelope"]["version"] not in (2, 3)
              or c["expect"][0] == "bad_signature",
              c["name"] + " signed the other version's way but not bad_signature")
        sig = sk[c["signer"]].sign(si)
        check(sig.hex() == c["signature_hex"], c["name"] + " signature")
        frame = bytearray(f_bytes(1, eb) + f_bytes(2, sig))
        if c["mutation"]:
            frame[c["mutation"]["frame_offset"]] ^= int(c["mutation"]["xor"], 16)
        frame = apply_edit(c, "frame", bytes(frame))
        check(frame.hex() == c["frame_hex"], c["name"] + " frame")
        # Checks 1 to 4 (size, layout, version) give the vector's verdict when
        # it is one of theirs, and pass every other frame.
        v = early_verdict(frame)
        want = c["expect"][0] if c["expect"][0] in ("oversize", "malformed", "bad_version") else None
        check(v == want, "%s: checks 1 to 4 give %s, the vector says %s" %
              (c["name"], v, c["expect"][0]))
        n_layout += "edit" in c
        # A receiver checks the signature with the registered key of the sender;
        # a layout case is signed properly, so only its layout is wrong.
        if c["expect"][0] == "ok" or "edit" in c:
            member = next(m for m in reg["document"]["members"]
                          if m["id"] == c["envelope"]["sender"])
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(member["sign_pk"])).verify(sig, si)
        n += 1
    nck = check_checkpoints(vdir)
    print("vectors agree: %d identities, registry, %d events, %d envelopes (%d layout cases), "
          "%d checkpoint" % (len(keys["identities"]), len(events["events"]), n, n_layout, nck))
    nx = check_exchange(vdir, reg)
    print("exchange vectors agree: %d log entries, checkpoint, cosignature, evidence" % nx)
    npaths, nref = check_receipts(vdir, sk, reg)
    print("receipt vectors agree: %d tree paths, group frame, stand-alone proof, %d refusals" %
          (npaths, nref))


if __name__ == "__main__":
    main()
