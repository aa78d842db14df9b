#!/usr/bin/env python3
"""Two hosts made of network namespaces joined by a veth link: the city
(hn.doit, hn.qltt) on one, the Hoan Kiem area node on the other, every
link TCP with CURVE. Cases cross the link; the link is cut and healed; every
case arrives exactly once."""
import os
import random
import re
import subprocess
import sys
import time

from mesh import Mesh, check, complaints, run

AREA = "hn.d.hoan-kiem"


def sh(*args, check_rc=True):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if check_rc and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), r.stderr.strip()))
    return r


class Hosts:
    """city <-> area over a veth pair, each namespace with its own lo."""

    def __init__(self):
        k = random.randrange(1, 250)
        tag = "%d%d" % (os.getpid() % 10000, k)
        self.city, self.dist = "cpmc" + tag, "cpmd" + tag
        self.city_ip, self.dist_ip = "10.77.%d.1" % k, "10.77.%d.2" % k
        self.veth_c, self.veth_d = "vc" + tag, "vd" + tag

    def __enter__(self):
        for ns in (self.city, self.dist):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", self.veth_c, "netns", self.city, "type", "veth", "peer", "name",
           self.veth_d, "netns", self.dist)
        sh("ip", "-n", self.city, "addr", "add", self.city_ip + "/24", "dev", self.veth_c)
        sh("ip", "-n", self.dist, "addr", "add", self.dist_ip + "/24", "dev", self.veth_d)
        self.link(True)
        sh("ip", "-n", self.dist, "link", "set", self.veth_d, "up")
        return self

    def link(self, up):
        sh("ip", "-n", self.city, "link", "set", self.veth_c, "up" if up else "down")

    def __exit__(self, *exc):
        for ns in (self.city, self.dist):
            sh("ip", "netns", "del", ns, check_rc=False)

    def netns(self, ns):
        return ["ip", "netns", "exec", ns]


def move_to_hosts(m, h):
    """Re-point the registry at the two hosts and restart every service there."""
    m.down()
    src = os.path.join(m.home, "etc", "registry.yaml")
    text = open(src).read()
    out, member = [], None
    for line in text.splitlines():
        mm = re.match(r"  - id: (\S+)", line)
        if mm:
            member = mm.group(1)
        ip = h.dist_ip if member == AREA else h.city_ip
        out.append(line.replace("127.0.0.1", ip))
    text = "\n".join(out) + "\n"
    text = re.sub(r"(?m)^version: (\d+)", lambda x: "version: %d" % (int(x.group(1)) + 1), text)
    open(src, "w").write(text)
    m.ctl("registry", "create", "--source", src, "--root-key",
          os.path.join(m.home, "keys", "root.secret"), "--out",
          os.path.join(m.home, "registry.signed"))
    open(os.path.join(m.home, "run", "pids"), "w").close()
    m.prefix = h.netns(h.city)
    for node in m.nodes:
        ns = h.dist if node == AREA else h.city
        for svc in (["intake", "inspection"] if node.startswith("hn.d.") else
                    ["intake", "routing", "inspection"] if node == "hn.doit" else
                    ["inspection"]):
            m.start(node, svc, prefix=h.netns(ns))


def stream(m):
    h = m.health("hn.doit").get(("hn.doit", "routing"), {})
    for s in h.get("streams", []):
        if s["stream"] == "hn.doit/routing>%s/inspection" % AREA:
            return s
    return {}


def assigned(m):
    evs = m.ctl("--timeout", "2000", "events", "--node", AREA, "--service", "inspection").json
    return [e["ticket"] for e in evs if e["kind"] == "case.assigned"]


def test_cases_cross_a_cut_and_healed_link_exactly_once():
    if os.geteuid() != 0 or sh("ip", "netns", "list", check_rc=False).returncode != 0:
        print("SKIP: network namespaces need root and iproute2", file=sys.stderr)
        return
    with Hosts() as h, Mesh(areas=("hoan-kiem",)) as m:
        move_to_hosts(m, h)
        cs = [dict(c, area="hoan-kiem", category="food_safety")
              for c in complaints(100, seed=30)]
        first = m.submit_file(cs[:50], node="hn.doit").json
        m.wait_for(lambda: len(assigned(m)) == 50, "50 cases across the link", 30)
        check(stream(m).get("connected"), "routing -> area link is up over veth")
        h.link(False)  # cut
        second = m.submit_file(cs[50:], node="hn.doit").json
        # The area keeps working while cut off: its officer accepts a case.
        t = first[0]["ticket"]
        m.prefix = h.netns(h.dist)
        r = m.ctl("case", "accept", t, as_="officer." + AREA)
        check(r.json[0]["state"] == "accepted", "accepted offline: %s" % r.json)
        m.prefix = h.netns(h.city)
        # An empty answer (routing's health not in) is not the cut.
        m.wait_for(lambda: (lambda s: s and not s["connected"])(stream(m)),
                   "heartbeats notice the cut", 20)
        check(stream(m).get("outbox_depth") == 50, "50 wait at the city: %s" % stream(m))
        h.link(True)  # heal
        m.wait_for(lambda: stream(m).get("outbox_depth") == 0, "delivery after the heal", 60)
        tickets = assigned(m)
        want = {j["ticket"] for j in first + second}
        check(len(tickets) == 100 and set(tickets) == want,
              "each of 100 cases assigned once at the area: %d" % len(tickets))
        m.wait_for(lambda: m.status(t)["state"] == "accepted", "the city learns of it", 30)
        m.prefix = []


if __name__ == "__main__":
    run([test_cases_cross_a_cut_and_healed_link_exactly_once])
