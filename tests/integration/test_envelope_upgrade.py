#!/usr/bin/env python3
"""A rolling upgrade to envelope version 3 (docs/operations.md "Protocol
version 3"): a node set to send version 2 (envelope_version: 2) works beside
nodes that send 3, in both directions, and with a client that sends either;
a version the build does not send is refused at start, naming the field."""
import os
import re
import subprocess

from mesh import BUILD, Mesh, check, run

COORD = "coordinator.hn.doit"


def submit(m, ref):
    return m.ctl("submit", "--channel", "hotline", "--business", "Phở Ngon " + ref, "--area",
                 "hoan-kiem", "--category", "food_safety", "--description",
                 "sick after lunch", "--phone", "0912 345 678", "--ref", ref).json[0]["ticket"]


def routed(m, t):
    return m.status(t, as_=COORD)["state"] in ("routed", "assigned")


def v2_count(m, service):
    """Frames of envelope version 2 the service took (health counter)."""
    return m.health("hn.doit")[("hn.doit", service)]["counters"].get("received.envelope_v2", 0)


def set_version(m, node, service, version):
    path = os.path.join(m.home, "etc", "%s.%s.yaml" % (node, service))
    with open(path) as f:
        text = re.sub(r"(?m)^envelope_version:.*\n", "", f.read())
    with open(path, "w") as f:
        f.write(text + ("envelope_version: %s\n" % version if version else ""))
    return path


def test_node_sending_version_2_works_beside_version_3():
    with Mesh(areas=("hoan-kiem",)) as m:
        # intake sends 2 (its deliveries to routing, its events, its group
        # receipts), routing and the inspections 3; a request is answered in
        # its own version either way
        set_version(m, "hn.doit", "intake", 2)
        m.kill("hn.doit", "intake")
        m.start("hn.doit", "intake")
        with open(os.path.join(m.home, "logs", "hn.doit.intake.log")) as f:
            check("sending envelope version 2 (envelope_version)" in f.read(),
                  "intake says it sends version 2")
        intake0 = v2_count(m, "intake")
        tickets = [submit(m, "v3-client")]
        check(v2_count(m, "intake") == intake0, "a client of version 3 sent version 3")
        m.env["CPM_ENVELOPE_VERSION"] = "2"  # a client not yet upgraded
        try:
            tickets.append(submit(m, "v2-client"))
        finally:
            del m.env["CPM_ENVELOPE_VERSION"]
        check(v2_count(m, "intake") == intake0 + 1,
              "cpmctl with CPM_ENVELOPE_VERSION=2 sent version 2: %d -> %d"
              % (intake0, v2_count(m, "intake")))
        for t in tickets:
            m.wait_for(lambda t=t: routed(m, t), "routing of " + t)
        m.wait_for(m.outbox_empty, "every delivery acknowledged")
        check(v2_count(m, "routing") > 0, "intake's deliveries went to routing in version 2")
        # then the upgrade ends: back to 3, nothing lost or applied twice
        set_version(m, "hn.doit", "intake", None)
        m.kill("hn.doit", "intake")
        m.start("hn.doit", "intake")
        routing_v2 = v2_count(m, "routing")
        tickets.append(submit(m, "after"))
        m.wait_for(lambda: routed(m, tickets[-1]), "routing after the upgrade")
        m.wait_for(m.outbox_empty, "every delivery acknowledged")
        check(v2_count(m, "routing") == routing_v2,
              "after the upgrade routing takes no more version 2 from intake")
        h = m.health("hn.doit")[("hn.doit", "routing")]["counters"]
        check(h.get("delivery.records_applied") == 3,
              "routing applied each complaint once: %s" % h.get("delivery.records_applied"))

        path = set_version(m, "hn.doit", "intake", 5)
        r = subprocess.run([os.path.join(BUILD, "cpmesh-intake"), "--config", path],
                           capture_output=True, text=True, timeout=60, env=m.env)
        check(r.returncode == 1 and "envelope_version must be 2 or 3, not 5" in r.stderr,
              "a version the build does not send is refused: %d %s" % (r.returncode, r.stderr))


if __name__ == "__main__":
    run([test_node_sending_version_2_works_beside_version_3])
