#!/usr/bin/env python3
"""Heartbeats: a peer that hangs without closing its connection (SIGSTOP: no
TCP reset) is noticed as down, and noticed again when it comes back; what was
queued for it meanwhile is delivered once."""
import os
import signal
import time

from mesh import Mesh, check, run

STREAM = "hn.doit/routing>hn.qltt/inspection"


def stream_state(m):
    h = m.health("hn.doit").get(("hn.doit", "routing"), {})
    for s in h.get("streams", []):
        if s["stream"] == STREAM:
            return s
    return None


def submit_pricing(m, n):
    for i in range(n):
        m.ctl("submit", "--channel", "web", "--business", "Shop %d" % i, "--area",
              "ba-dinh", "--category", "pricing", "--description", "prices not shown")


def test_hung_peer_is_noticed_by_heartbeats():
    with Mesh() as m:
        submit_pricing(m, 1)  # opens routing's link to hn.qltt
        m.wait_for(lambda: (stream_state(m) or {}).get("connected"), "link up")
        pid = m.pids()[("hn.qltt", "inspection")]
        os.kill(pid, signal.SIGSTOP)
        try:
            t0 = time.time()
            m.wait_for(lambda: not stream_state(m)["connected"], "heartbeat timeout", 20)
            noticed = time.time() - t0
            check(noticed < 15, "noticed after %.1f s" % noticed)
            h = m.health("hn.doit")[("hn.doit", "routing")]["counters"]
            check(h.get("delivery.peer_down", 0) >= 1, "delivery.peer_down counted")
            submit_pricing(m, 3)  # queued while the peer hangs
            m.wait_for(lambda: stream_state(m)["outbox_depth"] >= 3,
                       "assignments waiting in the outbox", 20)
        finally:
            os.kill(pid, signal.SIGCONT)
        m.wait_for(lambda: stream_state(m)["connected"], "link back", 30)
        m.wait_for(m.outbox_empty, "delivery after the peer is back", 30)
        assigned = [e for e in m.events("hn.qltt", "inspection") if e["kind"] == "case.assigned"]
        check(len(assigned) == 4 and len({e["ticket"] for e in assigned}) == 4,
              "each of the 4 cases assigned once: %d" % len(assigned))


if __name__ == "__main__":
    run([test_hung_peer_is_noticed_by_heartbeats])
