#!/usr/bin/env python3
"""Benchmark of cross-agency queries (docs/protocol.md 19.2) on a real local
mesh with 3 areas: 5 agency exchanges (hn.doit, hn.qltt, 3 area offices).

Each exchange gets --records watchlist records by hand; then bench_xquery
fans queries out to all 5 at once from one signed client for --seconds and
checks every signed answer (as cpmctl does). Figures: fan-outs per second
(one query answered by all 5 agencies) and answers per second, for a query
by business name (a few records back per agency) and for the whole dataset;
against a baseline in the same run: the same fan-out of health queries to the
same 5 processes (signed request/reply without store, policy, signed answer
or log append). Also the wall time of one `cpmctl exchange query` (process
start, 5 CURVE handshakes). Figures only; nothing is asserted on time.

  CPM_BUILD=build python3 tests/bench/bench_xquery.py [--records N] [--seconds S]
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from mesh import BUILD, CTL, Mesh  # noqa: E402

AS = "coordinator.hn.doit"
NAMES = ["Công ty TNHH Phở Cồ", "Cửa hàng Bánh Mì Hà Nội", "Shop Giày Hà Đông",
         "Công ty CP Sữa Việt", "Hộ kinh doanh Bún Chả Hương Liên"]


def bench(m, secs, *extra):
    r = subprocess.run([os.path.join(BUILD, "bench_xquery"), "--home", m.home, "--as", AS,
                        "--seconds", str(secs)] + list(extra), capture_output=True, text=True,
                       env=m.env)
    if r.returncode != 0:
        sys.exit("bench_xquery failed: %s %s" % (r.stdout, r.stderr))
    return json.loads(r.stdout.splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=5)
    a = ap.parse_args()
    with Mesh(exchange=True) as m:
        agencies = [n for n in m.nodes if n == "hn.qltt" or n == "hn.doit" or
                    n.startswith("hn.d.")]
        for ag in agencies:
            for i in range(a.records):
                m.ctl("exchange", "publish", "--dataset", "watchlist", "--field",
                      "business=%s %d" % (NAMES[i % len(NAMES)], i), "--field",
                      "reason=bench", as_="officer." + ag)
        print("cross-agency queries: %d exchanges, %d watchlist records each"
              % (len(agencies), a.records))
        base = bench(m, a.seconds, "--health")
        by_name = bench(m, a.seconds, "--business", "pho co")
        whole = bench(m, a.seconds)
        for what, f in (("baseline: health fan-out", base),
                        ("query --business \"pho co\"", by_name),
                        ("query, whole dataset", whole)):
            print("  %-28s %7.1f fan-outs/s  %7.1f answers/s  (%d records, %d failed)"
                  % (what, f["fanouts_per_s"], f["answers_per_s"], f["records"], f["failed"]))
        print("  query / baseline: %.2f (by name), %.2f (whole dataset)"
              % (by_name["fanouts_per_s"] / base["fanouts_per_s"],
                 whole["fanouts_per_s"] / base["fanouts_per_s"]))
        t = []
        for _ in range(5):
            t0 = time.monotonic()
            subprocess.run([CTL, "--json", "--as", AS, "exchange", "query", "--dataset",
                            "watchlist", "--business", "pho co"], capture_output=True,
                           env=m.env, check=True)
            t.append(time.monotonic() - t0)
        t.sort()
        print("  one `cpmctl exchange query` (new process, 5 handshakes): median %.0f ms"
              % (t[len(t) // 2] * 1000))


if __name__ == "__main__":
    main()
