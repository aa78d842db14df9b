#!/usr/bin/env python3
"""A coordinator's choice of category on a real mesh (issue 12): a complaint
filed as "other" goes to triage (hn.doit); `cpmctl case assign T --category
food_safety` sets the category, records who chose it, routes the case again
by the food_safety rule (R02-food: the area's office) and publishes
case.categorized; an officer is refused (403), an unknown category is refused
naming the field; the monitor counts the choice (here with no suggestion:
the model may not run in this mesh) and `cpmctl triage stats` shows it."""
import subprocess

from mesh import CTL, Mesh, check, run

COORD = "coordinator.hn.doit"


def submit(m):
    r = m.ctl("submit", "--channel", "hotline", "--business", "Quan com Ba Hoa",
              "--area", "hoan-kiem", "--category", "other", "--phone", "0912345678",
              "--description", "An com xong ca nha bi dau bung")
    return r.json[0]["ticket"]


def assign(m, *args, as_=COORD, check_rc=True):
    return m.ctl("case", "assign", *args, as_=as_, check_rc=check_rc).json[0]


def counter(m, service, name):
    return sum(h.get("counters", {}).get(name, 0)
               for (node, svc), h in m.health().items() if svc == service)


def test_coordinator_chooses_category():
    with Mesh(areas=("hoan-kiem",), monitor=True) as m:
        t = submit(m)
        m.wait_for(lambda: m.status(t)["agency"] == "hn.doit", "%s at triage (hn.doit)" % t)

        # refusals first: nothing of them may stay
        r = assign(m, t, "--category", "food_safety", as_="officer.hn.d.hoan-kiem",
                   check_rc=False)
        check(not r["ok"] and r["code"] == 403, "an officer may not choose: %s" % r)
        r = assign(m, t, "--category", "fortune_telling", check_rc=False)
        check(not r["ok"] and r["code"] == 400 and r["field"] == "category" and
              "fortune_telling" in r["message"], "unknown category names the field: %s" % r)
        check(counter(m, "routing", "case_categorize.refused") >= 1, "refusal counted")
        s = m.status(t)
        check(s["category"] == "other" and s["category_by"] == "", "unchanged: %s" % s)

        r = assign(m, t, "--category", "food_safety", "--note", "read the call notes")
        check(r["ok"] and r["agency"] == "hn.d.hoan-kiem" and not r["duplicate"],
              "routed by the food_safety rule: %s" % r)
        s = m.status(t)
        check(s["category"] == "food_safety" and s["category_by"] == "person" and
              s["category_chosen_by"] == COORD and s["rule"] == "R02-food",
              "the choice in the register: %s" % s)
        check(any(h["actor"] == COORD and h["note"].startswith("category other -> food_safety")
                  for h in s["history"]), "history: %s" % s["history"])
        text = subprocess.run(m.prefix + [CTL, "--as", COORD, "status", t], env=m.env,
                              capture_output=True, text=True, timeout=60).stdout
        check("category     food_safety (chosen; no suggestion)" in text and
              "chosen by    " + COORD in text, "status text shows the choice: %s" % text)
        ev = [e for e in m.events("hn.doit", "routing") if e.get("ticket") == t]
        cat = [e for e in ev if e["kind"] == "case.categorized"]
        check(len(cat) == 1 and cat[0]["category"] == "food_safety" and
              cat[0]["actor"] == COORD and cat[0]["category_by"] == "person" and
              cat[0]["suggested"] == "", "one case.categorized: %s" % cat)
        m.wait_for(lambda: m.status(t)["state"] == "assigned", "assigned at hoan-kiem")

        # delivered twice / chosen again: nothing new
        r = assign(m, t, "--category", "food_safety")
        check(r["duplicate"], "again: nothing new: %s" % r)
        ev = [e for e in m.events("hn.doit", "routing")
              if e.get("ticket") == t and e["kind"] == "case.categorized"]
        check(len(ev) == 1, "still one case.categorized: %s" % ev)

        # the monitor counts the choice, without a suggestion
        def stats():
            return m.ctl("triage", "stats", as_=COORD).json[0]
        m.wait_for(lambda: stats()["total"]["chosen_without_suggestion"] == 1,
                   "the monitor to count the choice")
        s = stats()
        check(s["total"]["unknown"] == 1 and s["total"]["chosen_equal"] == 0 and
              s["accuracy"] is None, "an 'other' with no suggestion is unknown: %s" % s)
        r = m.ctl("triage", "stats", as_="officer.hn.d.hoan-kiem", check_rc=False).json[0]
        check(not r["ok"] and r["code"] == 403, "stats are for coordinators: %s" % r)
        r = m.ctl("triage", "stats", "--from", "2026-13-01", as_=COORD, check_rc=False).json[0]
        check(not r["ok"] and r["field"] == "from", "a bad date names the field: %s" % r)


if __name__ == "__main__":
    run([test_coordinator_chooses_category])
