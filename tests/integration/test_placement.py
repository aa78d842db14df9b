#!/usr/bin/env python3
"""Placing complaints (issue 7, item 2), through a real mesh: every location
of the table is submitted at intake with `cpmctl submit` and read back with
`cpmctl case explain --json`, as a coordinator: what the consumer wrote, the
unit it resolved to (or the triage candidates) and how. The expected units
and candidates come from the reform data itself (deploy/hanoi/reform-2025:
communes.csv, lineage.csv), read here independently of the C code.
"""
import csv
import json
import os
import subprocess
import unicodedata

from mesh import BUILD, ROOT, Mesh, check, run

COORD = "coordinator.hn.doit"
DATA = os.path.join(ROOT, "deploy", "hanoi", "reform-2025")


def load_data():
    with open(os.path.join(DATA, "communes.csv"), encoding="utf-8") as f:
        units = {r["code"]: r for r in csv.DictReader(f)}
    with open(os.path.join(DATA, "lineage.csv"), encoding="utf-8") as f:
        lineage = list(csv.DictReader(f))
    return units, lineage


UNITS, LINEAGE = load_data()


def unit(code):
    return ("unit", code)


def ward_split(old_ward_code):
    """triage among every unit that took part of an old ward"""
    return ("triage", {r["new_code"] for r in LINEAGE if r["old_ward_code"] == old_ward_code},
            None)


def district(old_district_code, first=None):
    """triage among every unit that took a ward (or part) of an old district"""
    return ("triage",
            {r["new_code"] for r in LINEAGE if r["old_district_code"] == old_district_code},
            first)


def nfd(s):
    return unicodedata.normalize("NFD", s)


# (location text, expected method, expected): every spelling of the issue.
TABLE = [
    # current units: diacritics or not, NFC or NFD, both tone placements,
    # every type word, any case
    ("Phường Yên Hoà", "name", unit("00175")),
    ("Phường Yên Hòa", "name", unit("00175")),
    (nfd("Phường Yên Hoà"), "name", unit("00175")),
    (nfd("phường yên hòa"), "name", unit("00175")),
    ("P. Yên Hoà", "name", unit("00175")),
    ("P.Yên Hòa", "name", unit("00175")),
    ("phuong yen hoa", "name", unit("00175")),
    ("PHƯỜNG YÊN HÒA", "name", unit("00175")),
    ("YEN HOA", "name", unit("00175")),
    ("Xã Ba Vì", "name", unit("09700")),
    ("xa ba vi", "name", unit("09700")),
    ("Phường Hoàn Kiếm", "name", unit("00070")),
    ("phường hoàn kiếm, tp Hà Nội", "name", unit("00070")),
    ("Phường Cửa Nam", "name", unit("00082")),
    ("Phường Văn Miếu - Quốc Tử Giám", "name", unit("00226")),
    ("Phường Sơn Tây", "name", unit("09574")),
    ("2025:hoan-kiem", "name", unit("00070")),
    # a bare name that is also a former district: never a silent guess
    ("Hoàn Kiếm", "triage", district("002", first="00070")),
    ("hoan kiem", "triage", district("002", first="00070")),
    ("Sơn Tây", "triage", district("269", first="09574")),
    # former districts, with every district type word
    ("Quận Hoàn Kiếm", "triage", district("002")),
    ("Q. Ba Đình", "triage", district("001")),
    ("quan nam tu liem", "triage", district("019")),
    ("huyện Ba Vì", "triage", district("271")),
    ("Huyen Ba Vi", "triage", district("271")),
    ("thị xã Sơn Tây", "triage", district("269")),
    ("TX Sơn Tây", "triage", district("269")),
    # old wards that went whole into one unit
    ("Phường Hàng Bạc", "lineage", unit("00070")),
    ("P. Hàng Bạc", "lineage", unit("00070")),
    ("phuong hang bac", "lineage", unit("00070")),
    (nfd("Phường Quán Thánh"), "lineage", unit("00004")),
    ("Thổ Quan", "lineage", unit("00226")),
    # old wards that were split: triage with the units that took them
    ("Phường Hàng Trống", "triage", ward_split("00070")),
    ("Cát Linh", "triage", ward_split("00178")),
    ("P. Dịch Vọng", "triage", ward_split("00166")),
    # address lines
    ("12 Hàng Bạc, P. Hàng Bạc, Q. Hoàn Kiếm, Hà Nội", "lineage", unit("00070")),
    ("45 Trần Duy Hưng, Phường Yên Hòa, Hà Nội", "name", unit("00175")),
    ("Số 5 Phố Huế, P. Hàng Trống, Hoàn Kiếm", "triage", ward_split("00070")),
]

# (lat, lon, location text or None, expected method, expected)
POINTS = [
    (21.0287, 105.8524, None, "point", unit("00070")),  # Hoàn Kiếm lake
    (21.0368, 105.8346, None, "point", unit("00004")),  # Ho Chi Minh Mausoleum
    (21.0294, 105.8355, None, "point", unit("00226")),  # Temple of Literature
    # the point decides over the text
    (21.0287, 105.8524, "Xã Ba Vì", "point", unit("00070")),
    # a point outside Hanoi falls through to the text
    (10.7769, 106.7009, "P. Hàng Bạc", "lineage", unit("00070")),
]

UNKNOWN = [("Atlantis", None), ("Phuong Hoan Kiemm", "Phường Hoàn Kiếm")]


def district_code_ok():
    # the district codes the table names are the data's (a typo here would
    # make an empty candidate set that nothing could match)
    with open(os.path.join(DATA, "districts-2024.csv"), encoding="utf-8") as f:
        names = {r["code"]: r["name"] for r in csv.DictReader(f)}
    for code, name in (("001", "Ba Đình"), ("002", "Hoàn Kiếm"), ("019", "Nam Từ Liêm"),
                       ("269", "Sơn Tây"), ("271", "Ba Vì")):
        check(names.get(code) == name, "district %s is %s in the data" % (code, name))


def submit(m, *where, category="pricing", check_rc=True):
    return m.ctl("submit", "--channel", "web", "--business", "Shop", "--category", category,
                 "--description", "overcharged", *where, check_rc=check_rc)


def explain(m, ticket):
    r = m.ctl("case", "explain", ticket, as_=COORD, check_rc=False)
    return r.json[0] if r.returncode == 0 and r.json else None


def wait_explained(m, ticket):
    m.wait_for(lambda: explain(m, ticket) is not None, "routing knows " + ticket)
    return explain(m, ticket)


def check_placed(x, written, method, want, what):
    check(x["written"] == written, "%s: written as typed: %r" % (what, x["written"]))
    check(x["method"] == method, "%s: method %s, not %s (%s)" % (what, x["method"], method,
                                                                  x.get("note")))
    check(x["note"], "%s: a note says how" % what)
    check(x["rule"] and x["rules_version"], "%s: the rule and version that routed it" % what)
    if want[0] == "unit":
        u = x["unit"]
        check(u and u["code"] == want[1] and u["generation"] == "2025",
              "%s: unit %s, not %s" % (what, want[1], u))
        check(u["name"] == UNITS[want[1]]["full_name"] and u["slug"] == UNITS[want[1]]["slug"],
              "%s: unit name and slug from the data: %s" % (what, u))
        check(x["area"] == u["slug"], "%s: the case's area is the unit's slug" % what)
        check(x["candidates"] == [], "%s: no candidates for a placed unit" % what)
    else:
        _, codes, first = want
        got = [c["code"] for c in x["candidates"]]
        check(x["unit"] is None and x["area"] == "", "%s: triage has no unit: %s" % (what, x))
        check(codes and set(got) == codes,
              "%s: candidates %s, not %s" % (what, sorted(got), sorted(codes)))
        check(all(c["generation"] == "2025" for c in x["candidates"]),
              "%s: candidates carry their generation" % what)
        if first:
            check(got[0] == first, "%s: %s first among the candidates: %s" % (what, first, got))


def test_placement_table_through_intake():
    district_code_ok()
    with Mesh(areas=("hoan-kiem",)) as m:
        tickets = []
        for text, method, want in TABLE:
            t = submit(m, "--location", text).json[0]["ticket"]
            tickets.append((t, text, method, want))
        for lat, lon, text, method, want in POINTS:
            args = ["--lat", str(lat), "--lon", str(lon)] + (["--location", text] if text else [])
            t = submit(m, *args).json[0]["ticket"]
            tickets.append((t, text or "", method, want))
        for t, text, method, want in tickets:
            check_placed(wait_explained(m, t), text, method, want, repr(text))

        # unknown places: 400 naming location, with the nearest known names
        for text, near in UNKNOWN:
            r = submit(m, "--location", text, check_rc=False)
            e = r.json[0] if r.json else {}
            check(r.returncode == 1 and e.get("code") == 400 and e.get("field") == "location",
                  "unknown %r refused naming location: %s" % (text, r.stdout))
            check("nearest" in e["message"] and (near is None or near in e["message"]),
                  "the nearest names are given: %s" % e["message"])
            check(text not in e["message"], "the client's text is not echoed")
        # a point outside Hanoi and no text
        r = submit(m, "--lat", "10.7769", "--lon", "106.7009", check_rc=False)
        check(r.returncode == 1 and r.json[0]["field"] == "location",
              "a point outside Hanoi alone is refused: %s" % r.stdout)
        # a point out of range
        r = submit(m, "--lat", "91", "--lon", "105.85", check_rc=False)
        check(r.returncode == 1 and r.json[0]["field"] == "lat", "lat 91: %s" % r.stdout)

        h = m.health("hn.doit")[("hn.doit", "intake")]["counters"]
        n = {k: sum(1 for _, _, mt, _ in tickets if mt == k)
             for k in ("point", "name", "lineage", "triage")}
        for k, v in n.items():
            check(h.get("place." + k) == v, "place.%s counts %d: %s" % (k, v, h))
        check(h.get("place.unknown") == 3, "place.unknown counts the refusals: %s" % h)


def test_old_clients_and_json_lines():
    with Mesh(areas=("hoan-kiem", "ba-dinh")) as m:
        # --area with a slug of a unit in force: that unit, routed as before
        t = submit(m, "--area", "hoan-kiem", category="food_safety").json[0]["ticket"]
        x = wait_explained(m, t)
        check_placed(x, "hoan-kiem", "name", unit("00070"), "--area hoan-kiem")
        m.wait_for(lambda: m.status(t)["state"] == "assigned", "assignment")
        check(m.status(t)["agency"] == "hn.d.hoan-kiem", "an old client is routed as before")
        # --district is the same; a former district's slug goes to triage
        t = submit(m, "--district", "nam-tu-liem", category="food_safety").json[0]["ticket"]
        x = wait_explained(m, t)
        check_placed(x, "nam-tu-liem", "triage", district("019"), "--district nam-tu-liem")
        # food safety goes to "@area": with no unit, routing sends it to triage and
        # says which units it may be in, for the coordinator who places it
        check(x["rule"] == "triage" and x["agency"] == "hn.doit",
              "a case without a unit goes to triage: %s" % x)
        n = len(district("019")[1])
        check(x["routed_note"].startswith("place may be any of %d units: 2025:" % n),
              "the triage note lists the candidate units: %r" % x["routed_note"])
        # an unknown area names the field the client used
        r = submit(m, "--area", "atlantis", check_rc=False)
        check(r.returncode == 1 and r.json[0]["field"] == "area", "area named: %s" % r.stdout)
        # JSON lines: location, lat, lon
        rows = [{"channel": "web", "business_name": "B", "category": "pricing",
                 "description": "d", "location": "P. Hàng Bạc"},
                {"channel": "web", "business_name": "B", "category": "pricing",
                 "description": "d", "lat": 21.0368, "lon": 105.8346},
                {"channel": "web", "business_name": "B", "category": "pricing",
                 "description": "d", "area": "ba-dinh"},
                {"channel": "web", "business_name": "B", "category": "pricing",
                 "description": "d", "location": "Atlantis"},
                {"channel": "web", "business_name": "B", "category": "pricing",
                 "description": "d", "lat": 21.0368}]
        r = m.submit_file(rows, check_rc=False)
        ok = sorted((j["line"], j["ticket"]) for j in r.json if j.get("ok"))
        bad = sorted((j.get("line") or 0, j.get("field")) for j in r.json if not j.get("ok"))
        check([l for l, _ in ok] == [1, 2, 3], "lines 1-3 recorded: %s" % r.stdout)
        check(len(bad) == 2 and {f for _, f in bad} == {"location", "lon"},
              "line 4 (unknown) and line 5 (lat without lon) refused: %s" % r.stdout)
        want = {1: ("lineage", "P. Hàng Bạc", unit("00070")),
                2: ("point", "", unit("00004")),
                3: ("name", "ba-dinh", unit("00004"))}
        for line, t in ok:
            method, written, u = want[line]
            check_placed(wait_explained(m, t), written, method, u, "line %d" % line)
        # the agency view shows the placement; the public view the unit name only
        t, code = (lambda j: (j["ticket"], j["lookup_code"]))(
            submit(m, "--location", "P. Hàng Bạc").json[0])
        wait_explained(m, t)
        pub = m.ctl("status", t, "--code", code, "--json").json[0]
        check("written" not in json.dumps(pub) and "lineage" not in json.dumps(pub),
              "the public view has no placement details: %s" % pub)


def test_intake_refuses_to_start_without_places():
    with Mesh(areas=("hoan-kiem",)) as m:
        m.kill("hn.doit", "intake")
        cfg = os.path.join(m.home, "etc", "hn.doit.intake.yaml")
        with open(cfg) as f:
            text = f.read()
        check("places_dir: reform-2025" in text, "up writes places_dir for intake")
        with open(cfg, "w") as f:
            f.write(text.replace("places_dir: reform-2025", "places_dir: no-such-folder"))
        r = subprocess.run([os.path.join(BUILD, "cpmesh-intake"), "--config", cfg],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode != 0 and "places_dir" in r.stderr and "no-such-folder" in r.stderr,
              "intake refuses to start naming places_dir: %d %s" % (r.returncode, r.stderr))


if __name__ == "__main__":
    run([test_placement_table_through_intake, test_old_clients_and_json_lines,
         test_intake_refuses_to_start_without_places])
