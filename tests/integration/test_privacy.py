#!/usr/bin/env python3
"""Personal data stays where it belongs: the consumer's contact is sealed at
intake to the agency's key, so after the agency has the case no byte of the
name, phone or email is in any data file (routing, intake, dead letters) or
log, yet the agency's officer sees it; a contact sealed for another agency
than the one routing chose is counted; sealed contacts at intake and dead
letters go after their retention period. Real processes, real stores."""
import glob
import json
import os
import shutil
import subprocess
import sys
import time

from mesh import BUILD, Mesh, check, run

NAME = "Zyqvarn Privatest"
PHONE = "0987 246 813"
EMAIL = "zyqvarn.privatest@example.vn"
CITY, HK, BD = "hn.doit", "hn.d.hoan-kiem", "hn.d.ba-dinh"
M = None


def complaint(i, category, area):
    return {"channel": "hotline", "business_name": "Privacy Shop %d" % i, "area": area,
            "category": category, "description": "Complaint %d with a contact" % i,
            "consumer_name": NAME, "consumer_phone": PHONE, "consumer_email": EMAIL,
            "client_ref": "priv-%s-%d" % (category, i)}


def submit(cs, node):
    r = M.submit_file(cs, node=node)
    check(all(j.get("ok") for j in r.json), "submitted: %s" % r.json)
    return [j["ticket"] for j in r.json]


def counter(node, service, name):
    h = M.health(node).get((node, service), {})
    return h.get("counters", {}).get(name, 0)


def wait_assigned(tickets):
    """Until every ticket's agency has stored the case and routing knows."""
    M.wait_for(lambda: all(M.status(t)["state"] == "assigned" for t in tickets),
               "the agencies to acknowledge %d cases" % len(tickets), seconds=60)
    M.wait_for(M.outbox_empty, "every outbox to drain", seconds=60)


def files_holding(needles):
    """Every file under data/ and logs/ whose bytes contain one of needles."""
    found = []
    for path in glob.glob(os.path.join(M.home, "data", "**"), recursive=True) + \
            glob.glob(os.path.join(M.home, "logs", "*")):
        if os.path.isfile(path):
            with open(path, "rb") as f:
                data = f.read()
            found += ["%s: %s" % (os.path.relpath(path, M.home), n) for n in needles
                      if n.encode() in data]
    return found


def case_show(ticket):
    # cpmctl case acts as who runs it: the officer of the agency routing chose,
    # at the node of that officer's own agency (from the registry)
    r = M.ctl("case", "show", ticket, as_="officer." + M.status(ticket)["agency"])
    return r.json[0]


def test_contact_is_in_no_file_yet_the_agency_sees_it():
    hk = submit([complaint(i, "food_safety", "hoan-kiem") for i in range(5)], CITY)
    city = submit([complaint(i, "ecommerce", "ba-dinh") for i in range(3)], BD)
    wait_assigned(hk + city)
    leaks = files_holding([NAME, PHONE, EMAIL])
    check(not leaks, "the contact is readable in: %s" % leaks)
    check(files_holding(["Privacy Shop 1"]), "the scan reads the stores (sanity)")
    for t, agency in ((hk[0], HK), (city[0], CITY)):
        j = case_show(t)
        check(j["agency"] == agency and j["contact_status"] == "open",
              "%s at %s: %s" % (t, agency, j))
        check(j["contact"] == {"name": NAME, "phone": PHONE, "email": EMAIL},
              "the officer of %s sees the contact: %s" % (agency, j))
    # another agency's officer is refused, as for any action on the case
    r = M.ctl("case", "show", hk[0], "--node", HK, as_="officer.hn.qltt", check_rc=False)
    check(r.returncode == 1 and r.json and r.json[0].get("field") == "sender",
          "another agency's officer is refused: %s %s" % (r.stdout, r.stderr))


def test_contact_sealed_for_another_agency_is_counted():
    # The city's intake runs stale rules (pricing -> hn.doit); routing sends
    # pricing to hn.qltt, which cannot open a contact sealed for hn.doit.
    before = counter(CITY, "routing", "contact.unreadable")
    [t] = submit([complaint(0, "pricing", "hoan-kiem")], CITY)
    wait_assigned([t])
    check(M.status(t)["agency"] == "hn.qltt", "routing chose hn.qltt")
    check(counter(CITY, "routing", "contact.unreadable") == before + 1,
          "routing counted the unreadable contact")
    kinds = [e for e in M.events(CITY, "routing") if e["ticket"] == t]
    check(any(e["kind"] == "contact.unreadable" for e in kinds), "event: %s" % kinds)
    j = case_show(t)
    check(j["contact_status"] == "sealed_for_other" and j["contact_for"] == CITY
          and "contact" not in j, "hn.qltt sees that it is sealed for hn.doit: %s" % j)


def test_retention_strips_contacts_and_deletes_dead_letters():
    # hn.doit's intake keeps a sealed contact 2 s after routing's ack
    t, other = submit([complaint(9, "food_safety", "hoan-kiem"), complaint(9, "ecommerce", "ba-dinh")],
                      CITY)
    wait_assigned([t, other])
    M.wait_for(lambda: counter(CITY, "intake", "retention.contacts_stripped") >= 1,
               "intake to strip sealed contacts after their retention")
    check(case_show(t)["contact_status"] == "open", "the agency still has the contact")
    # a dead letter at routing (hoan-kiem reports on the city's case) is
    # deleted 2 s after it was first seen
    dead = counter(CITY, "routing", "delivery.dead_letters")
    r = subprocess.run([os.path.join(BUILD, "cpm_attack"), "--home", M.home, "--as", HK,
                        "--target", CITY + "/routing", "--attack", "foreign_update",
                        "--ticket", other, "--timeout", "1500"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "cpm_attack: %s" % r.stderr)
    M.wait_for(lambda: counter(CITY, "routing", "delivery.dead_letters") > dead,
               "routing to keep the update as a dead letter")
    M.wait_for(lambda: counter(CITY, "routing", "retention.dead_deleted") >= 1,
               "routing to delete the dead letter after its retention")


def test_contact_waiting_for_routing_outlives_its_retention():
    # Intake's outbox refers to the stored complaint (no second copy), so a
    # complaint waiting for routing must keep its sealed contact whatever its
    # retention: the clock starts at routing's ack, not at intake.
    # the earlier tests' strips done first (each lands within ack + tick + 2 s)
    stripped = counter(CITY, "intake", "retention.contacts_stripped")
    for _ in range(10):
        time.sleep(4)
        now = counter(CITY, "intake", "retention.contacts_stripped")
        if now == stripped:
            break
        stripped = now
    M.kill(CITY, "routing")
    [t] = submit([complaint(7, "food_safety", "hoan-kiem")], CITY)
    time.sleep(5)  # more than the 2 s retention, several of intake's sweeps
    check(counter(CITY, "intake", "retention.contacts_stripped") == stripped,
          "nothing stripped while routing has not acknowledged")
    M.start(CITY, "routing")
    wait_assigned([t])
    j = case_show(t)
    check(j["contact_status"] == "open" and j["contact"]["phone"] == PHONE,
          "the agency got the contact after routing's return: %s" % j)
    M.wait_for(lambda: counter(CITY, "intake", "retention.contacts_stripped") > stripped,
               "intake to strip it after routing's ack and the retention")


def reconfigure():
    """Stale rules and 2 s retention at the city's intake; 2 s dead-letter
    retention at routing."""
    etc = os.path.join(M.home, "etc")
    with open(os.path.join(etc, "routing.yaml")) as f:
        rules = f.read()
    stale = rules.replace('category: pricing\n    agency: "hn.qltt"',
                          'category: pricing\n    agency: "hn.doit"')
    check(stale != rules, "the pricing rule was found")
    with open(os.path.join(etc, "stale-rules.yaml"), "w") as f:
        f.write(stale)
    for svc, extra in (("intake", "contact_retention_s: 2\n"), ("routing", "dead_retention_s: 2\n")):
        M.kill(CITY, svc)
        cfg = os.path.join(etc, "%s.%s.yaml" % (CITY, svc))
        with open(cfg) as f:
            text = f.read()
        if svc == "intake":
            text = text.replace("rules: routing.yaml", "rules: stale-rules.yaml")
        with open(cfg, "w") as f:
            f.write(text + extra)
        M.start(CITY, svc)


TESTS = [test_contact_is_in_no_file_yet_the_agency_sees_it,
         test_contact_sealed_for_another_agency_is_counted,
         test_retention_strips_contacts_and_deletes_dead_letters,
         test_contact_waiting_for_routing_outlives_its_retention]

if __name__ == "__main__":
    code = 0
    with Mesh(areas=("hoan-kiem", "ba-dinh")) as M:
        reconfigure()
        try:
            run(TESTS)
        except SystemExit as e:
            code = e.code
            if code:
                raise
    sys.exit(code)
