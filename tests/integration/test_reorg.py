#!/usr/bin/env python3
"""The 2025 reform applied to a running mesh: routing starts on the 2024
generation (30 districts) with open cases across old districts, then a rules
reload brings the 2025 generation, valid from today. Every open case ends at
exactly one successor agency (old Hoan Kiem's successors are all given to one
node by overrides) or at triage with the candidates (split districts), none
lost or duplicated; a department's case keeps its agency; a closed case keeps
its unit, generation and agency. Again with the receiving agency's node down
during the change and routing killed (SIGKILL) around it."""
import csv
import datetime
import os
import re

from mesh import ROOT, Mesh, check, run, write_atomically

PLACES = os.path.join(ROOT, "deploy", "hanoi", "reform-2025")


def counter(m, service, name):
    return sum(h.get("counters", {}).get(name, 0)
               for (node, svc), h in m.health().items() if svc == service)


def successors(district):
    slugs = {}
    with open(os.path.join(PLACES, "communes.csv"), encoding="utf-8") as f:
        for row in csv.DictReader(f):
            slugs[row["code"]] = row["slug"]
    with open(os.path.join(PLACES, "district-to-communes.csv"), encoding="utf-8") as f:
        return sorted({slugs[r["new_code"]] for r in csv.DictReader(f)
                       if r["old_district_slug"] == district})


def write_rules(m, reform):
    path = os.path.join(m.home, "etc", "routing.yaml")
    text = open(path).read()
    v = int(re.search(r"(?m)^version: (\d+)", text).group(1)) + 1
    text = re.sub(r"(?m)^version: \d+", "version: %d" % v, text)
    text = re.sub(r"(?m)^places_dir:.*\n(.*\n)*", "", text)  # our part is at the end
    vn = datetime.timezone(datetime.timedelta(hours=7))
    today = datetime.datetime.now(vn).date()
    gens = ("places_dir: %s\nagencies: [hn.d.hoan-kiem, hn.d.ba-dinh, hn.d.cau-giay]\n"
            "generations:\n  - id: \"2024\"\n    valid_from: \"2008-08-01\"\n"
            "    units: districts\n    agency_prefix: \"hn.d.\"\n" % PLACES)
    if reform:
        gens += "    valid_to: \"%s\"\n" % (today - datetime.timedelta(days=1)).isoformat()
        gens += ("  - id: \"2025\"\n    valid_from: \"%s\"\n    units: communes\n"
                 "    agency_prefix: \"hn.w.\"\n    agencies:\n" % today.isoformat())
        for s in successors("hoan-kiem"):
            gens += "      %s: hn.d.cau-giay\n" % s
    write_atomically(path, text + gens)
    return v


def rules_loaded(m):
    """rules.loaded of each intake and routing; None for a service busy past
    health's timeout (it answers without counters)."""
    return {(node, svc): h["counters"].get("rules.loaded", 0) if "counters" in h else None
            for (node, svc), h in m.health().items() if svc in ("intake", "routing")}


def take_rules(m, write):
    """Run write() (which changes the rules file), then wait until every
    intake and routing has taken the new rules: each intake places the next
    complaint by the generations it holds, routing by its own."""
    got = {}
    m.wait_for(lambda: got.update(b=rules_loaded(m)) or None not in got["b"].values(),
               "every intake and routing counts its rules")
    before = got["b"]
    write()
    for key in before:
        m.wait_for(lambda key=key: (rules_loaded(m).get(key) or 0) > before[key],
                   "%s/%s takes the rules" % key)


def load_rules(m, reform):
    take_rules(m, lambda: write_rules(m, reform))


def submit(m, area, category="food_safety"):
    r = m.ctl("submit", "--channel", "web", "--business", "Shop", "--area", area,
              "--category", category, "--description", "sold spoiled food")
    return r.json[0]["ticket"]


def assigned(m, t):
    return m.status(t)["state"] == "assigned"


def setup_cases(m):
    load_rules(m, reform=False)
    cases = {"hk": [submit(m, "hoan-kiem") for _ in range(3)],
             "split": [submit(m, "ba-dinh"), submit(m, "cau-giay")],
             "dept": [submit(m, "hoan-kiem", "pricing")],
             "closed": [submit(m, "hoan-kiem")]}
    for t in sum(cases.values(), []):
        m.wait_for(lambda: assigned(m, t), "%s assigned" % t)
        check(m.status(t)["generation"] == "2024", "routed under 2024: %s" % m.status(t))
    c = cases["closed"][0]
    m.ctl("case", "accept", c, "--node", "hn.d.hoan-kiem", as_="officer.hn.d.hoan-kiem")
    m.ctl("case", "resolve", c, "--node", "hn.d.hoan-kiem", "--outcome", "mediated",
          as_="officer.hn.d.hoan-kiem")
    m.wait_for(lambda: m.status(c)["state"] == "resolved", "closed case resolved")
    return cases


def check_outcome(m, cases, closed_before, counters=True):
    for t in cases["hk"]:
        m.wait_for(lambda: (lambda s: s["agency"] == "hn.d.cau-giay" and
                            s["state"] == "assigned")(m.status(t)), "%s at its successor" % t)
        m.wait_for(lambda: m.ctl("case", "show", t, "--node", "hn.d.hoan-kiem",
                                 as_="officer.hn.d.hoan-kiem").json[0]["state"] == "transferred",
                   "old node told %s left" % t)
    for t in cases["split"]:
        m.wait_for(lambda: (lambda s: s["agency"] == "hn.doit" and s["state"] == "assigned")(
            m.status(t)), "%s at triage" % t)
        s = m.status(t)
        moved = [h for h in s["history"] if h["state"] == "transferred"]
        check(len(moved) == 1 and "candidates: 2025:" in moved[0]["note"],
              "triage with candidates, once: %s" % s["history"])
    s = m.status(cases["dept"][0])
    check(s["agency"] == "hn.qltt", "a department's case keeps its agency: %s" % s)
    check(m.status(cases["closed"][0]) == closed_before, "closed case unchanged")
    # exactly once, everywhere
    ev = m.events("hn.doit", "routing")
    for t in cases["hk"] + cases["split"]:
        kinds = [e["kind"] for e in ev if e.get("ticket") == t]
        check(kinds.count("case.transferred") == 1, "%s transferred once: %s" % (t, kinds))
    ev = m.events("hn.d.cau-giay", "inspection")
    for t in cases["hk"]:
        kinds = [e["kind"] for e in ev if e.get("ticket") == t]
        check(kinds.count("case.assigned") == 1, "%s assigned once at cau-giay: %s" % (t, kinds))
    if counters:  # a restarted routing counts from zero
        check(counter(m, "routing", "reorg.moved") == len(cases["hk"]), "reorg.moved")
        check(counter(m, "routing", "reorg.triaged") == len(cases["split"]), "reorg.triaged")


def test_reform_on_a_running_mesh():
    with Mesh() as m:
        cases = setup_cases(m)
        closed_before = m.status(cases["closed"][0])
        load_rules(m, reform=True)
        m.wait_for(lambda: counter(m, "routing", "reorg.moved") == len(cases["hk"]),
                   "reorganization applied")
        check_outcome(m, cases, closed_before)


def test_reform_with_a_node_down_and_routing_killed():
    with Mesh() as m:
        cases = setup_cases(m)
        closed_before = m.status(cases["closed"][0])
        m.kill("hn.d.cau-giay", "inspection")
        m.kill("hn.doit", "routing")
        write_rules(m, reform=True)  # routing takes it when it starts again
        m.start("hn.doit", "routing")
        m.wait_for(lambda: counter(m, "routing", "reorg.moved") == len(cases["hk"]),
                   "reorganization applied after the restart")
        for t in cases["hk"]:
            check(m.status(t)["state"] == "routed", "not delivered while the node is down")
        m.kill("hn.doit", "routing")  # again, with transfers in the outbox
        m.start("hn.doit", "routing")
        m.start("hn.d.cau-giay", "inspection")
        check_outcome(m, cases, closed_before, counters=False)


if __name__ == "__main__":
    run([test_reform_on_a_running_mesh, test_reform_with_a_node_down_and_routing_killed])
