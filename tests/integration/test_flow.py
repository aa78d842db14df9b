#!/usr/bin/env python3
"""Complaints flow across a real local mesh: intake -> routing -> the agency's
inspection service, exactly once, while services are killed with SIGKILL."""
import collections
import os
import signal
import threading
import time

from mesh import Mesh, check, complaints, run

INTAKES = ["hn.doit", "hn.d.hoan-kiem", "hn.d.ba-dinh", "hn.d.cau-giay"]


def submit_spread(m, cs):
    """Submit cs round-robin over the intake nodes; returns {ticket: complaint}."""
    out = {}
    for k, node in enumerate(INTAKES):
        part = cs[k::len(INTAKES)]
        r = m.submit_file(part, node=node)
        oks = [j for j in r.json if j.get("ok")]
        check(len(oks) == len(part), "%s: %d of %d recorded" % (node, len(oks), len(part)))
        for j in oks:
            out[j["ticket"]] = part[j["line"] - 1]
    return out


def assigned_events(m):
    """ticket -> [nodes whose inspection log has case.assigned for it]"""
    seen = collections.defaultdict(list)
    for node in m.nodes:
        for ev in m.events(node, "inspection"):
            check(ev["chain_ok"], "%s/inspection event %d breaks the chain" % (node, ev["seq"]))
            if ev["kind"] == "case.assigned":
                seen[ev["ticket"]].append(node)
    return seen


def check_exactly_once(m, tickets):
    m.wait_for(m.outbox_empty, "every outbox to drain", seconds=120)
    seen = assigned_events(m)
    check(len(tickets) == len(set(tickets)), "tickets are not unique")
    wrong = []
    for t, c in tickets.items():
        want = m.expected_agency(c["category"], c["area"])
        if seen.get(t) != [want]:
            wrong.append((t, want, seen.get(t)))
    check(not wrong, "%d tickets not assigned exactly once to the right agency, e.g. %s"
          % (len(wrong), wrong[:3]))
    extra = set(seen) - set(tickets)
    check(not extra, "assignments for unknown tickets: %s" % list(extra)[:3])
    routed = collections.Counter(ev["ticket"] for ev in m.events("hn.doit", "routing")
                                 if ev["kind"] == "case.routed")
    check(all(routed[t] == 1 for t in tickets), "a ticket was routed more than once")


def test_thousand_complaints_reach_the_right_agency_once():
    with Mesh() as m:
        tickets = submit_spread(m, complaints(1000, seed=1))
        check(len(tickets) == 1000, "1000 tickets")
        check_exactly_once(m, tickets)
        for t in list(tickets)[:40]:  # the city register agrees, and says which rule
            st = m.status(t)
            c = tickets[t]
            check(st["agency"] == m.expected_agency(c["category"], c["area"]),
                  "status of %s names %s" % (t, st["agency"]))
            check(st["rule"] and st["accept_due"] != "-", "status of %s lacks rule/deadline" % t)
            check(st["state"] == "assigned", "state of %s is %s" % (t, st["state"]))


def test_concurrent_load_is_refused_nowhere():
    """3,000 complaints without client references from three intakes at once:
    all recorded, and no service refuses any of the mesh's own messages (a
    replay window too narrow for traffic on several connections would)."""
    with Mesh() as m:
        import subprocess
        import threading
        cs = complaints(3000, seed=6)
        for c in cs:
            del c["client_ref"]  # cpmctl makes them up; more than one buffer's worth
        results = {}

        def one(node):
            results[node] = m.submit_file(cs, node=node, check_rc=False)

        ths = [threading.Thread(target=one, args=(n,)) for n in INTAKES[:3]]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        for node, r in results.items():
            oks = [j for j in r.json if j.get("ok")]
            check(r.returncode == 0 and len(oks) == 3000, "%s: %d of 3000 recorded: %s"
                  % (node, len(oks), [j for j in r.json if not j.get("ok")][:1]))
        m.wait_for(m.outbox_empty, "delivery", seconds=90)
        for (node, svc), h in m.health().items():
            bad = {k: v for k, v in h["counters"].items()
                   if v and (k.startswith("rejected.") or k == "delivery.dead_letters")}
            check(not bad, "%s/%s refused its own mesh's messages: %s" % (node, svc, bad))
        routed = sum(1 for e in m.events("hn.doit", "routing") if e["kind"] == "case.routed")
        check(routed == 9000, "9000 routed, not %d" % routed)


def test_file_errors_name_the_line_and_field():
    with Mesh() as m:
        cs = complaints(3, seed=7)
        cs[1]["area"] = "atlantis"
        r = m.submit_file(cs, check_rc=False)
        check(r.returncode == 1, "exit 1 when a line fails")
        bad = [j for j in r.json if not j.get("ok")]
        check(len(bad) == 1 and bad[0]["field"] == "area" and "line 2" in bad[0]["message"],
              "the error names line 2 and the field: %s" % bad)
        check(len([j for j in r.json if j.get("ok")]) == 2, "the other lines are recorded")
        # lines that are not complaints at all: each refused, naming what is wrong
        path = os.path.join(m.home, "bad.jsonl")
        with open(path, "w") as f:
            f.write('[1, 2]\n{"channel": 5}\n{"urgent": "yes"}\nnot json\n')
        r = m.ctl("submit", "--file", path, check_rc=False)
        errs = [j for j in r.json if not j.get("ok")]
        check(r.returncode == 1 and len(errs) == 4, "4 bad lines refused: %s" % r.json)
        check([e["field"] for e in errs[1:3]] == ["channel", "urgent"],
              "type errors name the field: %s" % errs)
        check("JSON object" in errs[0]["message"] and "line 4" in errs[3]["message"],
              "non-objects and unparsable lines are named: %s" % errs)
        again = dict(cs[0], description="something else entirely")
        r = m.submit_file([again], check_rc=False)
        check(r.json[0]["code"] == 409 and r.json[0]["field"] == "client_ref",
              "a reference reused for a different complaint is a conflict: %s" % r.json)


def test_resubmission_returns_the_same_ticket_and_records_nothing():
    with Mesh() as m:
        cs = complaints(50, seed=2)
        first = m.submit_file(cs).json
        m.wait_for(m.outbox_empty, "delivery")
        head = len(m.events("hn.doit", "intake"))
        again = m.submit_file(cs).json
        check([j["ticket"] for j in first] == [j["ticket"] for j in again], "same tickets")
        check(all(j["duplicate"] for j in again), "resubmissions flagged as duplicates")
        check(len(m.events("hn.doit", "intake")) == head, "no new intake events")


def flow_with_kills(m, cs, victims, rounds=3):
    """Submit cs in chunks while victims are killed with SIGKILL and restarted."""
    tickets = {}
    errors = []

    def submitter():
        try:
            for i in range(0, len(cs), 100):
                tickets.update(submit_spread(m, cs[i:i + 100]))
                time.sleep(0.15)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    th = threading.Thread(target=submitter)
    th.start()
    for _ in range(rounds):
        time.sleep(0.3)
        for node, svc in victims:
            m.kill(node, svc, signal.SIGKILL)
        time.sleep(0.2)
        for node, svc in victims:
            m.start(node, svc)
    th.join()
    check(not errors, "submission failed: %s" % errors[:1])
    return tickets


def test_routing_killed_mid_flow_loses_nothing_and_applies_once():
    with Mesh() as m:
        tickets = flow_with_kills(m, complaints(1000, seed=3), [("hn.doit", "routing")])
        check(len(tickets) == 1000, "1000 tickets acknowledged")
        check_exactly_once(m, tickets)


def test_intake_and_inspection_killed_mid_flow():
    with Mesh() as m:
        victims = [("hn.d.hoan-kiem", "intake"), ("hn.d.ba-dinh", "inspection"),
                   ("hn.qltt", "inspection")]
        tickets = flow_with_kills(m, complaints(600, seed=4), victims)
        check(len(tickets) == 600, "600 tickets acknowledged")
        check_exactly_once(m, tickets)


def test_area_node_down_then_back():
    with Mesh() as m:
        m.kill("hn.d.ba-dinh", "intake")
        m.kill("hn.d.ba-dinh", "inspection")
        cs = [dict(c, area="ba-dinh", category="food_safety")
              for c in complaints(200, seed=5)]
        tickets = submit_spread(m, cs[:0]) or {}
        r = m.submit_file(cs, node="hn.doit")
        for j in r.json:
            tickets[j["ticket"]] = cs[j["line"] - 1]
        check(len(tickets) == 200, "200 recorded while the area is down")
        def depth():
            return {s["stream"]: s["outbox_depth"]
                    for s in m.health("hn.doit")[("hn.doit", "routing")]["streams"]}
        # Each hop may wait delivery_linger_ms: wait for routing to have them all.
        m.wait_for(lambda: depth().get("hn.doit/routing>hn.d.ba-dinh/inspection") == 200,
                   "200 assignments waiting in routing's outbox", 30)
        time.sleep(1.0)  # and still waiting a while later
        some = list(tickets)[:5]
        check(all(m.status(t)["state"] == "routed" for t in some),
              "cases wait as routed while their office is down")
        check(depth().get("hn.doit/routing>hn.d.ba-dinh/inspection") == 200,
              "200 assignments wait in routing's outbox: %s" % depth())
        m.start("hn.d.ba-dinh", "inspection")
        m.start("hn.d.ba-dinh", "intake")
        check_exactly_once(m, tickets)
        check(all(m.status(t)["state"] == "assigned" for t in some), "assigned after return")


if __name__ == "__main__":
    run([test_thousand_complaints_reach_the_right_agency_once,
         test_resubmission_returns_the_same_ticket_and_records_nothing,
         test_concurrent_load_is_refused_nowhere,
         test_file_errors_name_the_line_and_field,
         test_routing_killed_mid_flow_loses_nothing_and_applies_once,
         test_intake_and_inspection_killed_mid_flow,
         test_area_node_down_then_back])
