#!/usr/bin/env python3
"""A full store (LMDB map full) is a clear, retryable error to the sender and
loses nothing that was acknowledged."""
import collections
import os
import sys

from mesh import Mesh, check, complaints, run


def test_map_full_is_retryable_and_loses_nothing():
    with Mesh() as m:
        m.kill("hn.doit", "routing")  # nothing leaves intake's outbox meanwhile
        m.kill("hn.doit", "intake")
        cfg = os.path.join(m.home, "etc", "hn.doit.intake.yaml")
        with open(cfg, "a") as f:
            f.write("map_size_mb: 1\n")
        m.start("hn.doit", "intake")
        # Records of about 1.6 KiB sit two to a leaf page: deleting them after
        # an ack copies every leaf they sit on, so an ack needs many free pages.
        cs = complaints(300, seed=20)
        for c in cs:
            c["description"] = "x" * 1500
        r = m.submit_file(cs, node="hn.doit", check_rc=False)
        ok = [j for j in r.json if j.get("ok")]
        full = [j for j in r.json if not j.get("ok")]
        check(ok and full, "some recorded, then the store filled (%d ok, %d refused)"
              % (len(ok), len(full)))
        check(all(j["code"] == 507 and j["error"] == "store_full" for j in full),
              "refusals say store_full: %s" % full[:1])
        check(r.returncode == 1, "cpmctl exits 1 when some were not recorded")
        # Squeeze in ever smaller complaints: without headroom these pack the
        # map to its last page, and then not even an ack can be recorded.
        for i, size in enumerate((600, 200, 40, 1)):
            cs = complaints(40, seed=200 + i)
            for c in cs:
                c["description"] = "z" * size
            r = m.submit_file(cs, node="hn.doit", check_rc=False)
            ok += [j for j in r.json if j.get("ok")]
            full = [j for j in r.json if not j.get("ok")]
            check(all(j["code"] == 507 and j["error"] == "store_full" for j in full),
                  "refusals say store_full: %s" % full[:1])
        check(full, "even the smallest complaint is refused once the store is full")
        h = m.health("hn.doit")[("hn.doit", "intake")]["counters"]
        check(h.get("store.failures", 0) >= 1, "store failures counted")
        # Routing comes back: every acknowledged complaint is delivered once.
        m.start("hn.doit", "routing")
        m.wait_for(m.outbox_empty, "intake's outbox to drain", seconds=60)
        routed = collections.Counter(e["ticket"] for e in m.events("hn.doit", "routing")
                                     if e["kind"] == "case.routed")
        tickets = [j["ticket"] for j in ok]
        check(all(routed[t] == 1 for t in tickets) and len(routed) == len(tickets),
              "%d acknowledged, %d routed" % (len(tickets), len(routed)))
        # With the outbox drained there is room again.
        r = m.ctl("submit", "--channel", "web", "--business", "After", "--area", "ba-dinh",
                  "--description", "short")
        check(r.json[0]["ok"], "accepting again once space is free")


def test_full_disk_is_retryable_and_loses_nothing():
    """The disk under intake's store fills up (a 4 MiB tmpfs, 2 MiB of it the
    journal's two segments of 1 MiB, made at start): writes fail with ENOSPC,
    which the sender sees as 508 store_io, retryable; everything acknowledged
    before is delivered (intake records routing's acknowledgements on the full
    disk: the journal and its checkpoint images are written in place)."""
    import subprocess
    with Mesh() as m:
        disk = os.path.join(m.home, "small-disk")
        os.makedirs(disk)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", disk]).returncode:
            print("SKIP: cannot mount a tmpfs here", file=sys.stderr)
            return
        try:
            m.kill("hn.doit", "routing")
            m.kill("hn.doit", "intake")
            cfg = os.path.join(m.home, "etc", "hn.doit.intake.yaml")
            text = open(cfg).read().replace("data_dir: ../data/hn.doit/intake",
                                            "data_dir: " + disk + "/intake")
            open(cfg, "w").write(text + "map_size_mb: 64\njournal_segment_mb: 1\n")
            m.start("hn.doit", "intake")
            cs = complaints(300, seed=21)
            for c in cs:
                c["description"] = "y" * 3900
            r = m.submit_file(cs, node="hn.doit", check_rc=False)
            ok = [j for j in r.json if j.get("ok")]
            bad = [j for j in r.json if not j.get("ok")]
            check(ok and bad, "%d recorded before the disk filled, %d refused" % (len(ok), len(bad)))
            check(all(j["code"] in (507, 508) for j in bad), "refused as store errors: %s" % bad[:1])
            check(any(j["code"] == 508 and j["error"] == "store_io" for j in bad),
                  "the full disk is reported as store_io: %s" % bad[:1])
            m.start("hn.doit", "routing")
            m.wait_for(m.outbox_empty, "intake's outbox to drain", seconds=60)
            routed = collections.Counter(e["ticket"] for e in m.events("hn.doit", "routing")
                                         if e["kind"] == "case.routed")
            check(all(routed[j["ticket"]] == 1 for j in ok) and len(routed) == len(ok),
                  "%d acknowledged, %d routed" % (len(ok), len(routed)))
        finally:
            m.down()
            subprocess.run(["umount", "-l", disk])


def test_show_is_served_while_inspection_is_full():
    """Above the high-water mark an agency's inspection refuses new work
    (accept, refuse, resolve: 507 store_full) but its officers can still read
    a case: "show" writes nothing and is not held back."""
    with Mesh() as m:
        cs = complaints(40, seed=22, areas=("cau-giay",))
        for c in cs:
            c["category"] = "food_safety"
            c["description"] = "w" * 3900
        tickets = [j["ticket"] for j in m.submit_file(cs, node="hn.doit").json]
        t = tickets[-1]
        m.wait_for(lambda: all(m.status(x)["state"] == "assigned" for x in tickets),
                   "assignments", seconds=60)
        m.kill("hn.d.cau-giay", "inspection")
        with open(os.path.join(m.home, "etc", "hn.d.cau-giay.inspection.yaml"), "a") as f:
            f.write("map_size_mb: 1\nmap_high_water_pct: 10\n")
        m.start("hn.d.cau-giay", "inspection")
        officer = "officer.hn.d.cau-giay"
        r = m.ctl("case", "accept", t, as_=officer, check_rc=False)
        check(r.returncode == 1 and r.json[0]["code"] == 507,
              "new work is refused above the mark: %s" % r.stdout)
        r = m.ctl("case", "show", t, as_=officer, check_rc=False)
        check(r.returncode == 0 and r.json[0]["state"] == "assigned",
              "show is served above the mark: %s" % r.stdout)
        r = m.ctl("case", "show", t, "--node", "hn.d.cau-giay", as_="officer.hn.d.hoan-kiem",
                  check_rc=False)
        check(r.returncode == 1 and r.json[0]["code"] == 403,
              "show stays for this agency's officers only: %s" % r.stdout)


if __name__ == "__main__":
    run([test_map_full_is_retryable_and_loses_nothing, test_full_disk_is_retryable_and_loses_nothing,
         test_show_is_served_while_inspection_is_full])
