#!/usr/bin/env python3
"""Cases that move, on a real mesh: "not ours" (refuse with a reason) makes
routing re-route the case by the next matching rule, skipping the agency that
returned it; a second return hands it to the city's coordinators (unassigned),
who give it to an agency by hand with `cpmctl case assign` (only they may;
an agency with no node is 409 naming agency). A transfer reaches an agency
node that is down when it comes back, and the old agency's node is told the
case left (its copy transferred; its officers' actions refused with 409)."""
import glob
import os
import re

from mesh import Mesh, check, run

EXTRA_RULE = """rules:
  # test_transfer: pricing in hoan-kiem goes first to its area office; the
  # next matching rule (R04-pricing, hn.qltt) is where a return goes
  - id: R00-pricing-hk
    category: pricing
    areas: [hoan-kiem]
    agency: "@area"
"""


def counter(m, service, name):
    return sum(h.get("counters", {}).get(name, 0)
               for (node, svc), h in m.health().items() if svc == service)


def add_rule(m):
    path = os.path.join(m.home, "etc", "routing.yaml")
    text = open(path).read()
    v0 = int(re.search(r"(?m)^version: (\d+)", text).group(1))
    new = re.sub(r"(?m)^version: \d+", "version: %d" % (v0 + 1), text)
    new = new.replace("rules:\n", EXTRA_RULE, 1)
    loaded = counter(m, "routing", "rules.loaded")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
    os.rename(tmp, path)
    m.wait_for(lambda: counter(m, "routing", "rules.loaded") > loaded, "rules with R00 taken")


def submit(m, area="hoan-kiem"):
    r = m.ctl("submit", "--channel", "web", "--business", "Shop", "--area", area,
              "--category", "pricing", "--phone", "0912345678",
              "--description", "price tag differs from the till")
    return r.json[0]["ticket"]


def wait_at(m, ticket, agency, state="assigned"):
    m.wait_for(lambda: (lambda s: s["agency"] == agency and s["state"] == state)(
        m.status(ticket)), "%s %s at %s" % (ticket, state, agency))
    return m.status(ticket)


def act(m, ticket, node, action, note="", check_rc=True):
    args = ["case", action, ticket, "--node", node] + (["--note", note] if note else [])
    return m.ctl(*args, as_="officer." + node, check_rc=check_rc).json[0]


def assign(m, ticket, agency, as_="coordinator.hn.doit", check_rc=True):
    return m.ctl("case", "assign", ticket, "--agency", agency, "--note", "by hand",
                 as_=as_, check_rc=check_rc).json[0]


def test_returns_then_coordinator():
    with Mesh() as m:
        add_rule(m)
        t = submit(m)
        wait_at(m, t, "hn.d.hoan-kiem")
        # first return: the next matching rule decides, hoan-kiem skipped
        act(m, t, "hn.d.hoan-kiem", "refuse", "a market matter, not ours")
        s = wait_at(m, t, "hn.qltt")
        check(s["rule"] == "R04-pricing", "re-routed by the next rule: %s" % s)
        states = [h["state"] for h in s["history"]]
        check(states.count("transferred") == 1 and "refused" in states,
              "history has the refusal and one transfer: %s" % states)
        moved = [h for h in s["history"] if h["state"] == "transferred"][0]
        check("not ours" in moved["note"] and moved["actor"] == "routing",
              "the transfer says why: %s" % moved)
        check(act(m, t, "hn.d.hoan-kiem", "show")["state"] == "refused",
              "the returning agency's copy stays refused")
        # second return: the coordinators
        act(m, t, "hn.qltt", "refuse", "not a pricing case either")
        s = wait_at(m, t, "", "unassigned")
        kinds = [e["kind"] for e in m.events("hn.doit", "routing") if e.get("ticket") == t]
        check(kinds.count("case.unassigned") == 1, "one case.unassigned: %s" % kinds)
        check(counter(m, "routing", "cases.unassigned") == 1, "counted")

        # only coordinators (and the city) may assign by hand
        r = assign(m, t, "hn.d.ba-dinh", as_="officer.hn.qltt", check_rc=False)
        check(not r["ok"] and r["code"] == 403, "an officer may not assign: %s" % r)
        r = assign(m, t, "hn.nowhere", check_rc=False)
        check(not r["ok"] and r["code"] == 409 and r["field"] == "agency" and
              "hn.nowhere" in r["message"], "no node: 409 naming agency: %s" % r)
        r = assign(m, t, "hn.d.ba-dinh")
        check(r["ok"] and r["agency"] == "hn.d.ba-dinh" and not r["duplicate"], "assigned: %s" % r)
        s = wait_at(m, t, "hn.d.ba-dinh")
        check(s["rule"] == "coordinator", "decided by a coordinator: %s" % s)
        check(any(h["state"] == "transferred" and h["actor"] == "coordinator.hn.doit"
                  for h in s["history"]), "the coordinator is the actor: %s" % s["history"])
        check(assign(m, t, "hn.d.ba-dinh")["duplicate"], "again: nothing new")
        act(m, t, "hn.d.ba-dinh", "accept")
        m.wait_for(lambda: m.status(t)["state"] == "accepted", "accepted at ba-dinh")

        # a coordinator moves an accepted case on: the old node is told
        assign(m, t, "hn.d.cau-giay")
        wait_at(m, t, "hn.d.cau-giay")
        m.wait_for(lambda: act(m, t, "hn.d.ba-dinh", "show")["state"] == "transferred",
                   "ba-dinh's copy transferred")
        r = m.ctl("case", "resolve", t, "--node", "hn.d.ba-dinh", "--outcome", "mediated",
                  as_="officer.hn.d.ba-dinh", check_rc=False).json[0]
        check(not r["ok"] and r["code"] == 409, "no action on a transferred copy: %s" % r)
        check(act(m, t, "hn.d.cau-giay", "accept")["state"] == "accepted", "new holder acts")


def test_transfer_while_nodes_down():
    with Mesh() as m:
        t = submit(m)  # pricing -> hn.qltt (R04)
        wait_at(m, t, "hn.qltt")
        # both the old and the new agency's nodes are down during the move
        m.kill("hn.qltt", "inspection")
        m.kill("hn.d.cau-giay", "inspection")
        assign(m, t, "hn.d.cau-giay")
        s = m.status(t)
        check(s["agency"] == "hn.d.cau-giay" and s["state"] == "routed",
              "routed, not yet delivered: %s" % s)
        m.start("hn.d.cau-giay", "inspection")
        wait_at(m, t, "hn.d.cau-giay")
        m.start("hn.qltt", "inspection")
        m.wait_for(lambda: act(m, t, "hn.qltt", "show", check_rc=False).get("state")
                   == "transferred", "qltt's copy transferred after its restart")
        # the contact follows once the old node is back; the case did not wait for it
        m.wait_for(lambda: contact_at(m, t, "hn.d.cau-giay") == ("open", "0912345678"),
                   "the contact to follow from qltt after its restart")
        check(contact_at(m, t, "hn.qltt") == ("none", None), "qltt dropped it")
        # exactly once: one assignment at cau-giay, one transfer at qltt
        ev = [e["kind"] for e in m.events("hn.d.cau-giay", "inspection") if e.get("ticket") == t]
        check(ev.count("case.assigned") == 1, "assigned once at cau-giay: %s" % ev)
        ev = [e["kind"] for e in m.events("hn.qltt", "inspection") if e.get("ticket") == t]
        check(ev.count("case.transferred") == 1, "transferred once at qltt: %s" % ev)
        ev = [e["kind"] for e in m.events("hn.doit", "routing") if e.get("ticket") == t]
        check(ev.count("case.transferred") == 1, "one transfer at routing: %s" % ev)


PHONE, EMAIL = "0977001122", "follow.contact@example.vn"


def contact_at(m, ticket, node):
    j = act(m, ticket, node, "show", check_rc=False)
    return j.get("contact_status"), j.get("contact", {}).get("phone")


def data_holding(m, needle):
    found = []
    for path in glob.glob(os.path.join(m.home, "data", "**"), recursive=True) + \
            glob.glob(os.path.join(m.home, "logs", "*")):
        if os.path.isfile(path):
            with open(path, "rb") as f:
                if needle.encode() in f.read():
                    found.append(os.path.relpath(path, m.home))
    return found


def test_contact_follows_the_case():
    with Mesh() as m:
        r = m.ctl("submit", "--channel", "web", "--business", "Shop", "--area", "hoan-kiem",
                  "--category", "pricing", "--phone", PHONE, "--email", EMAIL,
                  "--description", "price tag differs from the till")
        t = r.json[0]["ticket"]
        wait_at(m, t, "hn.qltt")  # pricing -> hn.qltt (R04), sealed for it by intake
        check(contact_at(m, t, "hn.qltt") == ("open", PHONE), "qltt opens the contact")
        # a coordinator moves it, then moves it again: the contact follows twice
        hops = [("hn.qltt", "hn.d.ba-dinh"), ("hn.d.ba-dinh", "hn.d.cau-giay")]
        for old, new in hops:
            assign(m, t, new)
            wait_at(m, t, new)
            m.wait_for(lambda: contact_at(m, t, new) == ("open", PHONE),
                       "the contact to follow %s to %s" % (t, new))
            m.wait_for(lambda: contact_at(m, t, old)[0] == "none",
                       "%s's copy to drop the contact" % old)
            check(contact_at(m, t, old)[1] is None, "%s no longer shows the phone" % old)
        # "not ours": the agency that returns it passes the contact on too
        act(m, t, "hn.d.cau-giay", "refuse", "not ours")
        wait_at(m, t, "hn.qltt")
        m.wait_for(lambda: contact_at(m, t, "hn.qltt") == ("open", PHONE),
                   "the contact to follow the return to qltt")
        m.wait_for(lambda: contact_at(m, t, "hn.d.cau-giay")[0] == "none",
                   "the returning agency's copy to drop the contact")
        check(act(m, t, "hn.d.cau-giay", "show")["state"] == "refused", "still refused")
        check(counter(m, "inspection", "contact.forwarded") == 3, "forwarded 3 times")
        check(counter(m, "routing", "contact.followed") == 3, "followed 3 times")
        check(counter(m, "inspection", "contact.received") == 3, "received 3 times")
        check(counter(m, "routing", "contact.refused") == 0, "nothing refused")
        m.wait_for(m.outbox_empty, "every outbox to drain", seconds=60)
        leaks = data_holding(m, PHONE) + data_holding(m, EMAIL)
        check(not leaks, "the contact is readable in: %s" % leaks)


if __name__ == "__main__":
    run([test_returns_then_coordinator, test_transfer_while_nodes_down, test_contact_follows_the_case])
