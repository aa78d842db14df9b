#!/usr/bin/env python3
"""One client's requests, one at a time (the latency path of intake): a
refused complaint between two accepted ones, each alone in its group. Checked
against a real mesh: the refused one is answered with its error naming the
field and counted, leaves no event and takes no ticket number; the accepted
ones around it are acknowledged, numbered one after the other and delivered
to routing once."""
import os
import re

from mesh import Mesh, check, run


def counters(m):
    return m.health("hn.doit")[("hn.doit", "intake")]["counters"]


def submit(m, area, desc):
    return m.ctl("submit", "--node", "hn.doit", "--channel", "web", "--business", "Latency Shop",
                 "--area", area, "--category", "food_safety", "--description", desc,
                 check_rc=False).json[0]


def number(ticket):
    return int(re.findall(r"\d+", ticket)[-1])


def test_refused_alone_leaves_nothing():
    with Mesh(areas=("hoan-kiem",)) as m:
        first = submit(m, "hoan-kiem", "first, accepted")
        check(first.get("ok"), "the first complaint is acknowledged: %s" % first)
        before = counters(m)
        bad = submit(m, "no-such-area", "refused")
        check(not bad.get("ok"), "a complaint for an unknown area is refused: %s" % bad)
        check("area" in str(bad), "the refusal names the field: %s" % bad)
        after = counters(m)
        invalid = sum(v for k, v in after.items() if k.startswith("invalid.")) - \
            sum(v for k, v in before.items() if k.startswith("invalid."))
        check(invalid == 1, "the refusal is counted (invalid.*: +%d)" % invalid)
        second = submit(m, "hoan-kiem", "second, accepted")
        check(second.get("ok"), "the next complaint is acknowledged: %s" % second)
        check(number(second["ticket"]) == number(first["ticket"]) + 1,
              "no ticket number taken by the refused one (%s, %s)"
              % (first["ticket"], second["ticket"]))
        received = [e for e in m.events("hn.doit", "intake") if e["kind"] == "complaint.received"]
        check(sorted(e["ticket"] for e in received) == sorted([first["ticket"], second["ticket"]]),
              "exactly the two accepted complaints in the event log: %s"
              % [e["ticket"] for e in received])
        m.wait_for(m.outbox_empty, "intake's outbox to drain", seconds=60)
        routed = [e["ticket"] for e in m.events("hn.doit", "routing") if e["kind"] == "case.routed"]
        check(sorted(routed) == sorted([first["ticket"], second["ticket"]]),
              "each accepted complaint routed once: %s" % routed)


def test_loop_spin():
    """CPMESH_LOOP_SPIN_US given to deploy/local/up: intake's configuration
    has loop_spin_us (routing's has not), intake's loop looks at its sockets
    before it sleeps (loop.spins counted; routing counts none) and one client's
    complaints are acknowledged, numbered and routed as without it."""
    m = Mesh(areas=("hoan-kiem",))
    m.env["CPMESH_LOOP_SPIN_US"] = "0500"
    with m:
        etc = os.path.join(m.home, "etc")
        with open(os.path.join(etc, "hn.doit.intake.yaml")) as f:
            check("\nloop_spin_us: 500\n" in f.read(), "intake's configuration has the spin")
        with open(os.path.join(etc, "hn.doit.routing.yaml")) as f:
            check("loop_spin_us" not in f.read(), "routing's has none")
        tickets = []
        for i in range(4):
            r = submit(m, "hoan-kiem", "spin %d" % i)
            check(r.get("ok"), "complaint %d acknowledged: %s" % (i, r))
            tickets.append(r["ticket"])
        nums = [number(t) for t in tickets]
        check(nums == list(range(nums[0], nums[0] + 4)), "numbered in order: %s" % tickets)
        health = m.health("hn.doit")
        spins = health[("hn.doit", "intake")]["counters"].get("loop.spins", 0)
        check(spins > 0, "intake's loop spun before sleeping (loop.spins %d)" % spins)
        other = health[("hn.doit", "routing")]["counters"].get("loop.spins", 0)
        check(other == 0, "routing, without the key, never spins (loop.spins %d)" % other)
        m.wait_for(m.outbox_empty, "intake's outbox to drain", seconds=60)
        routed = [e["ticket"] for e in m.events("hn.doit", "routing") if e["kind"] == "case.routed"]
        check(sorted(routed) == sorted(tickets), "each routed once: %s" % routed)


if __name__ == "__main__":
    run([test_refused_alone_leaves_nothing, test_loop_spin])
