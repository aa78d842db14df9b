#!/usr/bin/env python3
"""Issue 9, datasets from events, against real processes: an area node's
exchange derives violations (from its inspection's violation.recorded),
complaint_stats (from its intake's complaint.received) and hotline_stats
(consultation.recorded). Exactly once: the exchange is SIGKILLed three times
in the middle of a stream of complaints and restarted; in the end every
complaint is counted once per area/category and every violation is there
once. The datasets are read from the exchange's LMDB store with
tests/tools/cpm_xdump (a reader beside the running service)."""
import collections
import json
import os
import subprocess
import threading

from mesh import BUILD, Mesh, check, complaints, run

AGENCY = "hn.d.hoan-kiem"
OFFICER = "officer." + AGENCY
LEAD = "inspector1." + AGENCY
TAX = "0101234567-001"


def xdump(m, what):
    store = os.path.join(m.home, "data", AGENCY, "exchange")
    r = subprocess.run([os.path.join(BUILD, "cpm_xdump"), store, what], capture_output=True,
                       text=True, timeout=60)
    check(r.returncode == 0, "cpm_xdump %s: %s" % (what, r.stderr))
    return [json.loads(line) for line in r.stdout.splitlines()]


def cursor(m, service):
    return {c["source"]: c["seq"] for c in xdump(m, "--cursors")}.get(AGENCY + "/" + service, 0)


def head(m, service):
    evs = m.events(AGENCY, service)
    return max((e["seq"] for e in evs), default=0), evs


def caught_up(m, service):
    h, _ = head(m, service)
    return h > 0 and cursor(m, service) == h


def inspections(m):
    """Two campaign inspections: one with a coded finding recorded in the
    field (a violation per finding), one fined at review with no finding (the
    summary record). Returns their ids."""
    plan = m.ctl("inspection", "plan", "--campaign", "tet-2027", "--business", "Công ty TNHH Phở Cồ",
                 "--address", "12 Hàng Bạc", "--area", "hoan-kiem", "--category", "food_safety",
                 "--tax-code", TAX, as_=OFFICER).json[0]["inspections"][0]
    check(plan["tax_code"] == TAX, "the tax code is kept: %s" % plan)
    a = plan["id"]
    m.ctl("inspection", "assign", a, "--lead", LEAD, as_=OFFICER)
    m.ctl("inspector", "checkout", as_=LEAD)
    m.ctl("inspector", "finding", "add", "--inspection", a, "--item", "food-safety-cert",
          "--violation", "ND115-2018-6", "--fine", "7000000", "--id", "f-cert", as_=LEAD)
    m.ctl("inspector", "submit", "--inspection", a, "--id", "s-lead", as_=LEAD)
    r = m.ctl("inspector", "sync", as_=LEAD).json[0]
    check(r["ok"] and r["refused"] == 0, "synced: %s" % r)
    m.ctl("inspection", "review", a, "--outcome", "fined", as_=LEAD)
    b = m.ctl("inspection", "plan", "--campaign", "tet-2027", "--business", "Cửa hàng Bánh Cuốn",
              "--area", "hoan-kiem", "--category", "food_safety",
              as_=OFFICER).json[0]["inspections"][0]["id"]
    m.ctl("inspection", "assign", b, "--lead", LEAD, as_=OFFICER)
    m.ctl("inspection", "review", b, "--outcome", "fined", "--fine", "3000000", as_=OFFICER)
    return a, b


def test_datasets_exactly_once_across_sigkill():
    with Mesh(areas=("hoan-kiem",), exchange=True) as m:
        # a bad tax code is refused, naming the field
        r = m.ctl("inspection", "plan", "--campaign", "x", "--business", "B", "--area",
                  "hoan-kiem", "--category", "food_safety", "--tax-code", "01012345",
                  as_=OFFICER, check_rc=False)
        check(r.returncode != 0 and "tax_code" in r.stdout + r.stderr,
              "a bad tax code is refused: %s %s" % (r.stdout, r.stderr))
        a, b = inspections(m)
        for ch in ("hotline", "hotline", "web"):
            m.ctl("consult", "--summary", "Giải thích quyền bảo hành", "--channel", ch,
                  "--category", "telecom", "--duration", "120", "--node", AGENCY)

        # a stream of complaints, the exchange SIGKILLed three times in it
        sent = []
        batches = [complaints(15, seed=s, areas=("hoan-kiem",), tag="xf") for s in range(1, 7)]
        stop = threading.Event()
        errors = []

        def submit_all():
            try:
                for batch in batches:
                    m.submit_file(batch, node=AGENCY)
                    sent.extend(batch)
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                errors.append(e)
            stop.set()

        t = threading.Thread(target=submit_all)
        t.start()
        for k in range(3):
            m.wait_for(lambda: cursor(m, "intake") > 10 * (k + 1) or stop.is_set(),
                       "the feed applies complaints")
            m.kill(AGENCY, "exchange")
            m.start(AGENCY, "exchange")
        t.join()
        check(not errors, "submitted: %s" % errors)
        check(len(sent) == 90, "90 complaints submitted")

        m.wait_for(lambda: caught_up(m, "intake") and caught_up(m, "inspection"),
                   "the feed reaches the heads of intake and inspection")
        _, evs = head(m, "intake")
        received = [e for e in evs if e["kind"] == "complaint.received"]
        check(len(received) == 90, "intake recorded 90 complaints: %d" % len(received))

        want = collections.Counter((c["area"], c["category"]) for c in sent)
        got = collections.Counter()
        for rec in xdump(m, "complaint_stats"):
            f = rec["fields"]
            check(rec["key"] == "%s|%s|%s" % (f["area"], f["category"], f["month"]),
                  "the key: %s" % rec)
            got[(f["area"], f["category"])] += int(f["count"])
            check(rec["publisher"] == AGENCY, "published by the node: %s" % rec)
        check(got == want, "each complaint counted once: %s vs %s" % (dict(got), dict(want)))

        hot = {(r["fields"]["category"], r["fields"]["channel"]): int(r["fields"]["count"])
               for r in xdump(m, "hotline_stats")}
        check(hot == {("telecom", "hotline"): 2, ("telecom", "web"): 1}, "hotline: %s" % hot)

        v = xdump(m, "violations")
        mine = [r for r in v if r["fields"]["inspection"] == a]
        check(len(mine) == 1, "one violation of %s: %s" % (a, v))
        f = mine[0]["fields"]
        check(f["violation"] == "ND115-2018-6" and f["fine_vnd"] == "7000000" and
              f["tax_code"] == TAX and f["business"] == "Công ty TNHH Phở Cồ" and
              f["address"] == "12 Hàng Bạc" and f["area"] == "hoan-kiem" and
              f["category"] == "food_safety" and int(f["date"]) > 0, "the violation: %s" % f)
        summary = [r for r in v if r["fields"]["inspection"] == b]
        check(len(summary) == 1 and summary[0]["fields"]["violation"] == "" and
              summary[0]["fields"]["fine_vnd"] == "3000000" and
              summary[0]["key"].startswith(b + "#summary#"), "the summary: %s" % summary)
        check(len(v) == 2, "two violations in all: %s" % v)

        # the events carry the record fields, never a consumer's data
        iev = [e for e in m.events(AGENCY, "inspection") if e["kind"] == "violation.recorded"]
        check(len(iev) == 2, "two violation.recorded events: %s" % iev)
        phones = {c["consumer_phone"] for c in sent}
        text = json.dumps(evs, ensure_ascii=False)
        check(not any(p in text for p in phones), "no consumer phone in intake's events")
        h = m.health(AGENCY)[(AGENCY, "exchange")]
        check(h.get("up"), "the exchange is up: %s" % h)


if __name__ == "__main__":
    run([test_datasets_exactly_once_across_sigkill])
