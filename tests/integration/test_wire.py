#!/usr/bin/env python3
"""A case becomes "assigned" at routing when the agency's node acknowledges the
assignment: inspection sends nothing back for it, and routing records it
exactly once, in the transaction that records the acknowledgement, while
routing is killed with SIGKILL mid-flow (issue 6, item 4)."""
import collections

from mesh import Mesh, check, complaints, run
from test_flow import flow_with_kills


def routing_assigned(m):
    """ticket -> how many case.assigned events routing's log holds for it"""
    n = collections.Counter()
    for ev in m.events("hn.doit", "routing"):
        check(ev["chain_ok"], "routing event %d breaks the chain" % ev["seq"])
        if ev["kind"] == "case.assigned":
            check(ev["state"] == "assigned" and ev["actor"] == ev["agency"],
                  "case.assigned names the acknowledging node: %s" % ev)
            n[ev["ticket"]] += 1
    return n


def test_assigned_is_the_acknowledgement_exactly_once():
    with Mesh() as m:
        tickets = flow_with_kills(m, complaints(300, seed=61), [("hn.doit", "routing")])
        check(len(tickets) == 300, "300 tickets acknowledged")
        m.wait_for(m.outbox_empty, "every outbox to drain", seconds=120)
        m.wait_for(lambda: all(m.status(t)["state"] == "assigned" for t in list(tickets)[:20]),
                   "the first cases assigned")
        n = routing_assigned(m)
        wrong = [(t, n.get(t)) for t in tickets if n.get(t) != 1]
        check(not wrong, "%d tickets not assigned exactly once at routing, e.g. %s"
              % (len(wrong), wrong[:3]))
        for t in list(tickets)[:10]:
            st = m.status(t)
            states = [h["state"] for h in st["history"]]
            check(states == ["received", "routed", "assigned"] and st["state"] == "assigned",
                  "history of %s: %s" % (t, states))
            check(st["history"][2]["actor"] == st["agency"], "assigned by %s" % st)
        # The action travels as an enum: a word cpmctl does not know is refused by it.
        t = next(iter(tickets))
        r = m.ctl("case", "escalate", t, as_="officer." + m.status(t)["agency"], check_rc=False)
        check(r.returncode == 1 and r.json and r.json[0]["code"] == 400 and
              r.json[0]["field"] == "action", "an unknown action word: %s" % r.stdout)
        # No inspection node echoed "assigned": nothing was sent to routing.
        for node in m.nodes:
            h = m.health(node).get((node, "inspection"), {})
            for s in h.get("streams", []):
                check(s.get("acked_seq", 0) == 0 and s.get("outbox_depth", 0) == 0,
                      "%s/inspection sent records to routing: %s" % (node, s))


if __name__ == "__main__":
    run([test_assigned_is_the_acknowledgement_exactly_once])
