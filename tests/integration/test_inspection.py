#!/usr/bin/env python3
"""Inspections at an agency's node against a real mesh (issue 8, item 1 and
5): an officer plans an inspection from a case (checklist from the category's
template), assigns it to an inspector, lists and shows it; the review with
outcome fined resolves the case at routing (cpmctl status) and the event
streams carry it; a campaign plans one inspection per business; a forbidden
move (409) and senders who may not (403) are refused with nothing written.
"""
import os
import subprocess

from mesh import BUILD, CTL, Mesh, check, run

COORD = "coordinator.hn.doit"
HK = "officer.hn.d.hoan-kiem"
BD = "officer.hn.d.ba-dinh"
NODE = "hn.d.hoan-kiem"
INSP1 = "inspector1." + NODE
INSP2 = "inspector2." + NODE


def submit(m, business, ref):
    return m.ctl("submit", "--channel", "hotline", "--business", business, "--area",
                 "hoan-kiem", "--category", "food_safety", "--description",
                 "sick after lunch", "--phone", "0912 111 222", "--ref", ref).json[0]["ticket"]


def state_of(m, t):
    r = m.ctl("status", t, as_=COORD, check_rc=False)
    return r.json[0].get("state") if r.returncode == 0 and r.json else None


def insp(m, as_, *args):
    r = m.ctl("inspection", *args, as_=as_, check_rc=False)
    return r.returncode, (r.json[0] if r.json else {})


def text_of(m, as_, *args):
    """cpmctl's text output (no --json), through a pipe as a script sees it"""
    r = subprocess.run(m.prefix + [CTL, "--as", as_] + list(args), capture_output=True,
                       text=True, env=m.env, timeout=120)
    check(r.returncode == 0, "cpmctl %s: %s %s" % (args, r.stdout, r.stderr))
    return r.stdout


def inspection_events(m):
    return [e for e in m.events(NODE, "inspection") if e["kind"].startswith("inspection.")]


def test_plan_assign_review_resolves_the_case():
    with Mesh(areas=("hoan-kiem", "ba-dinh")) as m:
        t = submit(m, "Quán Phở Ngon", "insp-1")
        m.wait_for(lambda: state_of(m, t) == "assigned", "assignment of " + t)
        rc, r = insp(m, HK, "plan", "--ticket", t, "--due", "2030-01-31")
        check(rc == 0, "plan: %s" % r)
        i = r["inspections"][0]
        iid = i["id"]
        check(iid.startswith(NODE + "/I") and i["state"] == "planned", "planned: %s" % i)
        check(i["business"] == "Quán Phở Ngon" and i["tickets"] == [t] and
              i["category"] == "food_safety" and i["area"] == "hoan-kiem", "from the case: %s" % i)
        codes = [c["code"] for c in i["checklist"]]
        check("food-safety-cert" in codes, "food_safety checklist: %s" % codes)
        check(any("an toàn thực phẩm" in c["text"] for c in i["checklist"]),
              "Vietnamese text as typed: %s" % i["checklist"])
        # review before assignment: a move the state does not allow
        rc, r = insp(m, HK, "review", iid, "--outcome", "no_violation")
        check(rc == 1 and r["code"] == 409 and r["field"] == "state", "review planned: %s" % r)
        # assign: only inspectors of this agency
        rc, r = insp(m, HK, "assign", iid, "--lead", BD)
        check(rc == 1 and r["code"] == 400 and r["field"] == "lead", "officer as lead: %s" % r)
        rc, r = insp(m, HK, "assign", iid, "--lead", INSP1, "--team", INSP2)
        check(rc == 0 and r["inspections"][0]["state"] == "assigned" and
              r["inspections"][0]["lead"] == INSP1 and r["inspections"][0]["team"] == [INSP2],
              "assign: %s" % r)
        # list and show, also as the inspector (who sees their own)
        rc, r = insp(m, HK, "list", "--state", "assigned")
        check(rc == 0 and [x["id"] for x in r["inspections"]] == [iid], "list: %s" % r)
        rc, r = insp(m, INSP1, "list")
        check(rc == 0 and [x["id"] for x in r["inspections"]] == [iid], "inspector list: %s" % r)
        rc, r = insp(m, HK, "show", iid)
        check(rc == 0 and r["inspections"][0]["id"] == iid and r["records"] == [], "show: %s" % r)
        text = text_of(m, HK, "inspection", "show", iid)
        check("+07" in text and "\x1b[" not in text, "zone shown, no colour in a pipe")
        # close before review: refused, nothing written
        before = len(inspection_events(m))
        rc, r = insp(m, HK, "close", iid)
        check(rc == 1 and r["code"] == 409 and r["field"] == "state", "close assigned: %s" % r)
        check(len(inspection_events(m)) == before, "a refused close writes nothing")
        # review: fined without a fine (the findings propose none)
        rc, r = insp(m, HK, "review", iid, "--outcome", "fined")
        check(rc == 1 and r["code"] == 400 and r["field"] == "fine_vnd", "no fine: %s" % r)
        rc, r = insp(m, HK, "review", iid, "--outcome", "fined", "--fine", "15000000",
                     "--note", "Phạt theo Nghị định 115/2018")
        check(rc == 0, "review: %s" % r)
        i = r["inspections"][0]
        check(i["state"] == "reviewed" and i["outcome"] == "fined" and
              i["fine_vnd"] == 15000000, "reviewed: %s" % i)
        text = text_of(m, HK, "inspection", "show", iid)
        check("15.000.000 VND" in text, "VND formatted: %s" % text)
        # the case is resolved at routing, with the outcome and the fine
        m.wait_for(lambda: state_of(m, t) == "resolved", "routing hears resolved")
        st = m.status(t)
        check(st["outcome"] == "fined" and st["fine_vnd"] == 15000000, "routing: %s" % st)
        check(st["history"][-1]["actor"] == HK, "resolved by the reviewer: %s" % st["history"])
        kinds = [e["kind"] for e in inspection_events(m)]
        check(kinds == ["inspection.planned", "inspection.assigned", "inspection.reviewed"],
              "inspection events: %s" % kinds)
        check(any(e["kind"] == "case.resolved" and e["ticket"] == t
                  for e in m.events("hn.doit", "routing")), "routing's stream has it")
        rc, r = insp(m, HK, "close", iid)
        check(rc == 0 and r["inspections"][0]["state"] == "closed", "close: %s" % r)
        rc, r = insp(m, HK, "review", iid, "--outcome", "no_violation")
        check(rc == 1 and r["code"] == 409, "review closed: %s" % r)


def test_campaign_and_senders_who_may_not():
    with Mesh(areas=("hoan-kiem", "ba-dinh")) as m:
        rc, r = insp(m, HK, "plan", "--campaign", "Trước Tết: chợ thực phẩm",
                     "--business", "Chợ Hàng Bè", "--business", "Chợ Đồng Xuân",
                     "--category", "food_safety", "--area", "hoan-kiem")
        check(rc == 0 and len(r["inspections"]) == 2, "campaign: %s" % r)
        check(sorted(x["business"] for x in r["inspections"]) == ["Chợ Hàng Bè", "Chợ Đồng Xuân"],
              "one per business: %s" % r)
        iid = r["inspections"][0]["id"]
        before = inspection_events(m)
        # the coordinator may plan too (with --node)
        rc, r = insp(m, COORD, "list", "--node", NODE)
        check(rc == 0 and len(r["inspections"]) == 2, "coordinator list: %s" % r)
        # another agency's officer: 403, nothing written
        rc, r = insp(m, BD, "assign", iid, "--lead", INSP1)
        check(rc == 1 and r["code"] == 403, "other agency assigns: %s" % r)
        rc, r = insp(m, BD, "plan", "--node", NODE, "--campaign", "x", "--business", "y",
                     "--category", "food_safety", "--area", "hoan-kiem")
        check(rc == 1 and r["code"] == 403, "other agency plans: %s" % r)
        # an inspector may not plan (the registry does not let them send it)
        rc, r = insp(m, INSP1, "plan", "--campaign", "x", "--business", "y",
                     "--category", "food_safety", "--area", "hoan-kiem")
        check(rc == 1 and r["code"] == 403, "inspector plans: %s" % r)
        # a campaign over 200 businesses
        many = []
        for k in range(201):
            many += ["--business", "B%d" % k]
        rc, r = insp(m, HK, "plan", "--campaign", "big", "--category", "pricing",
                     "--area", "hoan-kiem", *many)
        check(rc == 1 and r["code"] == 413 and r["field"] == "businesses", "201: %s" % r)
        check(inspection_events(m) == before, "refusals wrote nothing")
        rc, r = insp(m, HK, "list")
        check(rc == 0 and len(r["inspections"]) == 2, "still two: %s" % r)
        h = m.health(NODE)[(NODE, "inspection")]
        counters = h.get("counters", h)
        check(counters.get("inspection.forbidden", 0) >= 2 and
              counters.get("inspection.refused", 0) >= 1, "counted: %s" % counters)

        # a wrong checklists file stops the service at start, naming the line
        m.kill("hn.d.ba-dinh", "inspection")
        etc = os.path.join(m.home, "etc")
        with open(os.path.join(etc, "bad-checklists.yaml"), "w") as f:
            f.write("templates:\n  - category: pricing\n    items:\n"
                    "      - {code: a, text: x}\n      - {code: a, text: y}\n")
        with open(os.path.join(etc, "hn.d.ba-dinh.inspection.yaml")) as f:
            cfg = f.read().replace("checklists: checklists.yaml",
                                   "checklists: bad-checklists.yaml")
        bad = os.path.join(etc, "bad.inspection.yaml")
        with open(bad, "w") as f:
            f.write(cfg)
        r = subprocess.run([os.path.join(BUILD, "cpmesh-inspection"), "--config", bad],
                           capture_output=True, text=True, env=m.env, timeout=60)
        check(r.returncode != 0 and "bad-checklists.yaml line 5" in r.stderr,
              "bad checklists: %d %s" % (r.returncode, r.stderr))


if __name__ == "__main__":
    run([test_plan_assign_review_resolves_the_case, test_campaign_and_senders_who_may_not])
