#!/usr/bin/env python3
"""Group receipts on a real mesh (docs/protocol.md "Group receipts"): cpmctl
submit --file sends SubmitBatch requests; intake applies each complaint as a
single submit and answers each group commit with one signature; every
complaint is recorded exactly once, also across resubmission and a SIGKILL of
intake in the middle of a batched submit; the proofs saved by --receipts
hold for a third party (cpmctl receipt verify); a batch of 65 is refused
naming the field; an invalid item gets its own error while the others are
recorded."""
import collections
import json
import os
import stat
import subprocess
import time

from mesh import BUILD, CTL, Mesh, check, complaints, run

RAW = os.path.join(BUILD, "cpm_batch_raw")


def write_file(m, cs, name):
    path = os.path.join(m.home, name)
    with open(path, "w") as f:
        for c in cs:
            f.write(json.dumps(c) + "\n")
    return path


def intake_counters(m):
    # A busy intake may miss health's 1.5 s (an entry without counters): polled again.
    return m.health("hn.doit")[("hn.doit", "intake")].get("counters", {})


def routed(m):
    return collections.Counter(e["ticket"] for e in m.events("hn.doit", "routing")
                               if e["kind"] == "case.routed")


def test_batched_submit_one_signature_per_group():
    with Mesh() as m:
        cs = complaints(100, seed=31, tag="rcpt")
        path = write_file(m, cs, "hundred.jsonl")
        rdir = os.path.join(m.home, "receipts")
        os.makedirs(rdir)
        r = m.ctl("submit", "--file", path, "--node", "hn.doit", "--batch", "32",
                  "--receipts", rdir)
        ok = [j for j in r.json if j.get("ok")]
        check(len(ok) == 100 and len(r.json) == 100, "100 recorded: %d of %d lines"
              % (len(ok), len(r.json)))
        tickets = [j["ticket"] for j in ok]
        check(len(set(tickets)) == 100, "100 distinct tickets")
        check(sorted(j["line"] for j in ok) == list(range(1, 101)), "one answer per line")
        check(all(j.get("lookup_code") and not j["duplicate"] for j in ok),
              "each with its lookup code, none a duplicate")
        h = intake_counters(m)
        check(h.get("receipts.leaves") == 100, "100 leaves: %s" % h.get("receipts.leaves"))
        check(1 <= h.get("receipts.groups", 0) < 100,
              "one signature per group, not per complaint: %s groups" % h.get("receipts.groups"))
        check(h.get("receipts.frames", 0) >= h["receipts.groups"], "frames counted")
        # Saved proofs: one per ticket, readable by their owner only.
        files = sorted(os.listdir(rdir))
        check(files == sorted(t + ".receipt" for t in tickets), "one receipt file per ticket")
        for fn in files:
            mode = stat.S_IMODE(os.stat(os.path.join(rdir, fn)).st_mode)
            check(mode == 0o600, "%s has mode %o" % (fn, mode))
        # A third party checks one with the registry alone.
        one = tickets[17]
        v = m.ctl("receipt", "verify", os.path.join(rdir, one + ".receipt"))
        j = v.json[0]
        check(j["ok"] and j["signer"] == "hn.doit" and j["ticket"] == one and
              j["type"] == "submit_reply", "the receipt of %s holds: %r" % (one, j))
        check(j["service"] == "intake" and j["lookup_code"] == ok[17]["lookup_code"],
              "--json names the service and gives the lookup code: %r" % j)
        # Without --json the secret lookup code is not printed.
        t = subprocess.run(m.prefix + [CTL, "receipt", "verify", os.path.join(rdir, one + ".receipt")],
                           capture_output=True, text=True, env=m.env, timeout=60)
        check(t.returncode == 0 and "service      intake" in t.stdout and
              ok[17]["lookup_code"] not in t.stdout, "text: service, no lookup code: %r" % t.stdout)
        # Every complaint recorded once: routed once each, each status known.
        m.wait_for(m.outbox_empty, "intake's outbox to drain", seconds=90)
        rt = routed(m)
        check(all(rt[t] == 1 for t in tickets) and len(rt) == 100,
              "each routed exactly once (%d cases)" % len(rt))
        for t in tickets:
            check(m.status(t)["ticket"] == t, "status of %s" % t)
        # The same file again: every line a duplicate of its first ticket.
        r2 = m.ctl("submit", "--file", path, "--node", "hn.doit", "--batch", "32")
        again = {j["line"]: j for j in r2.json}
        check(len(again) == 100 and all(j["ok"] and j["duplicate"] for j in again.values()),
              "all duplicates on resubmission")
        check(all(again[j["line"]]["ticket"] == j["ticket"] for j in ok), "the same tickets")
        m.wait_for(m.outbox_empty, "intake's outbox to drain", seconds=90)
        check(len(routed(m)) == 100, "nothing new routed")
        check(intake_counters(m).get("receipts.leaves") == 200, "200 leaves in all")


def test_batch_bounds_and_item_errors():
    with Mesh() as m:
        # A batch needs the right of a single submit, submit_complaint@intake.
        r = subprocess.run([RAW, "--home", m.home, "--as", "coordinator.hn.doit", "--node",
                            "hn.doit", "--count", "3", "--ref", "coord"], capture_output=True,
                           text=True, env=m.env, timeout=60)
        j = json.loads(r.stdout)
        check(not j["ok"] and j["code"] == 403, "no right to submit, no batch: %r" % j)
        home = ["--home", m.home, "--as", "operator.hn.doit", "--node", "hn.doit"]
        for n, code in ((65, 413), (0, 400)):
            r = subprocess.run([RAW, *home, "--count", str(n), "--ref", "big%d" % n],
                               capture_output=True, text=True, env=m.env, timeout=60)
            check(r.returncode == 0, "an answer to %d items: %s" % (n, r.stderr))
            j = json.loads(r.stdout)
            check(not j["ok"] and j["code"] == code and j["field"] == "complaints",
                  "%d items refused naming complaints: %r" % (n, j))
        r = subprocess.run([RAW, *home, "--count", "64", "--ref", "max"], capture_output=True,
                           text=True, env=m.env, timeout=60)
        j = json.loads(r.stdout)
        check(j["ok"] and j["receipt"] and len(j["items"]) == 64 and
              all(i.get("ticket") for i in j["items"]), "64 items take: %r" % r.stdout[:300])
        h = intake_counters(m)
        check(h.get("rejected.batch_items") == 2, "refused batches counted: %r"
              % h.get("rejected.batch_items"))
        # cpmctl will not send more than 64 per batch.
        r = m.ctl("submit", "--file", "/dev/null", "--batch", "65", check_rc=False)
        check(r.returncode != 0 and r.json and r.json[0]["field"] == "batch",
              "--batch 65 refused naming batch: %r" % r.stdout)
        # One invalid item: its error in its leaf, the others recorded.
        cs = complaints(5, seed=32, tag="inv")
        cs[2]["channel"] = "carrier-pigeon"
        path = write_file(m, cs, "five.jsonl")
        r = m.ctl("submit", "--file", path, "--node", "hn.doit", "--batch", "8", check_rc=False)
        check(r.returncode == 1, "cpmctl exits 1 when a line was refused")
        ok = [j for j in r.json if j.get("ok")]
        bad = [j for j in r.json if not j.get("ok")]
        check(sorted(j["line"] for j in ok) == [1, 2, 4, 5], "the others recorded: %r" % ok)
        check(len(bad) == 1 and bad[0]["field"] == "channel" and "line 3" in bad[0]["message"]
              and bad[0].get("line") == 3, "line 3 refused naming channel, \"line\": 3: %r" % bad)
        h = intake_counters(m)
        check(h.get("receipts.leaves") == 69, "64 + 5 leaves: %r" % h.get("receipts.leaves"))


def test_kill_intake_during_batched_submit():
    with Mesh() as m:
        cs = complaints(1200, seed=33, tag="kill")
        path = write_file(m, cs, "big.jsonl")
        args = [CTL, "--json", "submit", "--file", path, "--node", "hn.doit", "--batch", "64",
                "--window", "256"]
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=m.env)
        # Kill once some, not all, are recorded.
        m.wait_for(lambda: intake_counters(m).get("receipts.leaves", 0) >= 64,
                   "intake to answer the first batches", seconds=120)
        m.kill("hn.doit", "intake")
        m.start("hn.doit", "intake")
        out, err = p.communicate(timeout=600)
        first = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        check(first, "the interrupted run answered something: %s" % err[-300:])
        # Whatever the first run said, a resubmission records every line once.
        r = m.ctl("submit", "--file", path, "--node", "hn.doit", "--batch", "64", timeout=600)
        ok = {j["line"]: j["ticket"] for j in r.json if j.get("ok")}
        check(len(ok) == 1200, "every line recorded: %d" % len(ok))
        check(len(set(ok.values())) == 1200, "1200 distinct tickets")
        for j in first:
            if j.get("ok"):
                check(ok[j["line"]] == j["ticket"], "line %d kept its ticket" % j["line"])
        m.wait_for(m.outbox_empty, "intake's outbox to drain", seconds=180)
        rt = routed(m)
        check(all(rt[t] == 1 for t in ok.values()) and len(rt) == 1200,
              "each routed exactly once (%d cases)" % len(rt))


def test_acks_and_publications_one_signature_per_group():
    """docs/protocol.md 26.9: between services one signature answers a whole
    group. 64 complaints in one SubmitBatch are one group commit: intake
    publishes their events in a few signed frames, and routing answers their
    delivery with a few signed Acks, not one per complaint."""
    with Mesh() as m:
        def routing_counters():
            return m.health("hn.doit")[("hn.doit", "routing")].get("counters", {})
        i0, r0 = intake_counters(m), routing_counters()
        cs = complaints(64, seed=37, tag="sig")
        r = m.ctl("submit", "--file", write_file(m, cs, "sixty-four.jsonl"), "--node", "hn.doit",
                  "--batch", "64")
        check(sum(1 for j in r.json if j.get("ok")) == 64, "64 recorded")

        def delta(now, before, name):
            return now.get(name, 0) - before.get(name, 0)
        m.wait_for(lambda: delta(routing_counters(), r0, "delivery.records_applied") >= 64,
                   "routing applied the 64 records")
        m.wait_for(lambda: delta(intake_counters(m), i0, "events.published") >= 64,
                   "intake published the 64 complaints' events")
        i1, r1 = intake_counters(m), routing_counters()
        acks, recs = delta(r1, r0, "delivery.acks"), delta(r1, r0, "delivery.records_applied")
        check(1 <= acks <= 4, "routing signed %d Acks for %d records" % (acks, recs))
        pubs, evs = delta(i1, i0, "events.publications"), delta(i1, i0, "events.published")
        check(1 <= pubs <= evs // 8,
              "intake signed %d publications for %d events" % (pubs, evs))


if __name__ == "__main__":
    run([test_batched_submit_one_signature_per_group, test_batch_bounds_and_item_errors,
         test_kill_intake_during_batched_submit,
         test_acks_and_publications_one_signature_per_group])
