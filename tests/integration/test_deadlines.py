#!/usr/bin/env python3
"""Deadlines, reminders and escalation across Tet 2027 (issue 7, item 5), and
the consumer's public view of them (item 6), against a real mesh whose shared
clock (CPM_CLOCK_OFFSET_FILE) the test moves forward: every process, and every
cpmctl, reads the same offset, so envelopes keep passing the skew checks.

Cases received on Monday 25 January 2027, 10:00 Vietnam time. With 10 working
days to accept and Tet (5 and 8-11 February 2027) off, the accept deadline is
the end of Monday 15 February (it would be 8 February without the holidays);
the reminder, 2 working days before, goes out at the end of Thursday 4
February (the 12th and the 15th remain).
"""
import calendar
import signal
import subprocess

from mesh import CTL, Mesh, check, run

COORD = "coordinator.hn.doit"
OP = "operator.hn.doit"
PHONE = "0912 345 678"


def vn(y, mo, d, h=0, mi=0):
    """A moment in Vietnam time (UTC+7) as Unix ms."""
    return (calendar.timegm((y, mo, d, h, mi, 0)) - 7 * 3600) * 1000


def vn_day_end(y, mo, d):
    return vn(y, mo, d, 23, 59) + 59999


RECEIVED = vn(2027, 1, 25, 10)
ACCEPT_DUE = vn_day_end(2027, 2, 15)
REMIND_AT = vn_day_end(2027, 2, 4)


def submit(m, category, area, ref):
    r = m.ctl("submit", "--channel", "hotline", "--business", "Shop " + ref, "--area", area,
              "--category", category, "--description", "complaint " + ref, "--phone", PHONE,
              "--consumer-name", "Nguyen Van B", "--ref", ref).json[0]
    return r["ticket"], r["lookup_code"]


def events(m, kind):
    """ticket -> how many events of kind routing logged."""
    out = {}
    for e in m.events("hn.doit", "routing"):
        if e.get("kind") == kind:
            out[e["ticket"]] = out.get(e["ticket"], 0) + 1
    return out


def cases(m, *args, as_=COORD, check_rc=True):
    r = m.ctl("cases", *args, as_=as_, check_rc=check_rc)
    return r if not check_rc else [c["ticket"] for c in r.json]


def test_deadlines_across_tet():
    with Mesh(areas=("hoan-kiem", "ba-dinh"), clock_at=RECEIVED) as m:
        a, code_a = submit(m, "counterfeit_goods", "hoan-kiem", "dl-a")  # hn.qltt
        b, _ = submit(m, "utilities", "ba-dinh", "dl-b")                 # hn.doit, 45 to resolve
        c, _ = submit(m, "food_safety", "hoan-kiem", "dl-c")             # hn.d.hoan-kiem
        for t in (a, b, c):
            m.wait_for(lambda t=t: m.status(t)["state"] == "assigned", "assignment of " + t)
        st = m.status(a)
        check(st["accept_due_ms"] == ACCEPT_DUE,
              "accept deadline across Tet: %s, expected %s" % (st["accept_due"], ACCEPT_DUE))
        check(cases(m, "--due-within", "2d") == [], "nothing is due within 2 days yet")
        check(sorted(cases(m, "--due-within", "30d")) == sorted([a, b, c]), "due within 30d")

        # 3 February: the accept deadline is 6 working days away; no reminder yet.
        m.advance_to(vn(2027, 2, 3, 10))
        # 5 February (a Tet day off): the reminder moment has passed.
        m.advance_to(vn(2027, 2, 5, 10))
        m.wait_for(lambda: all(events(m, "case.reminder").get(t) for t in (a, b, c)),
                   "reminders of the accept deadline")
        reminded = events(m, "case.reminder")
        check(all(reminded[t] == 1 for t in (a, b, c)), "one reminder each: %s" % reminded)
        rem = [e for e in m.events("hn.doit", "routing") if e.get("kind") == "case.reminder"]
        check({e["ticket"]: e["agency"] for e in rem} ==
              {a: "hn.qltt", b: "hn.doit", c: "hn.d.hoan-kiem"},
              "reminders go to the responsible agency: %s" % rem)
        check(sorted(cases(m, "--due-within", "11d")) == sorted([a, b, c]),
              "due within 11 days (across Tet)")
        check(cases(m, "--overdue") == [], "nothing overdue before the deadline")

        # The Hoan Kiem office accepts c in time; a and b are left to lapse.
        m.ctl("case", "accept", c, as_="officer.hn.d.hoan-kiem")
        m.wait_for(lambda: m.status(c)["state"] == "accepted", "routing hears of acceptance")

        # 16 February: the accept deadline of a and b has passed.
        m.advance_to(vn(2027, 2, 16, 10))
        m.wait_for(lambda: all(events(m, "case.escalated").get(t) for t in (a, b)),
                   "escalation of the lapsed accept deadlines")
        m.wait_for(lambda: m.status(a)["overdue"] and m.status(b)["overdue"], "overdue flags")
        st = m.status(a)
        check(st["overdue_deadline"] == "accept", "which deadline: %s" % st)
        check(not m.status(c)["overdue"] and events(m, "case.escalated").get(c) is None,
              "the accepted case is not overdue")
        check(sorted(cases(m, "--overdue")) == sorted([a, b]), "cases --overdue")
        check(cases(m, "--overdue", "--agency", "hn.qltt") == [a], "--overdue --agency")
        text = subprocess.run([CTL, "--as", COORD, "cases", "--overdue"], env=m.env,
                              capture_output=True, text=True).stdout
        check(a in text and "OVERDUE" in text and "2027-02-15 23:59:59 +07" in text,
              "cases as text, in Vietnam time: %s" % text)
        check(cases(m, "--state", "accepted") == [c], "--state accepted")
        check(cases(m, "--area", "ba-dinh") == [b], "--area")
        check(len(cases(m, "--limit", "2")) == 2, "--limit")
        # An agency sees only its own cases; the hotline operator none.
        check(cases(m, "--overdue", as_="officer.hn.qltt") == [a], "an agency's own list")
        r = cases(m, "--agency", "hn.doit", as_="officer.hn.qltt", check_rc=False)
        check(r.returncode == 1 and r.json[0]["code"] == 403 and r.json[0]["field"] == "agency",
              "another agency's list: %s" % r.stdout)
        r = cases(m, as_=OP, check_rc=False)
        check(r.returncode == 1 and r.json[0]["code"] == 403, "operator lists: %s" % r.stdout)

        # The consumer's view: state, agency, deadlines, overdue, history; nothing personal.
        st = m.ctl("status", a, "--code", code_a, as_=OP).json[0]
        check(st["view"] == "public" and st["agency"] == "hn.qltt" and st["overdue"] and
              st["accept_due_ms"] == ACCEPT_DUE and st["overdue_deadline"] == "accept",
              "public view: %s" % st)
        check(PHONE not in str(st) and "Nguyen" not in str(st) and st["rule"] == "" and
              all(h["actor"] == "" and h["note"] == "" for h in st["history"]),
              "the public view shows personal or internal data: %s" % st)
        text = subprocess.run([CTL, "--as", OP, "status", a, "--code", code_a], env=m.env,
                              capture_output=True, text=True).stdout
        check("+07" in text, "deadlines in Vietnam time: %s" % text)

        # SIGKILL routing; a new case d reminded after the restart proves the
        # watch ran again, and nothing fired twice.
        d, _ = submit(m, "pricing", "ba-dinh", "dl-d")
        m.wait_for(lambda: m.status(d)["state"] == "assigned", "assignment of d")
        m.kill("hn.doit", "routing", signal.SIGKILL)
        m.start("hn.doit", "routing")
        m.advance(days=20)
        m.wait_for(lambda: events(m, "case.escalated").get(d), "d escalated after restart")
        check(all(n == 1 for n in events(m, "case.reminder").values()),
              "a reminder fired twice: %s" % events(m, "case.reminder"))
        check(all(n == 1 for n in events(m, "case.escalated").values()),
              "an escalation fired twice: %s" % events(m, "case.escalated"))
        check(events(m, "case.reminder").get(d) == 1, "d was reminded before escalation")
        # One clock for all. A jump of the shared clock (days at once, a test
        # artifact) may catch an envelope sealed a moment before it and checked
        # a moment after: refused as skewed and sent again, nothing lost. Once
        # the clock has settled, no envelope anywhere is refused for its time:
        # new traffic through every hop adds no refusal.
        def skew():
            return {k: h["counters"].get("rejected.clock_skew", 0)
                    for k, h in m.health().items() if h.get("up")}
        settled = skew()
        e, _ = submit(m, "food_safety", "hoan-kiem", "dl-e")
        m.wait_for(lambda: m.status(e)["state"] == "assigned", "assignment of e")
        m.wait_for(m.outbox_empty, "every outbox drained")
        after = skew()
        check(after == settled, "clock skew refusals with a settled clock: %s -> %s"
              % (settled, after))
        check(sum(after.values()) <= 4 * 3, "more skew refusals than the 4 jumps explain: %s"
              % after)

if __name__ == "__main__":
    run([test_deadlines_across_tet])
