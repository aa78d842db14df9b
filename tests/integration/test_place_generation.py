#!/usr/bin/env python3
"""Intake places in the generation in force (issue 7, items 1 and 3): on a
mesh whose rules are still on generation 2024 (the 30 districts), a location
is placed in the districts and the Placement says generation 2024: an old
district directly, a unit that exists only since 2025 through the lineage
(one district) or to triage naming the districts it took wards from. Once the
reform is in force (rules reloaded), the same text is placed in the 126 units
of 2025.
"""
import datetime
import os
import re

from mesh import Mesh, check, run, write_atomically
from test_reorg import take_rules

COORD = "coordinator.hn.doit"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLACES = os.path.join(ROOT, "deploy", "hanoi", "reform-2025")


def load_rules(m, reform):
    """The mesh's rules with generation 2024 in force (and 2025 from today
    with reform), taken by intake and routing."""
    path = os.path.join(m.home, "etc", "routing.yaml")
    text = open(path).read()
    v = int(re.search(r"(?m)^version: (\d+)", text).group(1)) + 1
    text = re.sub(r"(?m)^version: \d+", "version: %d" % v, text)
    text = re.sub(r"(?m)^places_dir:.*\n(.*\n)*", "", text)  # the generations are at the end
    today = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=7))).date()
    gens = ("places_dir: %s\ngenerations:\n  - id: \"2024\"\n    valid_from: \"2008-08-01\"\n"
            "    units: districts\n    agency_prefix: \"hn.d.\"\n" % PLACES)
    if reform:
        gens += "    valid_to: \"%s\"\n" % (today - datetime.timedelta(days=1)).isoformat()
        gens += ("  - id: \"2025\"\n    valid_from: \"%s\"\n    units: communes\n"
                 "    agency_prefix: \"hn.d.\"\n" % today.isoformat())
    # Each intake and routing of the mesh, not their sum: a submit reaches
    # hn.doit's intake, which must have taken the rules itself.
    take_rules(m, lambda: write_atomically(path, text + gens))


def placed(m, location):
    t = m.ctl("submit", "--channel", "web", "--business", "Shop", "--category", "food_safety",
              "--description", "sold spoiled food", "--location", location).json[0]["ticket"]
    m.wait_for(lambda: m.ctl("case", "explain", t, as_=COORD, check_rc=False).returncode == 0,
               "routing knows " + t)
    return t, m.ctl("case", "explain", t, as_=COORD).json[0]


def test_place_in_the_generation_in_force():
    with Mesh(areas=("hoan-kiem", "ba-dinh")) as m:
        load_rules(m, reform=False)
        # an old district: that district, in generation 2024
        t, x = placed(m, "Quận Ba Đình")
        check(x["method"] == "name" and x["unit"] and x["unit"]["generation"] == "2024" and
              x["unit"]["code"] == "001" and x["unit"]["slug"] == "ba-dinh" and
              x["area"] == "ba-dinh" and x["candidates"] == [], "Quận Ba Đình on 2024: %s" % x)
        m.wait_for(lambda: m.status(t)["state"] == "assigned", "assignment of " + t)
        st = m.status(t)
        check(st["agency"] == "hn.d.ba-dinh" and st["generation"] == "2024",
              "routed to the district's office under 2024: %s" % st)
        # a unit of 2025 within one old district: through the lineage
        _, x = placed(m, "xa noi bai")
        check(x["method"] == "lineage" and x["unit"]["generation"] == "2024" and
              x["unit"]["slug"] == "soc-son" and "Nội Bài" in x["note"],
              "Xã Nội Bài on 2024: %s" % x)
        # a unit of 2025 across two old districts: triage naming them
        _, x = placed(m, "Phường Láng")
        got = sorted((c["generation"], c["code"]) for c in x["candidates"])
        check(x["method"] == "triage" and x["unit"] is None and x["area"] == "" and
              got == [("2024", "001"), ("2024", "006")], "Phường Láng on 2024: %s" % x)

        # the reform in force: the same text in the units of 2025
        load_rules(m, reform=True)
        _, x = placed(m, "Quận Ba Đình")
        check(x["method"] == "triage" and x["candidates"] and
              all(c["generation"] == "2025" for c in x["candidates"]),
              "Quận Ba Đình on 2025: %s" % x)
        _, x = placed(m, "Phường Láng")
        check(x["method"] == "name" and x["unit"]["generation"] == "2025" and
              x["unit"]["slug"] == "lang", "Phường Láng on 2025: %s" % x)


if __name__ == "__main__":
    run([test_place_in_the_generation_in_force])
