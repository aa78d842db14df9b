#!/usr/bin/env python3
"""Text from other nodes is not trusted (issue 5, item 11): a real attack
against real processes.

A registered area node (hn.d.hoan-kiem, whose keys a mesh member holds)
delivers to the city's routing, on a stream of its own, case records with an
escape-laden ticket, a category that is not UTF-8 and a ticket that carries a
forged log line. Routing must keep each as a counted dead letter (never an
event), write no forged line to its log, and cpmctl watch/events keep
working. An officer's refusal note with escape codes (free text may hold
them) must reach cpmctl's output escaped. Records are delivered by
tests/tools/cpm_deliver ($CPM_BUILD/cpm_deliver).
"""
import json
import os
import re
import subprocess

from mesh import BUILD, Mesh, check, run

DELIVER = os.path.join(BUILD, "cpm_deliver")
AREA = "hn.d.hoan-kiem"
COORD = "coordinator.hn.doit"
FORGED = "2026-01-01T00:00:00.000Z hn.doit/routing ERROR registry version 9 loaded"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ (DEBUG|INFO|WARN|ERROR) ")
TICKET = re.compile(r"^[A-Z0-9]+-\d+$")


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


def complaint(ticket, category=b"pricing", area=b"hoan-kiem", node=AREA):
    """A Complaint as intake completes it (field numbers of proto/cpmesh.proto)."""
    return (field(1, ticket) + field(2, "hotline") + field(6, "Shop") + field(8, area) +
            field(9, category) + field(10, "What happened") + field(13, 1767225600000) +
            field(14, node))


def deliver(m, records, as_=AREA, target="hn.doit/routing"):
    cmd = [DELIVER, "--home", m.home, "--as", as_, "--target", target, "--type", "case"]
    for r in records:
        cmd += ["--record", r.hex()]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "cpm_deliver failed (%d): %s %s" % (p.returncode, p.stdout,
                                                                  p.stderr))
    return json.loads(p.stdout)


def counter(m, node, service, name):
    return m.health(node)[(node, service)]["counters"].get(name, 0)


def test_hostile_records_become_dead_letters():
    with Mesh(areas=("hoan-kiem",)) as m:
        head = len(m.events("hn.doit", "routing"))
        dead = counter(m, "hn.doit", "routing", "delivery.dead_letters")
        hostile = [
            complaint(b"HK-00000077\x1b]0;owned\x07\x1b[2J\x1b[31m"),  # escape codes
            complaint(b"HK-00000078", category=b"pricing\xff\xfe\xc0"),  # not UTF-8
            complaint(b"HK-00000079", area=b"hoan-kiem\nINFO x"),  # not a slug
            complaint(("XX-1\n" + FORGED).encode()),  # a forged log line
        ]
        good = complaint(b"HK-00000080")  # after them: the stream must not stall
        out = deliver(m, hostile + [good])
        check(out.get("type") == "ack" and out.get("acked_seq") == 5,
              "routing did not take the batch past the hostile records: %s" % out)
        check(counter(m, "hn.doit", "routing", "delivery.dead_letters") - dead == 4,
              "the four hostile records are not four dead letters")
        m.wait_for(lambda: len(m.events("hn.doit", "routing")) > head, "the good record routed")
        # Only the good record made events; every ticket and detail is clean.
        evs = m.events("hn.doit", "routing")[head:]
        check(evs and all(e["ticket"] == "HK-00000080" for e in evs),
              "hostile records reached routing's event log: %s" % [e["ticket"] for e in evs])
        for e in m.events("hn.doit", "routing"):
            check(TICKET.match(e["ticket"]) and e["detail"].isprintable(),
                  "event %s holds hostile text: %r" % (e["seq"], e))
        # The log: one event per line, each line starting as cpm_log writes it.
        with open(os.path.join(m.home, "logs", "hn.doit.routing.log"), "rb") as f:
            log = f.read()
        check(b"\x1b" not in log, "an escape code reached routing's log")
        bad = [l for l in log.decode("utf-8", "replace").splitlines() if not LOG_LINE.match(l)]
        check(not bad, "routing's log has lines it did not write: %r" % bad[:3])
        check(log.count(b"dead letter") >= 4, "the dead letters are not logged")
        # Watchers keep working and print nothing raw.
        w = subprocess.run([os.path.join(BUILD, "cpmctl"), "watch", "--from-start", "--node",
                            "hn.doit", "--for", "3"], capture_output=True, env=m.env, timeout=60)
        check(w.returncode == 0 and b"HK-00000080" in w.stdout, "watch: %r" % w.stdout[-300:])
        check(b"\x1b" not in w.stdout, "watch printed an escape code")
        r = m.ctl("events", "--node", "hn.doit", "--service", "routing")
        # (the case's later events, case.assigned, may have arrived since)
        check(r.returncode == 0 and len(r.json) >= len(evs) + head and
              all(e["ticket"] in ("HK-00000080",) for e in r.json[head:]),
              "events after the attack: %s" % r.stdout[-300:])


def test_escape_codes_in_a_note_are_printed_escaped():
    """Free text may carry control characters; what prints it must escape them."""
    with Mesh(areas=("hoan-kiem",)) as m:
        t = m.ctl("submit", "--channel", "hotline", "--business", "Shop", "--area",
                  "hoan-kiem", "--category", "food_safety", "--description",
                  "sick").json[0]["ticket"]
        m.wait_for(lambda: m.status(t)["state"] == "assigned", "assignment")
        note = "Not ours\x1b[2J\x1b]0;owned\x07\n" + FORGED + " \u009b31m Vi\u1ec7t Nam"
        m.ctl("case", "refuse", t, "--note", note, as_="officer." + AREA)
        # a refusal is routed on ("not ours"): routing's history keeps the refusal
        refused = lambda: [h for h in m.status(t)["history"] if h["state"] == "refused"]
        m.wait_for(refused, "routing hears of it")
        check(refused()[0]["note"] == note, "the note changed on the way: %r" %
              refused()[0]["note"])  # JSON carries it exactly (escaped by JSON)
        r = subprocess.run([os.path.join(BUILD, "cpmctl"), "--as", COORD, "status", t],
                           capture_output=True, env=m.env, timeout=60)
        out = r.stdout
        check(r.returncode == 0, "status failed: %r" % r.stderr)
        check(b"\x1b" not in out and b"\x07" not in out and b"\xc2\x9b" not in out,
              "status printed control characters raw: %r" % out)
        lines = out.decode().splitlines()
        check(not any(l.startswith("2026-01-01T00:00:00.000Z") for l in lines),
              "the note broke the history line: %r" % lines)
        check(any("Not ours\\x1b[2J" in l and "Vi\u1ec7t Nam" in l for l in lines),
              "the note is not shown escaped, Vietnamese as typed: %r" % lines)
        with open(os.path.join(m.home, "logs", "hn.d.hoan-kiem.inspection.log"), "rb") as f:
            check(b"\x1b" not in f.read(), "inspection's log holds an escape code")


if __name__ == "__main__":
    run([test_hostile_records_become_dead_letters, test_escape_codes_in_a_note_are_printed_escaped])
