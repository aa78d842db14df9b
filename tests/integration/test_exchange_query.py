#!/usr/bin/env python3
"""Cross-agency queries against a real mesh with every agency's exchange:
records published by hand at several agencies (as their officers), queried
by another agency's officer and by the city coordinator under the signed
policies deploy/local/up makes: fields shared, withheld and refused naming
"<dataset>.<field>", personal fields only to the named receiver with the
purpose, business names matched accent-insensitively with the match shown;
an agency down and one stopped (SIGSTOP) shown as not answering in time
while the others answer, the whole query bounded by one timeout."""
import datetime
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mesh import CTL, Mesh, check, run  # noqa: E402

AREAS = ("hoan-kiem", "ba-dinh")
VN = datetime.timezone(datetime.timedelta(hours=7))


def ms(y, mo, d):
    return str(int(datetime.datetime(y, mo, d, 9, 0, tzinfo=VN).timestamp() * 1000))


def publish(m, node, dataset, **fields):
    args = ["exchange", "publish", "--dataset", dataset]
    for k, v in fields.items():
        args += ["--field", "%s=%s" % (k, v)]
    return m.ctl(*args, as_="officer." + node).json[0]


def query(m, as_, *args):
    r = m.ctl("exchange", "query", *args, as_=as_, check_rc=False)
    check(r.json, "query printed no JSON: %s %s" % (r.stdout, r.stderr))
    return r.json[0]


def by_agency(ans):
    return {a["agency"]: a for a in ans["agencies"]}


def seed(m):
    publish(m, "hn.qltt", "watchlist", business="Công ty TNHH Phở Cồ", tax_code="0101234567",
            area="hoan-kiem", reason="ngộ độc thực phẩm", **{"from": ms(2026, 3, 1)})
    publish(m, "hn.d.ba-dinh", "watchlist", business="Cửa hàng Bánh Mì Hà Nội", area="ba-dinh",
            reason="giá cao", **{"from": ms(2026, 4, 2)})
    publish(m, "hn.qltt", "product_warnings", product="Sữa bột X", brand="Công ty CP Sữa Việt",
            batch="L123", hazard="melamine", action="recall", date=ms(2026, 3, 5),
            reporter_name="Nguyễn Văn A", reporter_phone="0912345678")


def test_policy_and_matching():
    with Mesh(areas=AREAS, exchange=True) as m:
        seed(m)
        officer = "officer.hn.d.hoan-kiem"
        # business as typed without accents, with its legal form: found, match shown
        ans = query(m, officer, "--dataset", "watchlist", "--business", "cong ty tnhh pho co")
        ag = by_agency(ans)
        check(len(ag) == 4 and all(a["status"] == "answered" for a in ag.values()),
              "every exchange answers: %s" % ag)
        check(len(ans["records"]) == 1, "one match: %s" % ans["records"])
        r = ans["records"][0]
        check(r["publisher"] == "hn.qltt" and r["fields"]["business"] == "Công ty TNHH Phở Cồ",
              "the record as typed: %s" % r)
        check("pho co" in r["match"], "the match line: %s" % r["match"])
        # non-personal fields shared; personal ones withheld and listed
        ans = query(m, officer, "--dataset", "product_warnings")
        q = by_agency(ans)["hn.qltt"]
        check(q["status"] == "answered" and q["records"] == 1, "hn.qltt answers: %s" % q)
        check({"reporter_name", "reporter_phone"} <= set(q["withheld"]), "withheld: %s" % q)
        rec = [x for x in ans["records"] if x["publisher"] == "hn.qltt"][0]
        check("reporter_phone" not in rec["fields"] and rec["fields"]["hazard"] == "melamine",
              "redacted: %s" % rec)
        # a personal field for an agency no rule names: refused, naming the field
        ans = query(m, officer, "--dataset", "product_warnings", "--fields",
                    "product,reporter_phone", "--purpose", "product recall follow-up")
        q = by_agency(ans)["hn.qltt"]
        check(q["status"] == "refused" and q["code"] == 403 and
              q["field"] == "product_warnings.reporter_phone", "refused: %s" % q)
        check(not ans["records"], "nothing given: %s" % ans["records"])
        # the named receiver without the purpose: refused; with it: given
        coord = "coordinator.hn.doit"
        ans = query(m, coord, "--dataset", "product_warnings", "--fields",
                    "product,reporter_phone")
        q = by_agency(ans)["hn.qltt"]
        check(q["status"] == "refused" and q["field"] == "product_warnings.reporter_phone",
              "no purpose: %s" % q)
        ans = query(m, coord, "--dataset", "product_warnings", "--fields",
                    "product,reporter_phone", "--purpose", "product recall follow-up",
                    "--agency", "hn.qltt")
        check(len(ans["agencies"]) == 1, "only the agency named: %s" % ans["agencies"])
        rec = ans["records"][0]
        check(rec["fields"].get("reporter_phone") == "0912345678" and
              "hazard" not in rec["fields"], "the fields asked for: %s" % rec)
        # a dataset one agency only may see: refused by the others, naming it
        ans = query(m, officer, "--dataset", "hotline_stats")
        q = by_agency(ans)["hn.qltt"]
        check(q["status"] == "refused" and q["field"] == "hotline_stats", "hotline: %s" % q)
        # tax code by its digits, area, period
        ans = query(m, officer, "--dataset", "watchlist", "--tax-code", "0101-234567")
        check([x["key"] for x in ans["records"]] == ["W1"], "tax code: %s" % ans["records"])
        ans = query(m, officer, "--dataset", "watchlist", "--area", "ba-dinh")
        check([x["publisher"] for x in ans["records"]] == ["hn.d.ba-dinh"], "area: %s" % ans)
        ans = query(m, officer, "--dataset", "watchlist", "--from", "2026-04-01",
                    "--to", "2026-04-30")
        check([x["publisher"] for x in ans["records"]] == ["hn.d.ba-dinh"], "period: %s" % ans)
        # refusals counted where they happened; the text form shows the match
        h = m.health("hn.qltt")[("hn.qltt", "exchange")]
        check(h["counters"].get("exchange.query_refused", 0) >= 3, "counted: %s" % h["counters"])
        r = subprocess.run(m.prefix + [CTL, "--as", officer, "exchange", "query", "--dataset",
                                       "watchlist", "--business", "pho co"],
                           capture_output=True, text=True, env=m.env, timeout=120)
        check(r.returncode == 0 and "match: business" in r.stdout and
              "Công ty TNHH Phở Cồ" in r.stdout and "hn.qltt: answered, 1 record" in r.stdout,
              "text form: %s %s" % (r.stdout, r.stderr))


def test_down_and_slow():
    with Mesh(areas=AREAS, exchange=True) as m:
        publish(m, "hn.qltt", "watchlist", business="Shop Giày Hà Đông", area="hoan-kiem")
        m.kill("hn.d.ba-dinh", "exchange")
        slow = m.pids()[("hn.d.hoan-kiem", "exchange")]
        os.kill(slow, signal.SIGSTOP)
        try:
            timeout = 5000
            t0 = time.monotonic()
            ans = query(m, "coordinator.hn.doit", "--dataset", "watchlist", "--timeout",
                        str(timeout))
            took = time.monotonic() - t0
        finally:
            os.kill(slow, signal.SIGCONT)
        ag = by_agency(ans)
        check(ag["hn.d.ba-dinh"]["status"] == "timeout", "down: %s" % ag)
        check(ag["hn.d.hoan-kiem"]["status"] == "timeout", "stopped: %s" % ag)
        check(ag["hn.qltt"]["status"] == "answered" and ag["hn.doit"]["status"] == "answered",
              "the others answer: %s" % ag)
        check(len(ans["records"]) == 1, "their records: %s" % ans["records"])
        # two agencies silent: waiting for each in turn would take two timeouts
        check(took < 2 * timeout / 1000.0 - 0.5, "one timeout, not the sum: %.1fs" % took)
        print("     (2 of 4 agencies silent, --timeout %d ms: the query took %.1f s)"
              % (timeout, took), flush=True)
        # resumed: it answers again (its late answer to the old request is dropped)
        def answers():
            a = by_agency(query(m, "coordinator.hn.doit", "--dataset", "watchlist"))
            return a["hn.d.hoan-kiem"]["status"] == "answered"
        m.wait_for(answers, "the stopped exchange to answer again")
        # pages: one record per answer, followed by cpmctl through next_after
        for name in ("Shop Giày Thụy Khuê", "Cửa hàng Giày Hàng Dầu"):
            publish(m, "hn.qltt", "watchlist", business=name, area="ba-dinh")
        ans = query(m, "coordinator.hn.doit", "--dataset", "watchlist", "--business", "giay",
                    "--agency", "hn.qltt", "--max", "1")
        check(sorted(x["fields"]["business"] for x in ans["records"]) ==
              sorted(["Shop Giày Hà Đông", "Shop Giày Thụy Khuê", "Cửa hàng Giày Hàng Dầu"]),
              "every page: %s" % ans["records"])


if __name__ == "__main__":
    run([test_policy_and_matching, test_down_and_slow])
