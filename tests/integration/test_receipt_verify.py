#!/usr/bin/env python3
"""cpmctl receipt verify FILE (docs/protocol.md 26.6): the stand-alone proof of
tests/vectors/receipts.json checked against a home holding only the vectors'
signed registry and root key (a third party: no identity, no mesh running);
every refusal of the vectors, the two-proof frame and a forged signature exit 1
with a sentence naming the field."""
import json
import os
import shutil
import subprocess
import tempfile

from mesh import CTL, ROOT, check, run

VEC = os.path.join(ROOT, "tests", "vectors")


def load(name):
    with open(os.path.join(VEC, name)) as f:
        return json.load(f)


def third_party_home():
    """A home with keys/root.public and registry.signed from the vectors."""
    home = tempfile.mkdtemp(prefix="cpmesh-receipt-")
    keys, reg = load("keys.json"), load("registry.json")
    root = next(i for i in keys["identities"] if i["id"] == reg["root"])
    os.makedirs(os.path.join(home, "keys"))
    with open(os.path.join(home, "keys", "root.public"), "w") as f:
        json.dump({k: root[k] for k in ("id", "key_id", "sign_pk", "curve_pk")}, f)
    with open(os.path.join(home, "registry.signed"), "wb") as f:
        f.write(bytes.fromhex(reg["signed_registry_hex"]))
    return home


def verify(home, frame_hex, *extra):
    path = os.path.join(home, "proof.bin")
    with open(path, "wb") as f:
        f.write(bytes.fromhex(frame_hex))
    env = dict(os.environ, CPMESH_HOME=home)
    env.pop("CPMESH_AS", None)
    return subprocess.run([CTL, *extra, "receipt", "verify", path], capture_output=True,
                          text=True, env=env, timeout=60)


def test_proof_holds():
    home = third_party_home()
    try:
        doc = load("receipts.json")
        p, g = doc["proof"], doc["group"]
        leaf = g["leaves"][p["leaf"]]
        r = verify(home, p["frame_hex"])
        check(r.returncode == 0, "the vector's proof holds: %s" % r.stderr)
        out = r.stdout
        check("proof        holds" in out, "says it holds: %r" % out)
        check("hn.doit" in out, "names the signer: %r" % out)
        # committed_ms = 2026-01-01T00:00:00.499Z = 07:00:00 in Vietnam
        check("2026-01-01 07:00:00 +07 Asia/Ho_Chi_Minh" in out, "commit time in VN: %r" % out)
        check(leaf["payload"]["message"] in out and leaf["payload"]["field"] in out,
              "the item's error: %r" % out)
        check(leaf["item_hash_hex"] in out, "the item hash: %r" % out)
        check("key          current" in out, "the key's standing: %r" % out)
        r = verify(home, p["frame_hex"], "--json")
        check(r.returncode == 0, "--json holds too: %s" % r.stderr)
        j = json.loads(r.stdout)
        check(j["ok"] and j["signer"] == "hn.doit" and j["committed_ms"] == p["committed_ms"],
              "json signer and time: %r" % j)
        check(j["zone"] == "Asia/Ho_Chi_Minh" and j["item"] == leaf["item"], "json: %r" % j)
        check(j["error"]["field"] == leaf["payload"]["field"] and j["item_hash"] ==
              leaf["item_hash_hex"], "json answer: %r" % j)
        check(j["recipient"] == g["self"] and j["type"] == "error", "json recipient: %r" % j)
        check(j["key_standing"] == "current", "json key standing: %r" % j)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_refusals_name_the_field():
    home = third_party_home()
    try:
        doc = load("receipts.json")
        cases = [(r["name"], r["frame_hex"], r["field"]) for r in doc["refusals"]
                 if r["by"] == "check"]
        cases.append(("two proofs", doc["group"]["frame_hex"], "proofs"))
        forged = bytearray.fromhex(doc["proof"]["frame_hex"])
        # 0a <length: 2 varint bytes> envelope 12 40 signature
        sig_at = 3 + len(bytes.fromhex(doc["group"]["envelope_hex"])) + 2
        forged[sig_at + 5] ^= 0x10
        cases.append(("forged signature", forged.hex(), "signature"))
        for name, frame_hex, field in cases:
            r = verify(home, frame_hex)
            check(r.returncode == 1, "%s: exit 1, not %d" % (name, r.returncode))
            check(("in " + field + ":") in r.stderr, "%s: names %s: %r" % (name, field, r.stderr))
            r = verify(home, frame_hex, "--json")
            j = json.loads(r.stdout)
            check(r.returncode == 1 and not j["ok"] and j["field"] == field,
                  "%s: json names %s: %r" % (name, field, j))
        r = verify(home, "")
        check(r.returncode == 1 and "envelope.version" in r.stderr,
              "an empty file is refused: %r" % r.stderr)
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    run([test_proof_holds, test_refusals_name_the_field])
