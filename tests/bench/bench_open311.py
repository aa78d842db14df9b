#!/usr/bin/env python3
"""Benchmark of Open311 POST requests through the gateway (docs/open311.md)
beside the same complaints sent by the mesh client directly.

A real local mesh with the gateway: N complaints are POSTed one after the
other (requests.json, form-encoded, the demo application's key, each with
its own client_ref) with Python's urllib: figures are POSTs per second and
the latency of each (median, p90, p99, max). Then N complaints with the same
fields go in through `cpmctl submit --file` (one process, one signed link,
one request after the other, to the same city intake): complaints per
second. The ratio is gateway / direct. Figures only; nothing is asserted.

  CPM_BUILD=build python3 tests/bench/bench_open311.py [--n N]
"""
import argparse
import json
import os
import sys
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from mesh import Mesh  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    a = ap.parse_args()
    with Mesh(gateway=True) as m:
        key = open(os.path.join(m.home, "keys", "open311-demo.key")).read().strip()
        # The demo application may POST 60 a minute (rate_per_min's default):
        # the bench measures throughput, so its list admits far more.
        src = os.path.join(m.home, "etc", "gateway-clients.json")
        with open(src) as f:
            doc = json.load(f)
        for c in doc["clients"]:
            c["rate_per_min"] = 100000
        with open(src, "w") as f:
            json.dump(doc, f)
        m.ctl("gateway", "clients", "sign", "--source", src, "--key",
              os.path.join(m.home, "keys", "hn.doit.secret"), "--out",
              os.path.join(m.home, "etc", "gateway-clients.signed"), "--version",
              str(int(time.time())))
        url = m.http_url + "/open311/v2/requests.json"
        lat = []
        t0 = time.time()
        for i in range(a.n):
            body = urllib.parse.urlencode({
                "api_key": key, "service_code": "food_safety", "lat": "21.0285",
                "long": "105.8542", "description": "Bench complaint %d" % i,
                "attribute[business_name]": "Bench shop", "phone": "0912345678",
                "client_ref": "bench-%d" % i}).encode()
            s = time.time()
            with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=60) as r:
                json.loads(r.read())
            lat.append((time.time() - s) * 1000)
        gw_s = time.time() - t0
        path = os.path.join(m.home, "bench.jsonl")
        with open(path, "w") as f:
            for i in range(a.n):
                f.write(json.dumps({"channel": "web", "category": "food_safety",
                                    "lat": 21.0285, "lon": 105.8542,
                                    "description": "Direct complaint %d" % i,
                                    "business_name": "Bench shop", "consumer_phone": "0912345678",
                                    "client_ref": "direct-%d" % i}) + "\n")
        t0 = time.time()
        r = m.ctl("submit", "--file", path, "--node", "hn.doit")
        direct_s = time.time() - t0
        ok = len([o for o in r.json if o.get("ok")])
        print("open311 POST via gateway: %d requests in %.2fs = %.0f/s; latency ms median %.1f "
              "p90 %.1f p99 %.1f max %.1f" % (a.n, gw_s, a.n / gw_s, pct(lat, .5), pct(lat, .9),
                                               pct(lat, .99), max(lat)))
        print("cpmctl submit --file (direct): %d of %d in %.2fs = %.0f/s (process start "
              "included)" % (ok, a.n, direct_s, a.n / direct_s))
        print("ratio gateway/direct: %.2f" % ((a.n / gw_s) / (a.n / direct_s)))


if __name__ == "__main__":
    main()
