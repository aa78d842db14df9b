#!/usr/bin/env python3
"""A full store (LMDB map full) is a clear, retryable error to the sender and
loses nothing that was acknowledged."""
import collections
import os

from mesh import Mesh, check, complaints, run


def test_map_full_is_retryable_and_loses_nothing():
    with Mesh() as m:
        m.kill("hn.doit", "routing")  # nothing leaves intake's outbox meanwhile
        m.kill("hn.doit", "intake")
        cfg = os.path.join(m.home, "etc", "hn.doit.intake.yaml")
        with open(cfg, "a") as f:
            f.write("map_size_mb: 1\n")
        m.start("hn.doit", "intake")
        cs = complaints(300, seed=20)
        for c in cs:
            c["description"] = "x" * 3900
        r = m.submit_file(cs, node="hn.doit", check_rc=False)
        ok = [j for j in r.json if j.get("ok")]
        full = [j for j in r.json if not j.get("ok")]
        check(ok and full, "some recorded, then the store filled (%d ok, %d refused)"
              % (len(ok), len(full)))
        check(all(j["code"] == 507 and j["error"] == "store_full" for j in full),
              "refusals say store_full: %s" % full[:1])
        check(r.returncode == 1, "cpmctl exits 1 when some were not recorded")
        h = m.health("hn.doit")[("hn.doit", "intake")]["counters"]
        check(h.get("store.failures", 0) >= 1, "store failures counted")
        # Routing comes back: every acknowledged complaint is delivered once.
        m.start("hn.doit", "routing")
        m.wait_for(m.outbox_empty, "intake's outbox to drain", seconds=60)
        routed = collections.Counter(e["ticket"] for e in m.events("hn.doit", "routing")
                                     if e["kind"] == "case.routed")
        tickets = [j["ticket"] for j in ok]
        check(all(routed[t] == 1 for t in tickets) and len(routed) == len(tickets),
              "%d acknowledged, %d routed" % (len(tickets), len(routed)))
        # With the outbox drained there is room again.
        r = m.ctl("submit", "--channel", "web", "--business", "After", "--district", "ba-dinh",
                  "--description", "short")
        check(r.json[0]["ok"], "accepting again once space is free")


if __name__ == "__main__":
    run([test_map_full_is_retryable_and_loses_nothing])
