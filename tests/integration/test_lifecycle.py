#!/usr/bin/env python3
"""The case lifecycle against a real mesh (issue 7, item 4): a case walked
through accept, start, wait, resume, resolve with an outcome, close and
reopen, with routing following each state; forbidden moves 409, forbidden
actors 403; reopen after the agency's period refused; an agency that does
not hold a case cannot act on it; an offline act sent twice is applied once
with its own time; one consumer's complaints about one business through two
intake nodes are linked, and coordinators see the cluster.
"""
import json
import os
import stat
import time

from mesh import Mesh, check, run

COORD = "coordinator.hn.doit"
OP = "operator.hn.doit"
HK = "officer.hn.d.hoan-kiem"
BD = "officer.hn.d.ba-dinh"


def submit(m, business, area, phone, ref, node=None, category="food_safety"):
    args = ["submit", "--channel", "hotline", "--business", business, "--area", area,
            "--category", category, "--description", "sick after lunch", "--phone", phone,
            "--ref", ref] + (["--node", node] if node else [])
    return m.ctl(*args).json[0]["ticket"]


def case(m, as_, *args):
    r = m.ctl("case", *args, as_=as_, check_rc=False)
    return r.returncode, (r.json[0] if r.json else {})


def state_of(m, t):
    """routing's state of t, or None while routing has not heard of it yet"""
    r = m.ctl("status", t, as_=COORD, check_rc=False)
    return r.json[0].get("state") if r.returncode == 0 and r.json else None


def assigned(m, t):
    m.wait_for(lambda: state_of(m, t) == "assigned", "assignment of " + t)


def routing_says(m, t, state):
    m.wait_for(lambda: state_of(m, t) == state, "routing hears %s of %s" % (state, t))
    return m.status(t)


def key_id(m, member):
    with open(os.path.join(m.home, "keys", member + ".public")) as f:
        return json.load(f)["key_id"]


def test_case_walk_and_forbidden_moves():
    with Mesh(areas=("hoan-kiem", "ba-dinh")) as m:
        t = submit(m, "Pho Walk", "hoan-kiem", "0912 111 222", "walk-1")
        assigned(m, t)
        # forbidden from assigned: 409, nothing changes
        for act in (["start"], ["resolve", "--outcome", "mediated"], ["close"]):
            rc, r = case(m, HK, act[0], t, *act[1:])
            check(rc == 1 and r["code"] == 409, "%s from assigned: %s" % (act, r))
        for act, want in ((["accept"], "accepted"), (["start"], "in_progress"),
                          (["wait", "--note", "receipt requested"], "waiting_consumer"),
                          (["resume"], "in_progress")):
            rc, r = case(m, HK, act[0], t, *act[1:])
            check(rc == 0 and r["state"] == want, "%s: %s" % (act, r))
            routing_says(m, t, want)
        rc, r = case(m, HK, "resolve", t)
        check(rc == 1 and r["code"] == 400 and r["field"] == "outcome", "no outcome: %s" % r)
        rc, r = case(m, HK, "resolve", t, "--outcome", "fined")
        check(rc == 1 and r["code"] == 400 and r["field"] == "fine_vnd", "no fine: %s" % r)
        rc, r = case(m, HK, "resolve", t, "--outcome", "fined", "--fine", "15000000",
                     "--note", "fined under Decree 98/2020")
        check(rc == 0 and r["state"] == "resolved", "resolve: %s" % r)
        st = routing_says(m, t, "resolved")
        check(st["outcome"] == "fined" and st["fine_vnd"] == 15000000, "outcome: %s" % st)
        last = st["history"][-1]
        check(last["outcome"] == "fined" and last["signed"] and
              last["key_id"] == key_id(m, HK) and last["actor"] == HK,
              "the history keeps the officer's signed act: %s" % last)
        check(st["history"][-1]["note"] == "", "routing keeps the officer's note: %s" % last)
        events = m.events("hn.doit", "routing")
        res = [e for e in events if e["kind"] == "case.resolved" and e["ticket"] == t]
        check(len(res) == 1 and "outcome=fined" in json.dumps(res[0]), "event: %s" % res)
        # forbidden from resolved: 409; the agency may not reopen its own case: 403
        rc, r = case(m, HK, "accept", t)
        check(rc == 1 and r["code"] == 409, "accept a resolved case: %s" % r)
        rc, r = case(m, HK, "reopen", t, "--note", "again")
        check(rc == 1 and r["code"] == 403, "the agency reopens: %s" % r)
        rc, r = case(m, HK, "close", t)
        check(rc == 0 and r["state"] == "closed", "close: %s" % r)
        routing_says(m, t, "closed")
        # a coordinator may reopen within the period (30 days), not start the work
        rc, r = case(m, COORD, "reopen", t, "--note", "consumer not refunded")
        check(rc == 0 and r["state"] == "reopened", "coordinator reopen: %s" % r)
        st = routing_says(m, t, "reopened")
        check(st["outcome"] == "", "a reopened case keeps its outcome: %s" % st)
        rc, r = case(m, COORD, "start", t)
        check(rc == 1 and r["code"] == 403, "coordinator starts the work: %s" % r)
        rc, r = case(m, COORD, "show", t)
        check(rc == 1 and r["code"] == 403 and "contact" not in r,
              "a coordinator opens the contact: %s" % r)
        for act, want in ((["start"], "in_progress"),
                          (["resolve", "--outcome", "refunded"], "resolved")):
            rc, r = case(m, HK, act[0], t, *act[1:])
            check(rc == 0 and r["state"] == want, "%s after reopen: %s" % (act, r))
            routing_says(m, t, want)
        # the consumer, through the hotline operator, may reopen too
        rc, r = case(m, OP, "reopen", t, "--note", "consumer calls again", "--node",
                     "hn.d.hoan-kiem")
        check(rc == 0 and r["state"] == "reopened", "operator reopen: %s" % r)
        st = routing_says(m, t, "reopened")
        states = [h["state"] for h in st["history"]]
        check(states == ["received", "routed", "assigned", "accepted", "in_progress",
                         "waiting_consumer", "in_progress", "resolved", "closed", "reopened",
                         "in_progress", "resolved", "reopened"], "history: %s" % states)
        # every signed act in the register verifies against the registry
        r = m.ctl("case", "verify", t, as_=COORD).json[0]
        check(r["ok"] and r["bad"] == 0 and r["checked"] == 10 and
              all(e["result"] == "ok" for e in r["entries"]), "verify: %s" % r)
        check({e["actor"] for e in r["entries"]} == {HK, COORD, OP}, "signers: %s" % r)


def test_reopen_after_the_period_is_refused():
    with Mesh(areas=("hoan-kiem", "ba-dinh")) as m:
        cfg = os.path.join(m.home, "etc", "hn.d.ba-dinh.inspection.yaml")
        with open(cfg, "a") as f:
            f.write("reopen_period_s: 2\n")
        m.kill("hn.d.ba-dinh", "inspection")
        m.start("hn.d.ba-dinh", "inspection")
        t = submit(m, "Bun Late", "ba-dinh", "0912 333 444", "late-1")
        assigned(m, t)
        for act in (["accept"], ["resolve", "--outcome", "no_violation"]):
            rc, r = case(m, BD, act[0], t, *act[1:])
            check(rc == 0, "%s: %s" % (act, r))
        st = routing_says(m, t, "resolved")
        resolved_ms = [h for h in st["history"] if h["state"] == "resolved"][-1]["at_ms"]
        # the period is over once two seconds passed after the resolution
        while time.time() * 1000 < resolved_ms + 2500:
            time.sleep(0.2)
        rc, r = case(m, COORD, "reopen", t, "--note", "too late")
        check(rc == 1 and r["code"] == 409 and "period" in r["message"],
              "reopen after the period: %s" % r)
        check(m.status(t)["state"] == "resolved", "the case moved")


def test_agency_not_holding_the_case_is_refused():
    with Mesh(areas=("hoan-kiem", "ba-dinh")) as m:
        t = submit(m, "Pho Other", "hoan-kiem", "0912 555 666", "other-1")
        assigned(m, t)
        rc, r = case(m, BD, "accept", t, "--node", "hn.d.hoan-kiem")
        check(rc == 1 and r["code"] == 403 and r["field"] == "sender",
              "another agency's officer acts: %s" % r)
        rc, r = case(m, BD, "accept", t)  # at its own node, which does not hold it
        check(rc == 1 and r["code"] == 404 and r["field"] == "ticket", "own node: %s" % r)
        check(m.status(t)["state"] == "assigned", "the case moved")
        h = m.health("hn.d.hoan-kiem")[("hn.d.hoan-kiem", "inspection")]
        check(h["counters"].get("case.action_forbidden", 0) >= 1,
              "the refusal is not counted: %s" % h["counters"])


def test_offline_act_applied_once_with_its_own_time():
    with Mesh(areas=("hoan-kiem",)) as m:
        t = submit(m, "Pho Offline", "hoan-kiem", "0912 777 888", "off-1")
        assigned(m, t)
        at = [h for h in m.status(t)["history"] if h["state"] == "assigned"][0]["at_ms"] + 1
        # recorded on a cut-off tablet at `at`, sent later, and sent again
        while time.time() * 1000 < at + 1500:
            time.sleep(0.2)
        first = case(m, HK, "accept", t, "--client-id", "tablet-3.0001", "--acted-ms", str(at))
        again = case(m, HK, "accept", t, "--client-id", "tablet-3.0001", "--acted-ms", str(at))
        check(first[0] == 0 and not first[1]["duplicate"], "first send: %s" % (first,))
        check(again[0] == 0 and again[1]["duplicate"] and again[1]["state"] == "accepted",
              "second send: %s" % (again,))
        st = routing_says(m, t, "accepted")
        acc = [h for h in st["history"] if h["state"] == "accepted"]
        check(len(acc) == 1 and acc[0]["at_ms"] == at, "applied once at its time: %s" % acc)
        check(acc[0]["received_ms"] >= at + 1500, "receipt time beside it: %s" % acc)
        # an act that says it happened before the case was assigned: refused
        rc, r = case(m, HK, "start", t, "--client-id", "tablet-3.0002", "--acted-ms",
                     str(at - 60000))
        check(rc == 1 and r["code"] == 400 and r["field"] == "acted_ms", "too early: %s" % r)
        rc, r = case(m, HK, "start", t, "--client-id", "tablet-3.0003", "--acted-ms",
                     str(int(time.time() * 1000) + 3600 * 1000))
        check(rc == 1 and r["code"] == 400 and r["field"] == "acted_ms", "future: %s" % r)
        evs = [e for e in m.events("hn.doit", "routing")
               if e["kind"] == "case.accepted" and e["ticket"] == t]
        check(len(evs) == 1, "accepted twice in routing's events: %s" % evs)


def test_duplicates_linked_across_intakes_and_clusters():
    with Mesh(areas=("hoan-kiem", "ba-dinh")) as m:
        keyf = os.path.join(m.home, "keys", "consumer.key")
        mode = os.stat(keyf).st_mode
        check(stat.S_IMODE(mode) == 0o600 and os.path.getsize(keyf) == 32,
              "consumer key file: %o" % mode)
        a = submit(m, "Phở Ngon", "hoan-kiem", "0912 345 678", "dup-a", node="hn.d.hoan-kiem")
        m.wait_for(lambda: state_of(m, a) in ("routed", "assigned"), "routing of a")
        b = submit(m, "PHO NGON!", "hoan-kiem", "+84 912 345 678", "dup-b", node="hn.doit")
        c = submit(m, "Pho Ngon", "hoan-kiem", "0987 654 321", "dup-c", node="hn.doit")
        d = submit(m, "Pho Ngon", "ba-dinh", "0912 345 678", "dup-d", node="hn.d.ba-dinh")
        for t in (b, c, d):
            m.wait_for(lambda: state_of(m, t) in ("routed", "assigned"), "routing")
        check(a.split("-")[0] != b.split("-")[0], "one intake issued both: %s %s" % (a, b))
        sb = m.status(b)
        check(sb["linked_to"] == a, "not linked: %s" % sb)
        check(m.status(c)["linked_to"] == "" and m.status(d)["linked_to"] == "",
              "another consumer or area linked")
        check(m.status(a)["linked_to"] == "", "the first case links")
        for t in (a, b):  # linked, never dropped: both are with the agency
            assigned(m, t)
        evs = [e for e in m.events("hn.doit", "routing") if e["kind"] == "case.linked"]
        check(len(evs) == 1 and evs[0]["ticket"] == b, "case.linked: %s" % evs)
        check("0912" not in json.dumps(m.events("hn.doit", "routing")), "phone in events")
        r = m.ctl("clusters", as_=COORD).json[0]
        cl = [k for k in r["clusters"] if k["business"] == "pho ngon" and
              k["area"] == "hoan-kiem"]
        check(len(cl) == 1 and cl[0]["consumers"] == 2 and cl[0]["cases"] == 3 and
              cl[0]["first_ticket"] == a, "cluster: %s" % r)
        check(not any(k["area"] == "ba-dinh" for k in r["clusters"]), "one consumer clusters")
        r = m.ctl("clusters", "--min", "3", as_=COORD).json[0]
        check(r["clusters"] == [], "min 3: %s" % r)
        for who in (HK, OP):
            res = m.ctl("clusters", as_=who, check_rc=False)
            check(res.returncode == 1 and res.json[0]["code"] == 403, "%s: %s" % (who, res.json))


if __name__ == "__main__":
    run([test_case_walk_and_forbidden_moves, test_reopen_after_the_period_is_refused,
         test_agency_not_holding_the_case_is_refused,
         test_offline_act_applied_once_with_its_own_time,
         test_duplicates_linked_across_intakes_and_clusters])
