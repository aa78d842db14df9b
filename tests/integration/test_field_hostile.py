#!/usr/bin/env python3
"""A hostile inspector against the agency's field sync, over the wire with
real processes: re-signing one record id with ever other content (one
version per device) keeps at most 8 later versions beside the first; the
rest are refused, counted, and never reach the store (docs/protocol.md 16.2,
docs/operations.md "Under attack: the field sync at the agency").

The inspectors are the ones deploy/local/up registers; the inspection is
planned from a real case and assigned by the agency's officer, as
test_field_sync.py does."""
import os

from mesh import Mesh, check, run
from test_field_sync import OFFICER, plan_inspection

AGENCY = "hn.d.hoan-kiem"
INS1 = "inspector1." + AGENCY
MAX_VERSIONS = 8  # INSPECTION_FIELD_MAX_VERSIONS


def ins(m, *args, check_rc=True):
    return m.ctl("inspector", *args, as_=INS1, check_rc=check_rc)


def test_versions_of_one_record_bounded():
    with Mesh(areas=("hoan-kiem",)) as m:
        with open(os.path.join(m.home, "etc", "registry.yaml")) as f:
            check("id: %s\n" % INS1 in f.read(), "deploy/local/up registers %s" % INS1)
        inspection = plan_inspection(m)  # lead INS1, team inspector2
        devices = [os.path.join(m.home, "dev%d" % i) for i in range(MAX_VERSIONS + 3)]
        results = []
        for i, dev in enumerate(devices):
            ins(m, "checkout", "--device", dev)
            ins(m, "finding", "add", "--inspection", inspection, "--item", "scales", "--id",
                "dup-1", "--fine", str(1000 * (i + 1)), "--device", dev)
            results.append(ins(m, "sync", "--device", dev, check_rc=False).json[0])
        check(results[0].get("stored") == 1, "the first version stored: %s" % results[0])
        for r in results[1:MAX_VERSIONS + 1]:
            check(r.get("conflict") == 1, "a later version kept as a conflict: %s" % r)
        for r in results[MAX_VERSIONS + 1:]:
            check(r.get("refused") == 1 and r.get("conflict", 0) == 0,
                  "past the bound a version is refused: %s" % r)
        recs = m.ctl("inspection", "show", inspection, as_=OFFICER).json[0]["records"]
        dup = [x for x in recs if x["id"] == "dup-1"]
        check(len(dup) == MAX_VERSIONS + 1, "1 + %d versions kept, no more: %d" %
              (MAX_VERSIONS, len(dup)))
        c = m.health(AGENCY)[(AGENCY, "inspection")]["counters"]
        check(c.get("field.record_refused", 0) == 2 and
              c.get("field.record_conflict", 0) == MAX_VERSIONS,
              "refusals and conflicts counted: %s" % c)
        # the service is alive and still takes honest records
        ins(m, "finding", "add", "--inspection", inspection, "--item", "label", "--id", "ok-1",
            "--device", devices[0])
        r = ins(m, "sync", "--device", devices[0]).json[0]
        check(r.get("stored") == 1, "an honest record after the attack: %s" % r)


if __name__ == "__main__":
    run([test_versions_of_one_record_bounded])
