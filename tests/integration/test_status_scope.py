#!/usr/bin/env python3
"""Status is scoped (issue 5, item 13), against a real mesh: officers read
their own agency's cases only, coordinators read all, and the public view
(what a hotline operator may read to a consumer) needs the ticket's lookup
code and shows no notes, no officers and no contact. Tickets are sequential,
so a case that may not be shown is answered exactly like an unknown ticket.
"""
from mesh import Mesh, check, run

COORD = "coordinator.hn.doit"
OP = "operator.hn.doit"  # the default identity of a local mesh
PHONE = "0912 345 678"
NOTE = "Not ours: the consumer Nguyen Van A says the shop is in Ba Dinh"


def status(m, ticket, as_, *extra):
    r = m.ctl("status", ticket, *extra, as_=as_, check_rc=False)
    return r.returncode, r.json[0] if r.json else {}


def test_status_is_scoped():
    with Mesh(areas=("hoan-kiem", "ba-dinh")) as m:
        sub = m.ctl("submit", "--channel", "hotline", "--business", "Pho Co", "--area",
                    "hoan-kiem", "--category", "food_safety", "--description", "sick",
                    "--consumer-name", "Nguyen Van A", "--phone", PHONE, "--ref",
                    "scope-1").json[0]
        t, code = sub["ticket"], sub.get("lookup_code", "")
        check(len(code) == 10, "submit gives no lookup code: %s" % sub)
        again = m.ctl("submit", "--channel", "hotline", "--business", "Pho Co", "--area",
                      "hoan-kiem", "--category", "food_safety", "--description", "sick",
                      "--consumer-name", "Nguyen Van A", "--phone", PHONE, "--ref",
                      "scope-1").json[0]
        check(again["duplicate"] and again["lookup_code"] == code,
              "a resubmission gives another code: %s" % again)
        m.wait_for(lambda: m.status(t)["state"] == "assigned", "assignment")
        m.ctl("case", "refuse", t, "--note", NOTE, as_="officer.hn.d.hoan-kiem")
        # "Not ours": routing re-routes the case (no other rule: triage, hn.doit)
        m.wait_for(lambda: (lambda s: s["agency"] == "hn.doit" and s["state"] == "assigned")(
            m.status(t)), "routing hears of the refusal and re-routes")
        notes = lambda st: [h["note"] for h in st.get("history", []) if h["state"] == "refused"]

        # Coordinators see everything, notes included.
        rc, st = status(m, t, COORD)
        check(rc == 0 and st["view"] == "full" and notes(st) == [NOTE], "coordinator: %s" % st)
        # The officers of the agency holding it too.
        rc, st = status(m, t, "officer.hn.doit")
        check(rc == 0 and st["view"] == "agency" and notes(st) == [NOTE], "own officer: %s" % st)
        # Another agency's officers do not, and cannot tell it from an unknown ticket.
        unknown = "DOIT-%08d" % 99999
        for officer in ("officer.hn.d.ba-dinh", "officer.hn.qltt", "officer.hn.d.hoan-kiem"):
            rc, st = status(m, t, officer)
            check(rc == 1 and st["code"] == 404 and st["field"] == "ticket",
                  "%s read another agency's case: %s" % (officer, st))
            check(NOTE not in str(st), "%s saw the note in the error" % officer)
            rc, st2 = status(m, unknown, officer)
            check(st2["message"] == st["message"].replace(t, unknown),
                  "a hidden case reads unlike an unknown ticket: %s / %s" % (st, st2))
        # The hotline operator: only with the lookup code.
        rc, st = status(m, t, OP)
        check(rc == 1 and st["code"] == 404 and st["field"] == "ticket",
              "operator without the code: %s" % st)
        wrong = ("0" if code[0] != "0" else "1") + code[1:]
        rc, st = status(m, t, OP, "--code", wrong)
        check(rc == 1 and st["code"] == 404 and st["field"] == "ticket",
              "operator with a wrong code: %s" % st)
        rc, st = status(m, t, OP, "--code", "not-a-code")
        check(rc == 1 and st["code"] == 400 and st["field"] == "lookup_code",
              "malformed code: %s" % st)
        rc, st = status(m, t, OP, "--code", code)
        check(rc == 0 and st["view"] == "public" and st["state"] == "assigned" and
              st["agency"] == "hn.doit", "public view: %s" % st)
        check(all(h["note"] == "" and h["actor"] == "" for h in st["history"]) and
              st["rule"] == "" and st["intake_node"] == "",
              "the public view shows notes, officers or rules: %s" % st)
        check(PHONE not in str(st) and "Nguyen" not in str(st), "the public view shows contact")
        check([h["state"] for h in st["history"]] ==
              ["received", "routed", "assigned", "refused", "transferred", "routed", "assigned"],
              "public history: %s" % st)
        # Another agency's officer with the consumer's code sees what the consumer sees.
        rc, st = status(m, t, "officer.hn.d.ba-dinh", "--code", code)
        check(rc == 0 and st["view"] == "public" and st["history"][-1]["note"] == "",
              "code from another officer: %s" % st)
        # cpmctl case acts as who runs it: the operator, no officer of the agency,
        # is refused and does not become one (nor a coordinator) to act.
        r = m.ctl("case", "accept", t, check_rc=False)
        check(r.returncode == 1 and r.json and r.json[0].get("code") in (403, 404),
              "case as the operator: %s" % r.stdout)
        check(m.status(t)["state"] == "assigned", "the operator changed nothing")
        r = m.ctl("case", "accept", t, as_="officer.hn.d.hoan-kiem", check_rc=False)
        check(r.json and r.json[0].get("code") == 409, "case as its officer: %s" % r.stdout)
        h = m.health("hn.doit")[("hn.doit", "routing")]["counters"]
        check(h.get("status.not_visible", 0) >= 5, "hidden answers are not counted: %s" % h)


if __name__ == "__main__":
    run([test_status_is_scoped])
