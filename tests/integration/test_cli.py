#!/usr/bin/env python3
"""cpmctl as a new user meets it: --help everywhere, clear errors naming the
field with a non-zero exit, keys on disk with mode 0600, officers acting only
for their own agency."""
import json
import os
import stat
import subprocess
import tempfile

from mesh import CTL, Mesh, check, run

COMMANDS = ["submit", "consult", "status", "case", "watch", "events", "health", "keygen",
            "registry"]


def test_every_command_has_help_and_bad_usage_exits_2():
    r = subprocess.run([CTL, "--help"], capture_output=True, text=True)
    check(r.returncode == 0 and all(c in r.stdout for c in COMMANDS), "cpmctl --help")
    for c in COMMANDS:
        r = subprocess.run([CTL, c, "--help"], capture_output=True, text=True)
        check(r.returncode == 0 and "usage: cpmctl " + c in r.stdout, "%s --help" % c)
    r = subprocess.run([CTL, "frobnicate"], capture_output=True, text=True)
    check(r.returncode == 2 and "unknown command" in r.stderr, "unknown command")
    r = subprocess.run([CTL, "status", "--bogus"], capture_output=True, text=True)
    check(r.returncode == 2, "unknown option exits 2")


def test_no_mesh_is_a_clear_error():
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([CTL, "--home", d, "status", "X-1"], capture_output=True, text=True)
        check(r.returncode == 1 and "no mesh at" in r.stderr and "deploy/local/up" in r.stderr,
              "missing mesh: %s" % r.stderr)


def test_keygen_writes_0600_secrets_and_refuses_to_overwrite():
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([CTL, "--json", "keygen", "--id", "x.y", "--dir", d],
                           capture_output=True, text=True)
        check(r.returncode == 0, "keygen: %s" % r.stderr)
        mode = stat.S_IMODE(os.stat(os.path.join(d, "x.y.secret")).st_mode)
        check(mode == 0o600, "secret mode %o" % mode)
        check(os.path.exists(os.path.join(d, "x.y.public")), "public file")
        r = subprocess.run([CTL, "keygen", "--id", "x.y", "--dir", d], capture_output=True,
                           text=True)
        check(r.returncode == 1 and "exists" in r.stderr, "no silent overwrite: %s" % r.stderr)


def test_keygen_makes_several_ids_in_one_call_and_stops_at_the_first_refused():
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([CTL, "--json", "keygen", "--id", "a.1", "--id", "b.2", "--dir", d],
                           capture_output=True, text=True)
        check(r.returncode == 0, "keygen: %s" % r.stderr)
        lines = [json.loads(l) for l in r.stdout.splitlines()]
        check([l["id"] for l in lines] == ["a.1", "b.2"], "one line per id: %s" % r.stdout)
        for i in ("a.1", "b.2"):
            mode = stat.S_IMODE(os.stat(os.path.join(d, i + ".secret")).st_mode)
            check(mode == 0o600, "%s secret mode %o" % (i, mode))
        before = open(os.path.join(d, "b.2.secret")).read()
        # c.3 is made, b.2 exists: refused there, so d.4 is not made
        r = subprocess.run([CTL, "keygen", "--id", "c.3", "--id", "b.2", "--id", "d.4",
                            "--dir", d], capture_output=True, text=True)
        check(r.returncode == 1 and "exists" in r.stderr, "refused: %s" % r.stderr)
        check(os.path.exists(os.path.join(d, "c.3.secret")), "the one before is kept")
        check(not os.path.exists(os.path.join(d, "d.4.secret")), "none after the refusal")
        check(open(os.path.join(d, "b.2.secret")).read() == before, "b.2 left alone")
        r = subprocess.run([CTL, "--json", "keygen", "--dir", d]
                           + [a for k in range(65) for a in ("--id", "m%d" % k)],
                           capture_output=True, text=True)
        err = json.loads(r.stdout.splitlines()[0])
        check(r.returncode == 1 and err["field"] == "id" and "64" in err["message"],
              "more than 64 ids refused: %s" % r.stdout)
        check(not os.path.exists(os.path.join(d, "m0.secret")), "nothing made when refused")
        # a malformed id anywhere in the list: refused before any key is made
        r = subprocess.run([CTL, "--json", "keygen", "--dir", d, "--id", "e.5", "--id", "x/y"],
                           capture_output=True, text=True)
        err = json.loads(r.stdout.splitlines()[0])
        check(r.returncode == 1 and err["field"] == "id" and "x/y" in err["message"],
              "malformed id refused: %s" % r.stdout)
        check(not os.path.exists(os.path.join(d, "e.5.secret")), "nothing made before it")
        # an existing secret is a conflict, not bad input
        r = subprocess.run([CTL, "--json", "keygen", "--dir", d, "--id", "a.1"],
                           capture_output=True, text=True)
        err = json.loads(r.stdout.splitlines()[0])
        check(r.returncode == 1 and err["error"] == "conflict", "exists: %s" % r.stdout)


def test_bad_input_names_the_field_and_records_nothing():
    with Mesh() as m:
        head = len(m.events("hn.doit", "intake"))
        cases = [
            (["--channel", "fax", "--business", "B", "--area", "ba-dinh",
              "--description", "d"], "channel"),
            (["--channel", "web", "--business", "B", "--area", "atlantis",
              "--description", "d"], "area"),
            (["--channel", "web", "--area", "ba-dinh", "--description", "d"],
             "business_name"),
            (["--channel", "web", "--business", "B", "--area", "ba-dinh",
              "--description", "d", "--category", "space"], "category"),
            (["--channel", "web", "--business", "B", "--area", "ba-dinh",
              "--description", "d", "--email", "not-an-email"], "consumer_email"),
        ]
        for args, field in cases:
            r = m.ctl("submit", *args, check_rc=False)
            check(r.returncode == 1, "exit 1 for bad %s" % field)
            e = r.json[0]
            check(e["code"] == 400 and e["field"] == field and e["message"],
                  "error names %s: %s" % (field, e))
        check(len(m.events("hn.doit", "intake")) == head, "nothing recorded")
        r = m.ctl("status", "DOIT-99999999", check_rc=False)
        check(r.returncode == 1 and r.json[0]["code"] == 404, "unknown ticket is 404")
        r = subprocess.run([CTL, "submit", "--channel", "fax", "--business", "B", "--area",
                            "x", "--description", "d"], capture_output=True, text=True, env=m.env)
        check("error 400" in r.stderr and "channel" in r.stderr, "text error: %s" % r.stderr)


def test_case_actions_follow_responsibility():
    with Mesh() as m:
        t = m.ctl("submit", "--channel", "walk_in", "--business", "Bakery", "--area",
                  "cau-giay", "--category", "food_safety", "--description",
                  "mouldy bread").json[0]["ticket"]
        m.wait_for(lambda: m.status(t)["state"] == "assigned", "assignment")
        check(m.status(t)["agency"] == "hn.d.cau-giay", "food safety goes to the area")
        r = m.ctl("case", "accept", t, "--node", "hn.d.cau-giay", as_="officer.hn.d.hoan-kiem",
                  check_rc=False)
        check(r.returncode == 1 and r.json[0]["code"] == 403,
              "another area's officer is refused: %s" % r.stdout)
        # cpmctl case acts as who runs it, at that officer's own agency's node
        officer = "officer.hn.d.cau-giay"
        r = m.ctl("case", "resolve", t, as_=officer, check_rc=False)
        check(r.json[0]["code"] == 400 and r.json[0]["field"] == "outcome",
              "resolve needs an outcome")
        # the agency names DIR/keys/officer.<agency>.secret: a member id only
        r = m.ctl("case", "show", t, "--node", "../x", check_rc=False)
        check(r.returncode == 1 and r.json[0]["code"] == 400 and r.json[0]["field"] == "--node",
              "a --node that is not a member id is refused: %s" % r.stdout)
        r = m.ctl("case", "resolve", t, "--note", "fined", "--outcome", "fined", "--fine",
                  "5000000", as_=officer, check_rc=False)
        check(r.json[0]["code"] == 409, "cannot resolve before accepting: %s" % r.stdout)
        check(m.ctl("case", "accept", t, as_=officer).json[0]["state"] == "accepted", "accepted")
        check(m.ctl("case", "accept", t, as_=officer).json[0]["duplicate"],
              "accepting twice is harmless")
        r = m.ctl("case", "resolve", t, "--note", "Stock destroyed; shop fined", "--outcome",
                  "fined", "--fine", "5000000", as_=officer)
        check(r.json[0]["state"] == "resolved", "resolved")
        m.wait_for(lambda: m.status(t)["state"] == "resolved", "routing hears of it")
        st = m.status(t)
        check(st["resolve_due"] != "-", "resolve deadline set on acceptance")
        check([h["state"] for h in st["history"]] ==
              ["received", "routed", "assigned", "accepted", "resolved"], "history")


def test_consultation_and_health():
    with Mesh() as m:
        r = m.ctl("consult", "--summary", "Explained warranty rights", "--duration", "240")
        check(r.json[0]["ticket"].startswith("DOIT-C"), "consultation id")
        h = m.health()
        check(len(h) == 10 and all(x["up"] for x in h.values()), "10 services up")
        intake = h[("hn.doit", "intake")]["counters"]
        check(intake.get("applied", 0) >= 1 and intake.get("received", 0) >= 1, "counters")
        m.kill("hn.d.ba-dinh", "inspection")
        r = m.ctl("--timeout", "500", "health", check_rc=False)
        check(r.returncode == 1, "health exits 1 when a service is down")
        down = [x for x in r.json if not x["up"]]
        check([(x["node"], x["service"]) for x in down] == [("hn.d.ba-dinh", "inspection")],
              "names the service that is down: %s" % down)


if __name__ == "__main__":
    run([test_every_command_has_help_and_bad_usage_exits_2, test_no_mesh_is_a_clear_error,
         test_keygen_writes_0600_secrets_and_refuses_to_overwrite,
         test_keygen_makes_several_ids_in_one_call_and_stops_at_the_first_refused,
         test_bad_input_names_the_field_and_records_nothing,
         test_case_actions_follow_responsibility, test_consultation_and_health])
