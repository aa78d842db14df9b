#!/usr/bin/env python3
"""Issue 8 end to end, the way a user does it from the README, against real
processes and with nothing simulated: a complaint about a food business is
routed to the district's office; its officer accepts the case, plans an
inspection from it and assigns inspector1 as lead; inspector1 checks the work
out (the case facts, no consumer phone), records findings, evidence, an
outcome and the submit while the agency's inspection service is stopped,
syncs when it is back, and the lead reviews (fined: the fine is the sum the
findings propose) and closes. The case is resolved at routing with the
outcome and the fine, the coordinators' stream carries every step, the
violation record exists, and a second sync sends nothing; the next checkout
takes the closed work off the device."""
import os
import subprocess

from mesh import CTL, Mesh, check, run

AGENCY = "hn.d.hoan-kiem"
OFFICER = "officer." + AGENCY
COORD = "coordinator.hn.doit"
LEAD = "inspector1." + AGENCY
BUSINESS = "Quán Bún Chả Hàng Mành"
PHONE_DIGITS = (b"0912 777 888", b"0912777888", b"912777888")


def case_state(m, t):
    r = m.ctl("status", t, as_=COORD, check_rc=False)
    return r.json[0].get("state") if r.returncode == 0 and r.json else None


def ins(m, *args):
    return m.ctl("inspector", *args, as_=LEAD).json[0]


def device_bytes(m):
    """Every byte the inspector's device keeps (its LMDB and evidence)."""
    out = b""
    for d, _, files in os.walk(os.path.join(m.home, "field", LEAD)):
        for f in files:
            with open(os.path.join(d, f), "rb") as fh:
                out += fh.read()
    return out


def test_complaint_to_fine_through_the_field():
    with Mesh(areas=("hoan-kiem",)) as m:
        # a consumer's complaint, routed to the district's office
        t = m.ctl("submit", "--channel", "hotline", "--business", BUSINESS, "--area", "hoan-kiem",
                  "--category", "food_safety", "--description", "Đau bụng sau khi ăn bún chả",
                  "--phone", PHONE_DIGITS[0].decode(), "--ref", "flow-1").json[0]["ticket"]
        m.wait_for(lambda: case_state(m, t) == "assigned", "routing assigns " + t)
        check(m.status(t)["agency"] == AGENCY, "routed to the district: %s" % m.status(t))
        # the officer accepts, plans from the case, assigns inspector1 as lead
        check(m.ctl("case", "accept", t, as_=OFFICER).json[0]["state"] == "accepted", "accepted")
        i = m.ctl("inspection", "plan", "--ticket", t, "--category", "food_safety",
                  as_=OFFICER).json[0]["inspections"][0]
        iid = i["id"]
        check(i["state"] == "planned" and i["business"] == BUSINESS and i["tickets"] == [t],
              "planned from the case: %s" % i)
        i = m.ctl("inspection", "assign", iid, "--lead", LEAD, as_=OFFICER).json[0]
        check(i["inspections"][0]["state"] == "assigned" and i["inspections"][0]["lead"] == LEAD,
              "assigned: %s" % i)
        # the inspector takes the work out: the case facts, no consumer phone
        r = ins(m, "checkout")
        check(r["inspections"] == [iid] and r["cases"] == 1, "checked out: %s" % r)
        kept = device_bytes(m)
        check("Đau bụng".encode() in kept and BUSINESS.encode() in kept,
              "the case facts are on the device")
        check(not any(p in kept for p in PHONE_DIGITS), "no consumer phone on the device")
        listed = ins(m, "list")
        check([x["id"] for x in listed["inspections"]] == [iid], "listed: %s" % listed)
        check(m.ctl("inspection", "show", iid, as_=OFFICER).json[0]["inspections"][0]["state"] ==
              "in_field", "the lead's checkout: in_field")
        # really offline: the agency's inspection service is stopped
        m.kill(AGENCY, "inspection")
        photo = os.path.join(m.home, "bep.jpg")
        with open(photo, "wb") as f:
            f.write(os.urandom(700000))
        ev = ins(m, "evidence", "add", photo)
        ins(m, "finding", "add", "--inspection", iid, "--item", "food-safety-cert",
            "--violation", "ND115-2018-6", "--severity", "2", "--fine", "7000000",
            "--description", "Không có giấy chứng nhận cơ sở đủ điều kiện ATTP",
            "--evidence", ev["blake2b"], "--id", "f-cert")
        ins(m, "finding", "add", "--inspection", iid, "--item", "hygiene",
            "--description", "Bếp sạch", "--id", "f-hygiene")
        ins(m, "outcome", "--inspection", iid, "--outcome", "fined", "--id", "o-lead")
        ins(m, "submit", "--inspection", iid, "--id", "s-lead")
        st = ins(m, "status")
        check(st["total"] == 4 and st["not_synced"] == 4, "4 records wait: %s" % st)
        # back online
        m.start(AGENCY, "inspection")
        r = ins(m, "sync")
        check(r["ok"] and r["stored"] == 4 and r["refused"] == 0 and r["conflict"] == 0,
              "all stored: %s" % r)
        check(r["evidence_files"] == 1 and r["evidence_bytes_sent"] == 700000,
              "the photo uploaded: %s" % r)
        check(os.path.getsize(os.path.join(m.home, "data", AGENCY, "inspection", "evidence",
                                           ev["blake2b"])) == 700000, "the photo at the agency")
        shown = m.ctl("inspection", "show", iid, as_=OFFICER).json[0]
        i = shown["inspections"][0]
        check(i["state"] == "findings_submitted" and i["findings"] == 2, "submitted: %s" % i)
        found = {x["id"]: x for x in shown["records"] if x["kind"] == "finding"}
        check(sorted(found) == ["f-cert", "f-hygiene"] and
              found["f-cert"]["violation"] == "ND115-2018-6" and
              found["f-cert"]["fine_vnd"] == 7000000 and found["f-hygiene"]["violation"] == "",
              "the findings shown: %s" % shown["records"])
        # the lead reviews (the fine: what the findings propose) and closes
        r = m.ctl("inspection", "review", iid, "--outcome", "fined", as_=LEAD).json[0]
        i = r["inspections"][0]
        check(i["state"] == "reviewed" and i["outcome"] == "fined" and i["fine_vnd"] == 7000000,
              "reviewed: %s" % i)
        r = m.ctl("inspection", "close", iid, as_=LEAD).json[0]
        check(r["inspections"][0]["state"] == "closed", "closed: %s" % r)
        # the case at routing
        m.wait_for(lambda: case_state(m, t) == "resolved", "routing hears resolved")
        s = m.status(t)
        check(s["outcome"] == "fined" and s["fine_vnd"] == 7000000, "routing: %s" % s)
        # the violation record
        v = m.ctl("inspection", "show", iid, as_=OFFICER).json[0].get("violations")
        check(v is not None and len(v) == 1, "one violation record: %s" % v)
        check(v[0]["violation"] == "ND115-2018-6" and v[0]["fine_vnd"] == 7000000 and
              v[0]["business"] == BUSINESS and v[0]["area"] == "hoan-kiem" and
              v[0]["inspection"] == iid and v[0]["tickets"] == [t] and
              v[0]["record"] == "f-cert", "the violation: %s" % v)
        text = subprocess.run(m.prefix + [CTL, "--as", OFFICER, "inspection", "show", iid],
                              capture_output=True, text=True, env=m.env, timeout=120).stdout
        check("violations:" in text and "ND115-2018-6" in text and "7.000.000 VND" in text,
              "the violation in the text form: %s" % text)
        # the coordinators' stream
        m.wait_for(m.outbox_empty, "delivery")
        seen = m.ctl("watch", "--for", "3", as_=COORD).json
        kinds = [e["kind"] for e in seen]
        for k in ("inspection.planned", "inspection.assigned", "inspection.finding",
                  "inspection.submitted", "inspection.reviewed", "inspection.closed"):
            check(k in kinds, "%s in the stream: %s" % (k, sorted(set(kinds))))
        check(any(e["kind"] == "case.resolved" and e.get("ticket") == t for e in seen),
              "case.resolved of %s in the stream" % t)
        check(kinds.count("inspection.finding") == 2, "one event per finding")
        # a second sync is a no-op
        again = ins(m, "sync")
        check(again["records_sent"] == 0 and again["evidence_bytes_sent"] == 0 and
              again["stored"] == 0, "a second sync sends nothing: %s" % again)
        # a finding made on the device after the close is refused, and the
        # sync says why
        ins(m, "finding", "add", "--inspection", iid, "--item", "x", "--id", "f-late")
        late = m.ctl("inspector", "sync", as_=LEAD, check_rc=False)
        r = late.json[0]
        check(late.returncode == 1 and r["refused"] == 1 and r["refusals"][0]["id"] == "f-late" and
              r["refusals"][0]["field"] == "inspection", "refused, saying why: %s" % r)
        # the next checkout takes the closed inspection and its case facts off
        # the device: nothing more is recorded on it (its records stay)
        r = ins(m, "checkout")
        check(r["inspections"] == [] and r["cases"] == 0, "nothing open: %s" % r)
        listed = ins(m, "list")
        check(listed["inspections"] == [] and listed["total"] == 5 and
              listed["not_synced"] == 0, "closed work off the device, records kept: %s" % listed)
        late = m.ctl("inspector", "finding", "add", "--inspection", iid, "--item", "x",
                     as_=LEAD, check_rc=False)
        check(late.returncode == 1 and late.json[0]["field"] == "inspection",
              "no finding on a closed inspection: %s" % late.stdout)


if __name__ == "__main__":
    run([test_complaint_to_fine_through_the_field])
