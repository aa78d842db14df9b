#!/usr/bin/env python3
"""Subscriptions between agencies' exchanges (issue 9, item 4): an area
office subscribes to the market surveillance department's datasets; records
arrive filtered and redacted by the publisher's policy, exactly once at their
latest version, across SIGKILL of either exchange; a refused subscription
names the dataset; cancel stops deliveries."""
import collections
import threading

from mesh import Mesh, check, run

PUB, SUB = "hn.qltt", "hn.d.hoan-kiem"
PUB_OFFICER, SUB_OFFICER = "officer." + PUB, "officer." + SUB


def subscribe(m, *args, check_rc=True):
    return m.ctl("exchange", "subscribe", "--from-agency", PUB, *args, as_=SUB_OFFICER,
                 check_rc=check_rc)


def publish(m, dataset, ref, fields, key=None, retry=False):
    args = ["exchange", "publish", "--dataset", dataset, "--client-ref", ref]
    if key:
        args += ["--key", key]
    for k, v in fields.items():
        args += ["--field", "%s=%s" % (k, v)]
    while True:  # while the publisher's exchange is down: the same client_ref again
        r = m.ctl(*args, as_=PUB_OFFICER, check_rc=not retry, timeout=60)
        if r.returncode == 0:
            return r.json[0]
        check(r.json and r.json[0].get("code") in (503, 504), "publish failed: %s %s"
              % (r.stdout, r.stderr))


def received(m, *args):
    r = m.ctl("exchange", "received", *args, as_=SUB_OFFICER, check_rc=False)
    if r.returncode != 0 or not r.json:
        return None  # the subscriber's exchange is down
    return r.json[0]["records"]


def wait_received(m, what, cond, *args, seconds=120):
    got = {}

    def ok():
        recs = received(m, *args)
        if recs is None:
            return False
        got["recs"] = recs
        return cond(recs)
    m.wait_for(ok, what, seconds)
    return got["recs"]


def test_filter_redaction_refusal_cancel():
    with Mesh(exchange=True, areas=("hoan-kiem",)) as m:
        r = subscribe(m, "--dataset", "watchlist", "--area", "hoan-kiem").json[0]
        check(r["id"] == SUB + "/watchlist" and not r["duplicate"], "subscribed: %s" % r)
        r = subscribe(m, "--dataset", "product_warnings").json[0]
        check("reporter_name" in r["withheld_fields"], "withheld fields told: %s" % r)
        # the same subscription again: a duplicate, not a second one
        r = subscribe(m, "--dataset", "watchlist", "--area", "hoan-kiem").json[0]
        check(r["duplicate"], "same subscription again is a duplicate: %s" % r)
        # refused by the policy (hotline_stats is only for hn.doit): names the dataset
        r = subscribe(m, "--dataset", "hotline_stats", check_rc=False)
        check(r.returncode != 0 and r.json and r.json[0]["code"] == 403
              and "hotline_stats" in r.json[0]["field"], "refusal names the dataset: %s"
              % r.stdout)
        # an unknown filter field is named
        r = subscribe(m, "--dataset", "complaint_stats", "--business", "x", check_rc=False)
        check(r.returncode != 0 and r.json[0]["field"] == "business", "bad filter: %s" % r.stdout)

        publish(m, "watchlist", "w-bd", {"business": "Cửa hàng Ba Đình", "area": "ba-dinh",
                                         "reason": "hàng giả"})
        publish(m, "product_warnings", "p1", {"product": "Sữa bột X", "brand": "X",
                                              "hazard": "melamine", "reporter_name": "Nguyễn Văn A",
                                              "reporter_phone": "0912000111"})
        w = publish(m, "watchlist", "w-hk", {"business": "Công ty TNHH Phở Cổ",
                                             "area": "hoan-kiem", "reason": "giá sai"})
        recs = wait_received(m, "the hoan-kiem record", lambda rs: any(
            x["dataset"] == "watchlist" for x in rs))
        ws = [x for x in recs if x["dataset"] == "watchlist"]
        check([x["key"] for x in ws] == [w["key"]], "only the hoan-kiem record: %s" % ws)
        check(ws[0]["fields"]["business"] == "Công ty TNHH Phở Cổ", "text as typed: %s" % ws[0])
        ps = [x for x in recs if x["dataset"] == "product_warnings"]
        check(len(ps) == 1 and ps[0]["fields"]["product"] == "Sữa bột X", "warning: %s" % ps)
        check("reporter_name" not in ps[0]["fields"] and "reporter_phone" not in ps[0]["fields"],
              "personal fields not shared: %s" % ps[0])
        h = m.health(PUB)[(PUB, "exchange")]["counters"]
        check(h.get("exchange.subscribe_refused", 0) >= 1, "refusal counted: %s" % h)

        # cancel: later warnings are not delivered
        r = subscribe(m, "--dataset", "product_warnings", "--cancel").json[0]
        check(r["cancelled"], "cancelled: %s" % r)
        publish(m, "product_warnings", "p2", {"product": "Bánh Y", "brand": "Y",
                                              "hazard": "mốc"})
        w2 = publish(m, "watchlist", "w-hk2", {"business": "Shop Hoa", "area": "hoan-kiem",
                                               "reason": "quảng cáo sai"})
        recs = wait_received(m, "the second hoan-kiem record", lambda rs: any(
            x["key"] == w2["key"] for x in rs))
        check(len([x for x in recs if x["dataset"] == "product_warnings"]) == 1,
              "nothing delivered after cancel: %s" % recs)


def test_exactly_once_across_sigkill_of_either_side():
    with Mesh(exchange=True, areas=("hoan-kiem",)) as m:
        subscribe(m, "--dataset", "watchlist")
        n, updates = 200, 30
        keys = {}
        for i in range(n):
            if i == 70:
                m.kill(PUB, "exchange")
                m.start(PUB, "exchange")
            if i == 140:
                m.kill(SUB, "exchange")
                m.start(SUB, "exchange")
            r = publish(m, "watchlist", "k-%d" % i, {"business": "Cơ sở %d" % i,
                                                     "area": "hoan-kiem", "reason": "r1"},
                        retry=True)
            keys[r["key"]] = 1
            if i % 7 == 3 and len([v for v in keys.values() if v > 1]) < updates:
                # a new version of an earlier record, while the stream runs
                k = list(keys)[i // 2]
                r = publish(m, "watchlist", "u-%d" % i, {"business": "Cơ sở sửa %d" % i,
                                                         "area": "hoan-kiem", "reason": "r2"},
                            key=k, retry=True)
                keys[k] = r["version"]
            if i == 100:  # kill the subscriber while deliveries are in flight
                m.kill(SUB, "exchange")
                m.start(SUB, "exchange")
        check(len(keys) == n, "%d records published" % len(keys))
        recs = wait_received(m, "every record at its latest version", lambda rs: len(rs) == n and
                             all(x["version"] == keys[x["key"]] for x in rs), seconds=180)
        check(sorted(x["key"] for x in recs) == sorted(keys), "no gap")
        # exactly once: every version stored at the subscriber once (one
        # "exchange.received" event each), and the latest for every key.
        evs = [e for e in m.events(SUB, "exchange") if e["kind"] == "exchange.received"]
        seen = collections.Counter(e["note"] for e in evs)
        dup = [k for k, c in seen.items() if c > 1]
        check(not dup, "no version received twice: %s" % dup[:3])
        for k, v in keys.items():
            check("%s watchlist %s version %d" % (PUB, k, v) in seen,
                  "the latest version of %s received" % k)
        h = m.health(SUB)[(SUB, "exchange")]["counters"]
        check(h.get("exchange.received_refused", 0) == 0, "nothing refused: %s" % h)


if __name__ == "__main__":
    run([test_filter_redaction_refusal_cancel, test_exactly_once_across_sigkill_of_either_side])
