#!/usr/bin/env python3
"""cpmctl watch keeps its cursor in an LMDB store (a folder); a cursor file
written by an earlier cpmctl (JSON) is carried over, so an upgrade shows no
event twice."""
import collections
import json
import os

from mesh import Mesh, check, complaints, run


def test_old_json_cursor_is_carried_over():
    with Mesh() as m:
        m.submit_file(complaints(3, seed=21))
        m.wait_for(m.outbox_empty, "delivery")
        first = m.ctl("watch", "--for", "3", "--cursor", os.path.join(m.home, "new.cursor")).json
        check(os.path.isdir(os.path.join(m.home, "new.cursor")), "the cursor is a store folder")
        last = {}
        for e in first:
            key = "%s/%s" % (e["node"], e["service"])
            last[key] = max(last.get(key, 0), e["seq"])
        old = os.path.join(m.home, "old.cursor")
        with open(old, "w") as f:  # the format cpmctl wrote before
            json.dump({k: {"seq": v, "hash": ""} for k, v in last.items()}, f)
        m.submit_file(complaints(2, seed=22))
        m.wait_for(m.outbox_empty, "delivery")
        second = m.ctl("watch", "--for", "3", "--cursor", old).json
        kinds = collections.Counter(e["kind"] for e in second)
        check(kinds["complaint.received"] == 2, "only the new ones: %s" % dict(kinds))
        check(os.path.isdir(old) and os.path.isfile(old + ".json-old"),
              "the old file is kept aside, the store took its place")
        for e in second:
            key = "%s/%s" % (e["node"], e["service"])
            check(e["seq"] > last.get(key, 0), "%s #%d shown twice" % (key, e["seq"]))


if __name__ == "__main__":
    run([test_old_json_cursor_is_carried_over])
