#!/usr/bin/env python3
"""Verifiable event streams (docs/protocol.md section 20): signed checkpoints
prove a replay; an event edited, an event removed (the chain recomputed) and
a checkpoint forged are each detected; filters at the source; a watcher
killed with SIGKILL resumes with no gap and no duplicate."""
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import time

from mesh import BUILD, CTL, Mesh, check, complaints, run

TAMPER = os.path.join(BUILD, "cpm_evtamper")
NODE, SVC = "hn.doit", "intake"


def data_dir(m, node=NODE, service=SVC):
    return os.path.join(m.home, "data", node, service)


def set_config(m, node, service, **fields):
    cfg = os.path.join(m.home, "etc", "%s.%s.yaml" % (node, service))
    with open(cfg) as f:
        lines = [l for l in f if l.split(":")[0] not in fields]
    lines += ["%s: %s\n" % (k, v) for k, v in fields.items()]
    with open(cfg, "w") as f:
        f.writelines(lines)


def events(m, node=NODE, service=SVC):
    """cpmctl events: (rc, events, the summary line's figures)."""
    r = m.ctl("events", "--node", node, "--service", service, check_rc=False)
    g = re.search(r"read to #(\d+); checkpoints verified (\d+), wrong (\d+); proven to #(\d+)",
                  r.stderr)
    check(g is not None, "events says what the checkpoints proved: %r" % r.stderr)
    return r.returncode, r.json, dict(zip(("read", "good", "bad", "proven"),
                                          map(int, g.groups()))), r.stderr


def stop(m, node=NODE, service=SVC):
    m.kill(node, service, sig=signal.SIGTERM)  # a clean stop signs the head


def test_replay_is_proven_by_checkpoints_and_tampering_is_detected():
    with Mesh() as m:
        set_config(m, NODE, SVC, event_checkpoint_every=4)
        stop(m)
        m.start(NODE, SVC)
        m.submit_file(complaints(13, seed=31))
        m.wait_for(m.outbox_empty, "delivery")
        h = m.health(NODE)[(NODE, SVC)]
        counters = h["counters"]
        check(counters.get("events.checkpoints", 0) >= 1, "checkpoints counted: %s" % counters)
        stop(m)
        m.start(NODE, SVC)
        rc, evs, fig, err = events(m)
        check(rc == 0 and fig["bad"] == 0, "an untouched log verifies: %s" % err)
        check(fig["read"] == len(evs) and fig["read"] >= 13, "every event read: %s" % fig)
        check(fig["proven"] == fig["read"] and fig["good"] >= 1,
              "checkpoints prove the whole replay: %s" % fig)
        stop(m)
        clean = data_dir(m) + ".clean"
        shutil.copytree(data_dir(m), clean)

        cases = [("an edited event", ["--edit", "5", "--note", "nothing happened"]),
                 ("an edited event, chain recomputed",
                  ["--edit", "5", "--note", "nothing happened", "--rehash"]),
                 ("a removed event, chain recomputed", ["--remove", "5"]),
                 ("a forged checkpoint over a recomputed chain",
                  ["--edit", "5", "--note", "nothing happened", "--rehash",
                   "--forge-checkpoints"])]
        for what, args in cases:
            shutil.rmtree(data_dir(m))
            shutil.copytree(clean, data_dir(m))
            t = subprocess.run([TAMPER, "--data-dir", data_dir(m)] + args, capture_output=True,
                               text=True)
            check(t.returncode == 0, "tamper %s: %s" % (what, t.stderr))
            m.start(NODE, SVC)
            rc, evs, fig, err = events(m)
            check(rc == 3, "%s is detected (exit 3): %s %s" % (what, fig, err))
            check(fig["proven"] < 5, "%s: nothing from it on is proven: %s" % (what, fig))
            stop(m)
        shutil.rmtree(data_dir(m))
        shutil.copytree(clean, data_dir(m))
        m.start(NODE, SVC)
        rc, _, fig, err = events(m)
        check(rc == 0 and fig["bad"] == 0, "the clean copy verifies again: %s" % err)


def test_filters_at_the_source():
    with Mesh() as m:
        batch = complaints(30, seed=32)
        m.submit_file(batch)
        m.wait_for(m.outbox_empty, "delivery")
        want = sum(1 for c in batch if c["area"] == "hoan-kiem")
        got = m.ctl("watch", "--for", "4", "--kind", "complaint.rec", "--area", "hoan-kiem",
                    "--cursor", os.path.join(m.home, "f1.cursor")).json
        check(len(got) == want, "%d complaints in hoan-kiem, %d shown" % (want, len(got)))
        check(all(e["kind"] == "complaint.received" and e["area"] == "hoan-kiem" and
                  e["chain_ok"] for e in got), "only those, verified: %s" % got[:3])
        # The same events, unfiltered then filtered here: equal.
        every = m.ctl("watch", "--for", "4", "--cursor", os.path.join(m.home, "f2.cursor")).json
        mine = [(e["node"], e["service"], e["seq"]) for e in every
                if e["kind"] == "complaint.received" and e["area"] == "hoan-kiem"]
        check(mine == [(e["node"], e["service"], e["seq"]) for e in got],
              "filtered at the source = filtered after")
        assigned = m.ctl("watch", "--for", "4", "--kind", "case.", "--state", "assigned",
                         "--cursor", os.path.join(m.home, "f3.cursor")).json
        check(assigned and all(e["state"] == "assigned" for e in assigned),
              "--state: %s" % assigned[:2])
        agency = m.expected_agency(batch[0]["category"], batch[0]["area"])
        by_agency = m.ctl("watch", "--for", "4", "--agency", agency,
                          "--cursor", os.path.join(m.home, "f4.cursor")).json
        check(by_agency and all(e["agency"] == agency for e in by_agency), "--agency")
        h = m.health(NODE)[(NODE, SVC)]
        counters = h["counters"]
        check(counters.get("events.fetch_filtered", 0) >= 1, "filtered at the source")
        bad = m.ctl("watch", "--state", "nonsense", check_rc=False)
        check(bad.returncode == 2 and "--state" in bad.stderr, "a bad state is named")


def read_out(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def heads(m):
    return {k: h["event_head"] for k, h in m.health().items() if h.get("up")}


def test_watch_resumes_after_sigkill_with_no_gap_and_no_duplicate():
    with Mesh() as m:
        out = os.path.join(m.home, "watch.jsonl")
        cur = os.path.join(m.home, "kill.cursor")

        def start_watch():
            return subprocess.Popen(m.prefix + [CTL, "--json", "watch", "--cursor", cur,
                                                "--out", out], env=m.env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        w = start_watch()
        for round_ in range(3):
            # Counted before the round: batched submits are fast enough that every
            # event of the round may already be written when submit_file returns.
            seen = len(read_out(out)) if os.path.exists(out) else 0
            m.submit_file(complaints(40, seed=40 + round_, tag="k%d" % round_))
            # Kill it at (or soon after) the first lines of this round.
            m.wait_for(lambda: os.path.exists(out) and len(read_out(out)) > seen, "events")
            w.send_signal(signal.SIGKILL)
            w.wait()
            w = start_watch()
        m.wait_for(m.outbox_empty, "delivery")
        want = heads(m)

        def complete():
            got = collections.Counter((e["node"], e["service"]) for e in read_out(out))
            return all(got[k] >= v for k, v in want.items())

        m.wait_for(complete, "the watcher catches up")
        w.send_signal(signal.SIGTERM)
        w.wait(timeout=30)
        by = collections.defaultdict(list)
        for e in read_out(out):
            by[(e["node"], e["service"])].append(e["seq"])
        for k, v in want.items():
            check(by[k] == list(range(1, v + 1)),
                  "%s/%s: every event once, in order (%d lines for %d events)" %
                  (k[0], k[1], len(by[k]), v))


if __name__ == "__main__":
    run([test_replay_is_proven_by_checkpoints_and_tampering_is_detected,
         test_filters_at_the_source,
         test_watch_resumes_after_sigkill_with_no_gap_and_no_duplicate])
