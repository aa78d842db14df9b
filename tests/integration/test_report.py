#!/usr/bin/env python3
"""Coordinators' reports of cases by area in either jurisdiction generation
(cpmctl report, MsgType 48/49). A mesh starts on the 2024 generation (30
districts) with cases in several districts, one of them closed; the 2025
reform is loaded (the reorganization moves the open ones); more cases are
placed under 2025 (units, and a bare former district name that goes to
triage). The report in each generation must give exactly the rows that the
lineage in deploy/hanoi/reform-2025 predicts for the cases' stored (area,
generation): one area, or one shared row naming all of them, "(triage)" for
cases without an area; totals equal to the number of cases, none lost, none
counted twice; a closed case still counted under the 2024 district it was
handled in. Members other than coordinators are refused with 403, and a
generation the rules do not have with 400 naming the field."""
import csv
import os
import subprocess

from mesh import CTL, ROOT, Mesh, check, run
from test_reorg import counter, load_rules, submit

PLACES = os.path.join(ROOT, "deploy", "hanoi", "reform-2025")
COORD = "coordinator.hn.doit"
CLOSED_STATES = ("refused", "resolved", "closed")


def lineage():
    """(2024 district -> 2025 units, 2025 unit -> 2024 districts) from the data."""
    slugs = {}
    with open(os.path.join(PLACES, "communes.csv"), encoding="utf-8") as f:
        for row in csv.DictReader(f):
            slugs[row["code"]] = row["slug"]
    fwd, back = {}, {}
    with open(os.path.join(PLACES, "district-to-communes.csv"), encoding="utf-8") as f:
        for r in csv.DictReader(f):
            fwd.setdefault(r["old_district_slug"], set()).add(slugs[r["new_code"]])
            back.setdefault(slugs[r["new_code"]], set()).add(r["old_district_slug"])
    return fwd, back


def expected_rows(statuses, gen):
    """The rows a report for gen must have, computed here from the data."""
    fwd, back = lineage()
    rows = {}
    for s in statuses:
        if not s["area"]:
            key, shared = "(triage)", False
        elif s["generation"] == gen:
            key, shared = s["area"], False
        else:
            units = sorted((fwd if gen == "2025" else back)[s["area"]])
            key, shared = "+".join(units), len(units) > 1
        w = rows.setdefault(key, {"total": 0, "open": 0, "closed": 0, "shared": shared,
                                  "mapped": 0})
        w["total"] += 1
        w["closed" if s["state"] in CLOSED_STATES else "open"] += 1
        w["mapped"] += bool(s["area"]) and s["generation"] != gen
    return rows


def report(m, gen, *extra, as_=COORD):
    return m.ctl("report", "--generation", gen, *extra, as_=as_).json[0]


def check_report(r, statuses, gen):
    want = expected_rows(statuses, gen)
    got = {w["area"]: w for w in r["rows"]}
    check(set(got) == set(want), "%s rows: got %s want %s" % (gen, sorted(got), sorted(want)))
    for k, w in want.items():
        for f in ("total", "open", "closed", "shared", "mapped"):
            check(got[k][f] == w[f], "%s row %s %s: got %s want %s" % (gen, k, f, got[k], w))
        check(not got[k]["unmapped"], "%s row %s unmapped" % (gen, k))
    check(r["cases"] == len(statuses) == sum(w["total"] for w in r["rows"]),
          "%s: %d cases counted of %d" % (gen, r["cases"], len(statuses)))
    check(not r["truncated"], "%s truncated" % gen)
    check(r["rows"][-1]["area"] == "(triage)" or "(triage)" not in got, "triage row last")


def place(m, location):
    r = m.ctl("submit", "--channel", "web", "--business", "Shop", "--location", location,
              "--category", "food_safety", "--description", "sold spoiled food")
    return r.json[0]["ticket"]


def test_report_in_both_generations():
    with Mesh() as m:
        load_rules(m, reform=False)
        old = [submit(m, a) for a in ("hoan-kiem", "hoan-kiem", "ba-dinh", "ba-vi", "tay-ho")]
        for t in old:
            m.wait_for(lambda: m.status(t)["state"] == "assigned", "%s assigned" % t)
        closed = old[0]
        m.ctl("case", "accept", closed, "--node", "hn.d.hoan-kiem", as_="officer.hn.d.hoan-kiem")
        m.ctl("case", "resolve", closed, "--node", "hn.d.hoan-kiem", "--outcome", "mediated",
              as_="officer.hn.d.hoan-kiem")
        m.wait_for(lambda: m.status(closed)["state"] == "resolved", "closed case resolved")
        r = report(m, "2024")
        check(r["cases"] == len(old) and {w["area"] for w in r["rows"]} ==
              {"hoan-kiem", "ba-dinh", "ba-vi", "tay-ho"}, "before the reform: %s" % r)

        load_rules(m, reform=True)
        m.wait_for(lambda: all(m.status(t)["generation"] == "2025" for t in old[1:]),
                   "open cases reorganized")
        new = [place(m, w) for w in ("Phường Ba Đình", "phuong ba dinh", "Xã Ba Vì",
                                     "P. Hoàn Kiếm", "Hoàn Kiếm")]
        tickets = old + new
        m.wait_for(lambda: all(m.status(t)["state"] in ("routed", "assigned") for t in new),
                   "new cases routed")
        statuses = [m.status(t) for t in tickets]
        gens = {(s["generation"], bool(s["area"])) for s in statuses}
        check(("2024", True) in gens and ("2025", True) in gens and
              any(not s["area"] for s in statuses), "both generations and triage: %s" % gens)
        s = m.status(closed)
        check(s["generation"] == "2024" and s["area"] == "hoan-kiem",
              "the closed case keeps its unit: %s" % s)

        for gen in ("2024", "2025"):
            check_report(report(m, gen), statuses, gen)
        # the closed 2024 case is in 2025's shared row of hoan-kiem's successors
        r = report(m, "2025")
        row = [w for w in r["rows"] if w["shared"] and w["closed"] >= 1]
        check(len(row) == 1 and "hoan-kiem" in row[0]["area"].split("+"), "shared: %s" % r)
        # one agency only: its cases, still every one in one row
        r = report(m, "2025", "--agency", "hn.doit")
        mine = [s for s in statuses if s["agency"] == "hn.doit"]
        check(mine and r["cases"] == len(mine), "agency filter: %s of %s" % (r, len(mine)))
        check_report(r, mine, "2025")
        # a period before every case
        r = report(m, "2024", "--to", "2020-01-01")
        check(r["cases"] == 0 and r["rows"] == [], "period: %s" % r)
        # text output: a header, the rows, the total
        txt = subprocess.run(m.prefix + [CTL, "--as", COORD, "report", "--generation", "2024"],
                             capture_output=True, text=True, env=m.env, check=True).stdout
        check("\x1b" not in txt, "no colour when not a terminal")
        check("AREA" in txt and "(all)" in txt and "shared" in txt, "text: %s" % txt)


def test_report_refused():
    with Mesh() as m:
        before = counter(m, "routing", "report.refused")
        for who in ("officer.hn.d.hoan-kiem", "operator.hn.doit", "hn.d.hoan-kiem"):
            res = m.ctl("report", "--generation", "2025", as_=who, check_rc=False)
            check(res.returncode == 1 and res.json and res.json[0]["code"] == 403,
                  "%s: %s %s" % (who, res.json, res.stderr))
        res = m.ctl("report", "--generation", "1999", as_=COORD, check_rc=False)
        check(res.returncode == 1 and res.json[0]["code"] == 400 and
              res.json[0]["field"] == "generation", "bad generation: %s" % res.json)
        check(counter(m, "routing", "report.refused") == before + 1, "refusal counted")
        res = m.ctl("report", as_=COORD, check_rc=False)
        check(res.returncode == 2, "--generation is required")


if __name__ == "__main__":
    run([test_report_in_both_generations, test_report_refused])
