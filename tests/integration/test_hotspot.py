#!/usr/bin/env python3
"""Issue 12, hotspots, against real processes: the city's hotspot service
reads every intake stream. Background complaints about several shops, then
(three days later on the mesh's shared clock, past the detector's learning
window) a burst about one shop: `cpmctl hotspot list` shows one alert with
the burst's tickets. The hotspot process is SIGKILLed three times while it
applies more complaints and restarted: still exactly one alert, and its count
and tickets hold every complaint once. An officer's decision is refused; a
coordinator confirms and the city's exchange has the watchlist record.

Needs complaint.received to carry the business (issue 12 contract 3, the
intake side of the model helper)."""
import random
import time

from mesh import Mesh, check, run

SHOP = "Cửa hàng Phở Gà Hàng Bạc"
ADDRESS = "12 Hàng Bạc"
CATS = ["food_safety", "pricing", "counterfeit_goods", "ecommerce", "advertising", "utilities",
        "contracts_warranty", "tourism_services", "other", "telecom", "transport",
        "real_estate", "health_pharma", "finance_insurance", "education_training"]
COORD = "coordinator.hn.doit"


def complaint(i, business, area, category, tag):
    return {"channel": "hotline", "business_name": business, "business_address": ADDRESS,
            "area": area, "category": category,
            "description": "Khiếu nại số %d về %s" % (i, business),
            "consumer_phone": "0912 000 %03d" % i, "client_ref": "%s-%d" % (tag, i)}


def submit(m, cs):
    out = sorted((r for r in m.submit_file(cs).json if r.get("ok")), key=lambda r: r["line"])
    tickets = [r["ticket"] for r in out]
    check(len(tickets) == len(cs), "all submitted: %s" % out)
    return tickets


def counter(m, name):
    h = m.health("hn.doit").get(("hn.doit", "hotspot"), {})
    return h.get("counters", {}).get(name, 0)


def alerts(m, state="all"):
    return m.ctl("hotspot", "list", "--state", state, as_=COORD).json[0]["alerts"]


def test_burst_sigkill_confirm():
    with Mesh(areas=("hoan-kiem",), exchange=True, hotspot=True,
              clock_at=int(time.time() * 1000)) as m:
        m.wait_up("hn.doit", "hotspot")
        rnd = random.Random(12)
        background = [complaint(i, "Shop %d" % (i % 6), rnd.choice(["hoan-kiem", "ba-dinh"]),
                                CATS[i % len(CATS)], "bg") for i in range(12)]
        submit(m, background)
        m.wait_for(lambda: counter(m, "hotspot.events_applied") >= 12,
                   "the background to be applied")
        check(alerts(m) == [], "no alert in the background: %s" % alerts(m))
        r = m.ctl("hotspot", "list", "--state", "closed", as_=COORD, check_rc=False)
        check(r.returncode != 0 and r.json and r.json[0].get("field") == "state",
              "a bad state is refused naming the field: %s" % r.stdout)
        # Three days on: past the learning window (48 h from the first complaint).
        m.advance(days=3)
        burst = [complaint(100 + i, SHOP, "hoan-kiem", CATS[i], "burst") for i in range(8)]
        first = submit(m, burst)

        def one_alert(n):
            a = [x for x in alerts(m) if x["kind"] == "business"]
            return len(a) == 1 and a[0]["count"] == n
        m.wait_for(lambda: one_alert(8), "the burst's alert")
        a = alerts(m)
        check(len(a) == 1, "one alert (the categories differ: no area alert): %s" % a)
        a = a[0]
        check(a["business"] == SHOP and a["area"] == "hoan-kiem" and a["state"] == "open",
              "the shop's alert: %s" % a)
        check(a["tickets"] == first, "the burst's tickets as evidence: %s vs %s"
              % (a["tickets"], first))
        check(a["p"] < 0.001 and a["window_h"] == 48, "its figures: %s" % a)
        check("+07" in a["opened"], "times in Vietnam's zone: %s" % a["opened"])
        # More complaints about the shop while the detector is killed and
        # restarted, at random points of its work.
        m.kill("hn.doit", "hotspot")
        more = submit(m, [complaint(200 + i, SHOP, "hoan-kiem", CATS[(8 + i) % 15], "more")
                          for i in range(6)])
        for _ in range(3):
            m.start("hn.doit", "hotspot")
            time.sleep(rnd.uniform(0.0, 0.4))  # a random kill point, not a wait for anything
            m.kill("hn.doit", "hotspot")
        m.start("hn.doit", "hotspot")
        m.wait_for(lambda: one_alert(14), "the alert to hold all 14 complaints")
        a = alerts(m)
        check(len(a) == 1, "still one alert: %s" % a)
        a = a[0]
        check(sorted(a["tickets"]) == sorted(first + more) and len(set(a["tickets"])) == 14,
              "every complaint once: %s" % a["tickets"])
        # an officer may not decide; the alert stays open
        r = m.ctl("hotspot", "confirm", a["id"], "--reason", "x", as_="officer.hn.doit",
                  check_rc=False)
        check(r.returncode != 0, "an officer's decision is refused: %s" % r.stdout)
        check(alerts(m, "open")[0]["id"] == a["id"], "still open")
        r = m.ctl("hotspot", "confirm", a["id"], as_=COORD, check_rc=False)
        check(r.returncode == 2, "a decision needs a reason")
        d = m.ctl("hotspot", "confirm", a["id"], "--reason", "Nhiều ca ngộ độc, đã xác minh",
                  as_=COORD).json[0]
        check(d["state"] == "confirmed" and d["decided_by"] == COORD, "confirmed: %s" % d)
        r = m.ctl("hotspot", "dismiss", a["id"], "--reason", "again", as_=COORD, check_rc=False)
        check(r.returncode != 0, "decided once only")
        shown = m.ctl("hotspot", "show", a["id"], as_=COORD).json[0]
        check(shown["state"] == "confirmed" and shown["reason"] == "Nhiều ca ngộ độc, đã xác minh",
              "show: %s" % shown)

        def watched():
            r = m.ctl("exchange", "query", "--dataset", "watchlist", "--business", "pho ga hang bac",
                      as_=COORD, check_rc=False)
            recs = r.json[0].get("records", []) if r.json else []
            return [x for x in recs if x.get("key") == a["id"]]
        m.wait_for(lambda: watched(), "the watchlist record from the confirmation")
        w = watched()[0]
        f = w["fields"]
        check(w["publisher"] == "hn.doit" and f["business"] == SHOP and f["area"] == "hoan-kiem"
              and f["address"] == ADDRESS and f["reason"] == "hotspot %s confirmed by %s" % (a["id"], COORD),
              "the record: %s" % w)


if __name__ == "__main__":
    run([test_burst_sigkill_confirm])
