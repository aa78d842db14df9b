#!/usr/bin/env python3
"""Key history against a real mesh (docs/protocol.md 13.1).

An officer's act, made while their key was current and delivered to routing
only after the registry rotated that key, is accepted and recorded as signed
by a rotated key; the officer's new key works on the wire at once. An act
forged with the old key and dated after the rotation, delivered by the agency
node to routing, is refused, counted (signed_acts.refused) and logged naming
the field. Forged acts are signed by tests/tools/cpm_sign_act and delivered by
tests/tools/cpm_deliver ($CPM_BUILD).
"""
import json
import os
import re
import shutil
import subprocess
import time

from mesh import BUILD, Mesh, check, run
from test_registry import resign, with_version

SIGN_ACT = os.path.join(BUILD, "cpm_sign_act")
DELIVER = os.path.join(BUILD, "cpm_deliver")
COORD = "coordinator.hn.doit"
AREA = "hn.d.hoan-kiem"
HK = "officer.hn.d.hoan-kiem"
ACCEPTED = 4  # CaseState CASE_STATE_ACCEPTED


def field(num, value):
    """One protobuf field: bytes/str as length-delimited, int as varint."""
    def varint(n):
        out = b""
        while True:
            b, n = n & 0x7F, n >> 7
            out += bytes([b | (0x80 if n else 0)])
            if not n:
                return out
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + value


def submit(m, business, ref):
    return m.ctl("submit", "--channel", "hotline", "--business", business, "--area",
                 "hoan-kiem", "--category", "food_safety", "--description",
                 "sick after lunch", "--phone", "0912 333 444", "--ref", ref).json[0]["ticket"]


def state_of(m, t):
    r = m.ctl("status", t, as_=COORD, check_rc=False)
    return r.json[0].get("state") if r.returncode == 0 and r.json else None


def entry(m, t, state):
    hs = [h for h in m.status(t)["history"] if h["state"] == state]
    check(len(hs) == 1, "one %s entry: %s" % (state, hs))
    return hs[0]


def key_id(m, member):
    with open(os.path.join(m.home, "keys", member + ".public")) as f:
        return json.load(f)["key_id"]


def counter(m, name):
    h = m.health("hn.doit").get(("hn.doit", "routing"), {})
    return h.get("counters", {}).get(name, 0)


def rotate(m, member, reason="rotated: tablet replaced"):
    """What an operator does (docs/operations.md, "Rotating or revoking a
    member's key"): keep the old .public, make a new key, name the old one in
    past_keys with valid_until = now, re-sign a newer registry. The old secret
    is kept aside for the forgery test. Returns (rotation ms, new version)."""
    keys = os.path.join(m.home, "keys")
    old = os.path.join(m.home, "old")
    os.makedirs(old, exist_ok=True)
    shutil.copy(os.path.join(keys, member + ".secret"), old)
    shutil.copy(os.path.join(keys, member + ".public"), os.path.join(keys, member + ".old.public"))
    m.ctl("keygen", "--id", member, "--force")
    at = int(time.time() * 1000)
    src = os.path.join(m.home, "etc", "registry.yaml")
    text = open(src).read()
    line = "    public_key: ../keys/%s.public\n" % member
    check(line in text, "member %s in the registry source" % member)
    text = text.replace(line, line + (
        "    past_keys:\n"
        "      - public_key: ../keys/%s.old.public\n"
        "        valid_until: \"%d\"\n"
        "        reason: \"%s\"\n") % (member, at, reason))
    v = int(re.search(r"(?m)^version: (\d+)", text).group(1)) + 1
    r = resign(m, with_version(m, text, v))
    check(r.returncode == 0, "re-signed with the rotation: %s %s" % (r.stdout, r.stderr))
    return at, v


def test_act_before_rotation_accepted_after_it():
    with Mesh(areas=("hoan-kiem",)) as m:
        t = submit(m, "Pho Rotated", "kh-1")
        m.wait_for(lambda: state_of(m, t) == "assigned", "assignment of " + t)
        old_kid = key_id(m, HK)
        at = entry(m, t, "assigned")["at_ms"] + 1
        # Routing is away: the officer's act waits in the agency node's outbox.
        m.kill("hn.doit", "routing")
        while time.time() * 1000 <= at:
            time.sleep(0.05)
        r = m.ctl("case", "accept", t, "--client-id", "tablet-7.0001", "--acted-ms", str(at),
                  as_=HK)
        check(r.json[0]["state"] == "accepted", "the agency took the act: %s" % r.json)
        # The registry rotates the officer's key before routing hears of it.
        rot, v = rotate(m, HK)
        check(rot > at, "the rotation is after the act")
        m.wait_for(lambda: all(h.get("registry_version") == v
                               for (n, s), h in m.health().items() if s != "routing"),
                   "every running service on version %d" % v)
        m.start("hn.doit", "routing")
        m.wait_for(lambda: state_of(m, t) == "accepted", "routing accepts the earlier act")
        acc = entry(m, t, "accepted")
        check(acc["at_ms"] == at and acc["key_id"] == old_kid and
              acc.get("key_standing") == "rotated", "recorded as rotated: %s" % acc)
        # The new key is the one the wire takes now, and is recorded as current.
        check(key_id(m, HK) != old_kid, "a new key")
        m.ctl("case", "start", t, as_=HK)
        m.wait_for(lambda: state_of(m, t) == "in_progress", "routing hears the start")
        st = entry(m, t, "in_progress")
        check(st["key_id"] == key_id(m, HK) and st.get("key_standing") == "current",
              "new key current: %s" % st)
        # Anyone with the registry can still check the earlier act.
        vr = m.ctl("case", "verify", t, as_=COORD, check_rc=False)
        check(vr.returncode == 0, "case verify: %s %s" % (vr.stdout, vr.stderr))


def test_revoked_member_earlier_act_marked_and_member_shut_out():
    """An inspector who leaves (docs/operations.md): key_revoked on their
    entry. Their act made before it, delivered after it, stands and is marked
    as signed by a now-revoked key; they can no longer connect."""
    with Mesh(areas=("hoan-kiem",)) as m:
        t = submit(m, "Pho Revoked", "kh-3")
        m.wait_for(lambda: state_of(m, t) == "assigned", "assignment of " + t)
        kid = key_id(m, HK)
        m.kill("hn.doit", "routing")
        m.ctl("case", "accept", t, as_=HK)
        at = int(time.time() * 1000) + 1  # revoked after the act was signed
        src = os.path.join(m.home, "etc", "registry.yaml")
        text = open(src).read()
        line = "    public_key: ../keys/%s.public\n" % HK
        text = text.replace(line, line + "    key_revoked: \"%d\"\n" % at)
        v = int(re.search(r"(?m)^version: (\d+)", text).group(1)) + 1
        r = resign(m, with_version(m, text, v))
        check(r.returncode == 0, "re-signed with the revocation: %s %s" % (r.stdout, r.stderr))
        shown = [x for x in m.ctl("registry", "show").json[0]["members"] if x["id"] == HK][0]
        check(shown["key_revoked_ms"] == at, "registry show: %s" % shown)
        m.wait_for(lambda: all(h.get("registry_version") == v
                               for (n, s), h in m.health().items() if s != "routing"),
                   "every running service on version %d" % v)
        m.start("hn.doit", "routing")
        m.wait_for(lambda: state_of(m, t) == "accepted", "routing accepts the earlier act")
        acc = entry(m, t, "accepted")
        check(acc["key_id"] == kid and acc.get("key_standing") == "revoked",
              "marked as signed by a now-revoked key: %s" % acc)
        r = m.ctl("case", "start", t, as_=HK, check_rc=False)
        check(r.returncode == 1 and r.json and r.json[0]["code"] == 403,
              "a revoked member cannot connect: %s %s" % (r.stdout, r.stderr))


def test_old_key_act_dated_after_rotation_refused():
    with Mesh(areas=("hoan-kiem",)) as m:
        t = submit(m, "Pho Forged", "kh-2")
        m.wait_for(lambda: state_of(m, t) == "assigned", "assignment of " + t)
        rot, v = rotate(m, HK, reason="rotated: tablet stolen")
        m.wait_for(lambda: all(h.get("registry_version") == v for h in m.health().values()),
                   "every service on version %d" % v)
        refused0, dead0 = counter(m, "signed_acts.refused"), counter(m, "delivery.dead_letters")
        acted = rot + 1000
        while time.time() * 1000 <= acted:
            time.sleep(0.05)
        p = subprocess.run([SIGN_ACT, "--secret", os.path.join(m.home, "old", HK + ".secret"),
                            "--ticket", t, "--action", "accept", "--acted-ms", str(acted),
                            "--recipient", AREA + "/inspection"],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, "cpm_sign_act: %s" % p.stderr)
        upd = (field(1, t) + field(7, ACCEPTED) + field(3, AREA) + field(4, HK) +
               field(6, acted) + field(10, bytes.fromhex(p.stdout.strip())))
        d = subprocess.run([DELIVER, "--home", m.home, "--as", AREA, "--target",
                            "hn.doit/routing", "--type", "update", "--record", upd.hex()],
                           capture_output=True, text=True, timeout=60)
        check(d.returncode == 0, "cpm_deliver: %s %s" % (d.stdout, d.stderr))
        out = json.loads(d.stdout)
        check(out.get("type") == "ack" and out.get("acked_seq") == 1, "taken: %s" % out)
        m.wait_for(lambda: counter(m, "signed_acts.refused") == refused0 + 1,
                   "signed_acts.refused counted")
        check(counter(m, "delivery.dead_letters") == dead0 + 1, "kept as a dead letter")
        check(state_of(m, t) == "assigned", "the forged act changed nothing")
        log = open(os.path.join(m.home, "logs", "hn.doit.routing.log")).read()
        check(re.search(r"signed_action by %s: its acted_ms \S+ is outside the period of the "
                        r"past key" % re.escape(HK), log), "the refusal names the field")


if __name__ == "__main__":
    run([test_act_before_rotation_accepted_after_it,
         test_revoked_member_earlier_act_marked_and_member_shut_out,
         test_old_key_act_dated_after_rotation_refused])
