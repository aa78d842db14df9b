#!/usr/bin/env python3
"""Reopening restarts the deadlines (issue 7, items 4 and 5), against a real
mesh whose shared clock the test moves forward (see test_deadlines.py).

A food-safety case is received on Monday 7 June 2027, 10:00 Vietnam time
(10 working days to accept: the end of Monday 21 June; reminder at the end of
Thursday 17 June). The Hoan Kiem office lets it lapse: one reminder, one
escalation, flagged overdue. It then accepts, resolves, and a coordinator
reopens the case on Wednesday 23 June, 10:00. The reopened case must be taken
up again within 10 working days of the reopening (the end of Wednesday 7
July) and resolved within 30 (the end of Wednesday 4 August); it is no longer
overdue; the new accept deadline gets its reminder (end of Monday 5 July) and
its escalation once each.
"""
import calendar

from mesh import Mesh, check, run

COORD = "coordinator.hn.doit"
HK = "officer.hn.d.hoan-kiem"


def vn(y, mo, d, h=0, mi=0):
    """A moment in Vietnam time (UTC+7) as Unix ms."""
    return (calendar.timegm((y, mo, d, h, mi, 0)) - 7 * 3600) * 1000


def vn_day_end(y, mo, d):
    return vn(y, mo, d, 23, 59) + 59999


RECEIVED = vn(2027, 6, 7, 10)
REOPENED = vn(2027, 6, 23, 10)


def submit(m, ref):
    return m.ctl("submit", "--channel", "hotline", "--business", "Quan " + ref, "--area",
                 "hoan-kiem", "--category", "food_safety", "--description", "sick after lunch",
                 "--phone", "0912 345 678", "--ref", ref).json[0]["ticket"]


def count(m, kind, ticket):
    return sum(1 for e in m.events("hn.doit", "routing")
               if e.get("kind") == kind and e.get("ticket") == ticket)


def act(m, as_, *args):
    r = m.ctl("case", *args, as_=as_, check_rc=False)
    check(r.returncode == 0, "case %s as %s: %s" % (args, as_, r.stdout + r.stderr))
    return r.json[0]


def routing_says(m, t, state):
    m.wait_for(lambda: m.status(t)["state"] == state, "routing hears %s of %s" % (state, t))
    return m.status(t)


def overdue_list(m):
    return [c["ticket"] for c in m.ctl("cases", "--overdue", as_=COORD).json]


def test_reopen_restarts_deadlines():
    with Mesh(areas=("hoan-kiem",), clock_at=RECEIVED) as m:
        t = submit(m, "ro-1")
        routing_says(m, t, "assigned")
        check(m.status(t)["accept_due_ms"] == vn_day_end(2027, 6, 21), "first accept deadline")

        # The first period lapses: one reminder, one escalation, overdue.
        m.advance_to(vn(2027, 6, 18, 10))
        m.wait_for(lambda: count(m, "case.reminder", t) == 1, "reminder of the first period")
        m.advance_to(vn(2027, 6, 22, 10))
        m.wait_for(lambda: count(m, "case.escalated", t) == 1, "escalation of the first period")
        m.wait_for(lambda: m.status(t)["overdue"], "overdue flag of the first period")
        # Accepted late, resolved, then reopened by a coordinator.
        act(m, HK, "accept", t)
        act(m, HK, "resolve", t, "--outcome", "mediated")
        routing_says(m, t, "resolved")
        m.advance_to(REOPENED)
        act(m, COORD, "reopen", t, "--note", "the shop did not refund")
        st = routing_says(m, t, "reopened")
        check(st["accept_due_ms"] == vn_day_end(2027, 7, 7),
              "accept deadline from the reopening: %s" % st.get("accept_due"))
        check(st["resolve_due_ms"] == vn_day_end(2027, 8, 4),
              "resolve deadline from the reopening: %s" % st.get("resolve_due"))
        check(not st["overdue"] and st.get("overdue_deadline", "") == "",
              "the last period's overdue flag is cleared: %s" % st)
        check(t not in overdue_list(m), "a reopened case is listed overdue")

        # The new accept deadline: its reminder once, then its escalation once.
        m.advance_to(vn(2027, 7, 6, 10))
        m.wait_for(lambda: count(m, "case.reminder", t) == 2, "reminder after the reopening")
        check(count(m, "case.escalated", t) == 1 and not m.status(t)["overdue"],
              "escalated before the new deadline")
        m.advance_to(vn(2027, 7, 8, 10))
        m.wait_for(lambda: count(m, "case.escalated", t) == 2, "escalation after the reopening")
        st = m.status(t)
        check(st["overdue"] and st["overdue_deadline"] == "accept", "overdue again: %s" % st)
        check(t in overdue_list(m), "listed overdue again")

        # A later case escalated proves the watch ran on; t fired nothing more.
        later = submit(m, "ro-2")
        routing_says(m, later, "assigned")
        m.advance(days=30)
        m.wait_for(lambda: count(m, "case.escalated", later) == 1, "the later case escalated")
        check(count(m, "case.reminder", t) == 2 and count(m, "case.escalated", t) == 2,
              "t reminded %d times, escalated %d times" %
              (count(m, "case.reminder", t), count(m, "case.escalated", t)))


if __name__ == "__main__":
    run([test_reopen_restarts_deadlines])
