#!/usr/bin/env python3
"""The exchange's proof log against real processes (issue 9, part 5):
checkpoints co-signed by a peer exchange, co-signing that survives a peer
stopped (SIGSTOP) and all peers stopped (pending, then co-signed), every
kind of tampering with the store (tests/tools/cpm_xlog_tamper) found by
`cpmctl exchange verify-log`, and evidence verified offline and refused
after one changed byte.

Entries come from by-hand publishing (tests/tools/cpm_xpublish); the
exchanges run with checkpoint_every 4 and checkpoint_s 1 so checkpoints
follow within seconds, and cosign_wait_ms 2000 (default 3000) so a stopped
peer is given up on after 2-3 ticks (1 s) instead of 3-4, and a stalled
round retried after 6 s instead of 9 (a healthy peer answers within a tick)."""
import json
import os
import shutil
import signal
import subprocess
import tempfile

from mesh import BUILD, Mesh, check, run

TAMPER = os.path.join(BUILD, "cpm_xlog_tamper")
PUBLISH = os.path.join(BUILD, "cpm_xpublish")
NODE = "hn.qltt"
OFFICER = "officer.hn.qltt"
PEERS = ("hn.doit", "hn.d.hoan-kiem")


def setup(m):
    for node in (NODE,) + PEERS:
        with open(os.path.join(m.home, "etc", "%s.exchange.yaml" % node), "a") as f:
            f.write("checkpoint_every: 4\ncheckpoint_s: 1\ncosign_wait_ms: 2000\n")
        m.kill(node, "exchange", signal.SIGTERM)
        m.start(node, "exchange")


def publish(m, n, tag):
    r = subprocess.run([PUBLISH, m.home, OFFICER, NODE, str(n), tag], capture_output=True,
                       text=True, timeout=120)
    check(r.returncode == 0, "publish: " + r.stderr)


def verify(m, check_rc=True):
    r = m.ctl("exchange", "verify-log", "--node", NODE, as_=OFFICER, check_rc=check_rc)
    return r


def state(m):
    r = verify(m)
    return r.json[0]


def wait_cosigned(m, what, min_cps=1, every=False):
    """At least min_cps checkpoints, the newest co-signed. (Each round of 4
    publications makes at least one checkpoint; peers' co-signing requests
    may add entries and checkpoints at any time, so counts are lower bounds.
    Not every one: a checkpoint superseded while the stopped peer is asked
    (cosign_wait_ms 2 s > checkpoint_s 1 s) is never co-signed, by design.)
    every: all of them, for a test with every peer up whose evidence cites
    the first checkpoint covering an entry, not the newest."""
    def done():
        s = state(m)
        return (s["ok"] and s["checkpoints"] >= min_cps and s["cosigned"] >= 1
                and s["last_cosigned"] == s["last_checkpoint"]
                and (not every or s["cosigned"] == s["checkpoints"]))
    m.wait_for(done, what, seconds=120)
    return state(m)


def counter(m, node, name):
    h = m.health(node).get((node, "exchange"), {})
    return h.get("counters", {}).get(name, 0)


def test_cosigned_and_evidence():
    with Mesh(exchange=True, areas=("hoan-kiem",)) as m:
        setup(m)
        publish(m, 6, "a")
        s = wait_cosigned(m, "every checkpoint of hn.qltt's log co-signed", every=True)
        check(s["entries"] >= 6, "entries: %s" % s)
        # the peers logged their co-signing
        given = sum(counter(m, p, "exchange.cosign_given") for p in PEERS)
        check(given >= 1, "no peer counted a cosignature")
        # the city's coordinator verifies the same log from hashes alone (the
        # bodies hold signed requests and answers, personal fields included)
        # and may not export evidence of another agency's entries
        r = m.ctl("exchange", "verify-log", "--node", NODE, as_="coordinator.hn.doit")
        check(r.json[0]["ok"] and r.json[0]["entries"] >= s["entries"],
              "coordinator's verify-log: %s" % r.stdout)
        r = m.ctl("exchange", "evidence", "1", "--node", NODE, "--out",
                  os.path.join(m.home, "no.bin"), as_="coordinator.hn.doit", check_rc=False)
        check(r.returncode == 1 and "403" in r.stdout + r.stderr, "coordinator's evidence: %s %s"
              % (r.stdout, r.stderr))
        out = os.path.join(m.home, "ev1.bin")
        r = m.ctl("exchange", "evidence", "1", "--node", NODE, "--out", out, as_=OFFICER)
        check(r.json[0]["ok"], "evidence: %s" % r.stdout)
        # offline: no mesh needed, only the root public key
        root = os.path.join(m.home, "keys", "root.public")
        alone = tempfile.mkdtemp(prefix="cpm-ev-")
        try:
            shutil.copy(out, os.path.join(alone, "ev.bin"))
            shutil.copy(root, os.path.join(alone, "root.public"))
            r = subprocess.run([os.path.join(BUILD, "cpmctl"), "--home", alone,
                                "exchange", "verify-evidence", os.path.join(alone, "ev.bin"),
                                "--root-public", os.path.join(alone, "root.public")],
                               capture_output=True, text=True, timeout=60)
            check(r.returncode == 0, "verify-evidence: %s %s" % (r.stdout, r.stderr))
            check("kind publish" in r.stdout and OFFICER in r.stdout, r.stdout)
            check("cosigned:  by hn." in r.stdout, "no cosigner shown: " + r.stdout)
            data = bytearray(open(out, "rb").read())
            for pos in (len(data) // 3, len(data) - 10):
                bad = bytearray(data)
                bad[pos] ^= 0x04
                with open(os.path.join(alone, "bad.bin"), "wb") as f:
                    f.write(bad)
                r = subprocess.run([os.path.join(BUILD, "cpmctl"), "--home", alone, "exchange",
                                    "verify-evidence", os.path.join(alone, "bad.bin"),
                                    "--root-public", os.path.join(alone, "root.public")],
                                   capture_output=True, text=True, timeout=60)
                check(r.returncode == 1 and "REFUSED" in r.stderr,
                      "a changed byte at %d was not refused: %s %s" % (pos, r.stdout, r.stderr))
        finally:
            shutil.rmtree(alone)


def test_peer_down_does_not_halt():
    with Mesh(exchange=True, areas=("hoan-kiem",)) as m:
        setup(m)
        publish(m, 4, "a")
        wait_cosigned(m, "the first checkpoint co-signed")
        pids = m.pids()
        # one peer stopped: the other co-signs
        os.kill(pids[(PEERS[0], "exchange")], signal.SIGSTOP)
        try:
            # peers are asked in turn: over two checkpoints the stopped one is
            # asked once, does not answer in time, and the other co-signs
            for i in range(2):
                n = state(m)["checkpoints"]
                publish(m, 4, "b%d" % i)
                s = wait_cosigned(m, "checkpoints co-signed with %s stopped" % PEERS[0], n + 1)
            check(counter(m, NODE, "exchange.cosign_peer_failed") >= 1,
                  "the stopped peer was never asked")
            # both peers stopped: checkpoints still made, pending
            os.kill(pids[(PEERS[1], "exchange")], signal.SIGSTOP)
            try:
                before = s["checkpoints"]
                publish(m, 4, "c")  # the exchange still answers
                m.wait_for(lambda: counter(m, NODE, "exchange.cosign_stalled") >= 1,
                           "co-signing counted as stalled", seconds=120)
                s = state(m)
                check(s["ok"] and s["checkpoints"] > before and s["cosigned"] < s["checkpoints"],
                      "a pending checkpoint expected: %s" % s)
            finally:
                os.kill(pids[(PEERS[1], "exchange")], signal.SIGCONT)
        finally:
            os.kill(pids[(PEERS[0], "exchange")], signal.SIGCONT)
        # the newest checkpoint is co-signed once a peer is back
        last = {}

        def last_cosigned():
            last.update(state(m), cosigned_count=counter(m, NODE, "exchange.cosigned"))
            # the pending one co-signed (entries after it may be the peers'
            # own co-signing requests, below checkpoint_every)
            return (last["ok"] and last["checkpoints"] > before
                    and last["last_cosigned"] == last["last_checkpoint"])
        try:
            m.wait_for(last_cosigned, "co-signing resumed", seconds=120)
        except Exception:
            print("last state: %s" % last)
            raise


def tampered(m, args, want):
    data = os.path.join(m.home, "data", NODE, "exchange")
    keep = data + ".keep"
    m.kill(NODE, "exchange", signal.SIGTERM)
    shutil.copytree(data, keep)
    try:
        r = subprocess.run([TAMPER, data] + args, capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "tamper %s: %s" % (args, r.stderr))
        m.start(NODE, "exchange")
        r = verify(m, check_rc=False)
        check(r.returncode == 1, "tampering %s not detected: %s" % (args, r.stdout))
        got = r.json[0]["problem"]
        check(all(w in got for w in want), "tampering %s: %r does not say %s" % (args, got, want))
    finally:
        m.kill(NODE, "exchange", signal.SIGTERM)
        shutil.rmtree(data)
        shutil.move(keep, data)
        m.start(NODE, "exchange")


def test_tampering_detected():
    with Mesh(exchange=True, areas=("hoan-kiem",)) as m:
        setup(m)
        publish(m, 4, "a")
        wait_cosigned(m, "a checkpoint before tampering", 1)
        publish(m, 4, "b")
        wait_cosigned(m, "two checkpoints before tampering", 2)
        tampered(m, ["flip", "3"], ["seq 3", "changed byte"])
        tampered(m, ["delete", "4"], ["seq 4", "missing"])
        tampered(m, ["swap", "2", "3"], ["seq 2", "out of order"])
        tampered(m, ["forge-checkpoint"], ["checkpoint", "signature refused"])
        check(state(m)["ok"], "the restored store verifies again")


if __name__ == "__main__":
    run([test_cosigned_and_evidence, test_peer_down_does_not_halt, test_tampering_detected])
