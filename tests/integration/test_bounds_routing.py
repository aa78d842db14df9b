#!/usr/bin/env python3
"""Bounded cost of duplicates and clusters against a real mesh (issue 7
leftovers): the coordinators' clusters come from the aggregate index, in
pages with a cursor, the same answer as before; case.linked names the agency
holding the first case; once the shared clock passes the link window (plus its
7-day grace) routing deletes the duplicate links, and once it passes the
clusters window (365 days) the consumers and clusters, counted in health;
a business complained about again afterwards starts a new cluster. An
officer's offline act is remembered within inspection's acts window and its
replay is a duplicate; after the window its id is forgotten (counted) and the
replay is refused, never applied twice.
"""
import calendar

from mesh import Mesh, check, run

COORD = "coordinator.hn.doit"
HK = "officer.hn.d.hoan-kiem"
DAY_MS = 86400 * 1000


def vn(y, mo, d, h=0, mi=0):
    """A moment in Vietnam time (UTC+7) as Unix ms."""
    return (calendar.timegm((y, mo, d, h, mi, 0)) - 7 * 3600) * 1000


START = vn(2027, 3, 1, 10)


def submit(m, business, phone, ref):
    return m.ctl("submit", "--channel", "hotline", "--business", business, "--area",
                 "hoan-kiem", "--category", "food_safety", "--description",
                 "sick after lunch", "--phone", phone, "--ref", ref).json[0]["ticket"]


def routed(m, t):
    r = m.ctl("status", t, as_=COORD, check_rc=False)
    return r.returncode == 0 and r.json and r.json[0].get("state") in ("routed", "assigned")


def clusters(m, *args):
    return m.ctl("clusters", *args, as_=COORD).json[0]


def counters(m):
    h = m.health("hn.doit").get(("hn.doit", "routing"), {})
    return h.get("counters", {})


def test_clusters_paged_and_retention_on_the_clock():
    with Mesh(areas=("hoan-kiem",), clock_at=START) as m:
        a = submit(m, "Phở Ngon", "0912 345 678", "b-a")
        m.wait_for(lambda: routed(m, a), "routing of a")
        b = submit(m, "PHO NGON", "0912 345 678", "b-b")   # same consumer: linked to a
        c = submit(m, "Pho Ngon", "0987 654 321", "b-c")   # another consumer
        d = submit(m, "Bun Cha 1", "0987 654 321", "b-d")
        e = submit(m, "Bun Cha 1", "0911 111 111", "b-e")
        f = submit(m, "Bun Cha 1", "0922 222 222", "b-f")
        for t in (b, c, d, e, f):
            m.wait_for(lambda t=t: routed(m, t), "routing of " + t)
        check(m.status(b)["linked_to"] == a, "not linked: %s" % m.status(b))
        m.wait_for(lambda: m.status(a)["state"] == "assigned", "assignment of a")
        acted = str(m.now_ms())
        act = ["case", "accept", a, "--client-id", "tablet-9.0001", "--acted-ms", acted]
        r = m.ctl(*act, as_=HK).json[0]
        check(not r.get("duplicate"), "first act: %s" % r)
        r = m.ctl(*act, as_=HK).json[0]
        check(r.get("duplicate") is True, "replay inside the window: %s" % r)

        # case.linked names the agency (and area) holding the first case
        agency = m.status(a)["agency"]
        evs = [x for x in m.events("hn.doit", "routing") if x["kind"] == "case.linked"]
        check(len(evs) == 1 and evs[0]["ticket"] == b and evs[0]["agency"] == agency and
              evs[0]["area"] == "hoan-kiem", "case.linked: %s (first case at %s)" % (evs, agency))

        # the list, as before; then in pages of one joined by the cursor
        r = clusters(m)
        got = [(k["business"], k["consumers"], k["cases"]) for k in r["clusters"]]
        check(got == [("bun cha 1", 3, 3), ("pho ngon", 2, 3)] and not r["truncated"],
              "clusters: %s" % r)
        p1 = clusters(m, "--max", "1")
        check(p1["truncated"] and len(p1["next_after"]) == 48 and
              [k["business"] for k in p1["clusters"]] == ["bun cha 1"], "page 1: %s" % p1)
        p2 = clusters(m, "--max", "1", "--after", p1["next_after"])
        check(not p2["truncated"] and p2["next_after"] == "" and
              [k["business"] for k in p2["clusters"]] == ["pho ngon"], "page 2: %s" % p2)
        bad = m.ctl("clusters", "--after", "not-a-cursor", as_=COORD, check_rc=False)
        check(bad.returncode == 1 and bad.json[0]["code"] == 400 and
              bad.json[0]["field"] == "after", "bad cursor: %s" % bad.json)

        # past the link window and its grace: the five link entries go
        m.advance(days=38)
        m.wait_for(lambda: counters(m).get("retention.dupes_deleted", 0) >= 5,
                   "duplicate links deleted: %s" % counters(m))
        check(counters(m).get("retention.clusters_deleted", 0) == 0, "clusters kept")
        r = clusters(m)
        check([(k["business"], k["consumers"]) for k in r["clusters"]] ==
              [("bun cha 1", 3), ("pho ngon", 2)], "clusters after the link window: %s" % r)
        # the same consumer again: a new first case, not linked
        g = submit(m, "Pho Ngon", "0912 345 678", "b-g")
        m.wait_for(lambda: routed(m, g), "routing of g")
        check(m.status(g)["linked_to"] == "", "linked past the window: %s" % m.status(g))

        # a year on: every consumer and both clusters forgotten
        m.advance(days=366)
        m.wait_for(lambda: counters(m).get("retention.clusters_deleted", 0) >= 2,
                   "clusters deleted: %s" % counters(m))
        k = counters(m)
        check(k.get("retention.cluster_members_deleted", 0) >= 5, "consumers forgotten: %s" % k)
        check(clusters(m, "--min", "1")["clusters"] == [], "clusters left: %s" % clusters(m))

        # the act's id is forgotten (a year is past the 90-day window); its
        # replay is refused, not applied again
        def insp():
            h = m.health("hn.d.hoan-kiem").get(("hn.d.hoan-kiem", "inspection"), {})
            return h.get("counters", {})
        m.wait_for(lambda: insp().get("retention.acts_deleted", 0) >= 1,
                   "act ids forgotten: %s" % insp())
        res = m.ctl(*act, as_=HK, check_rc=False)
        check(res.returncode == 1 and res.json[0]["code"] == 400 and
              res.json[0]["field"] == "acted_ms", "forgotten act replayed: %s" % res.json)
        check(insp().get("case.act_too_old", 0) == 1, "refusal counted: %s" % insp())
        accepted = [x for x in m.events("hn.d.hoan-kiem", "inspection")
                    if x["kind"] == "case.accepted" and x["ticket"] == a]
        check(len(accepted) == 1, "accepted twice: %s" % accepted)

        # complained about again: a new cluster, counted from one
        h = submit(m, "Pho Ngon", "0987 654 321", "b-h")
        m.wait_for(lambda: routed(m, h), "routing of h")
        r = clusters(m, "--min", "1")
        check([(x["business"], x["consumers"], x["cases"], x["first_ticket"])
               for x in r["clusters"]] == [("pho ngon", 1, 1, h)], "new life: %s" % r)


if __name__ == "__main__":
    run([test_clusters_paged_and_retention_on_the_clock])
