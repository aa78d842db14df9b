#!/usr/bin/env python3
"""Inspectors' field sync against real processes (docs/protocol.md 16.2):
findings recorded with no connection and synced later; a repeated sync is a
no-op; the same record id with other content is a conflict, both kept; a
tampered record and evidence whose bytes do not match its hash are refused
and counted; an evidence upload cut by SIGKILL (of cpmctl, or of the agency's
service) resumes without re-sending what arrived; a device clock far off is
accepted with both times kept.

Set up the way a user does it: the inspectors are those deploy/local/up
registers, a complaint is routed to the district's office, whose officer
plans an inspection from the case and assigns it (cpmctl inspection plan,
assign); what the agency stored is read back with cpmctl inspection show."""
import glob
import os
import re
import signal
import subprocess
import time

from mesh import CTL, Mesh, check, run

AGENCY = "hn.d.hoan-kiem"
OFFICER = "officer." + AGENCY
COORD = "coordinator.hn.doit"
INS1 = "inspector1." + AGENCY
INS2 = "inspector2." + AGENCY


def data_dir(m):
    return os.path.join(m.home, "data", AGENCY, "inspection")


def case_state(m, t):
    r = m.ctl("status", t, as_=COORD, check_rc=False)
    return r.json[0].get("state") if r.returncode == 0 and r.json else None


def plan_inspection(m):
    """A complaint routed to the district's office, planned and assigned by
    its officer; the inspection's id."""
    t = m.ctl("submit", "--channel", "hotline", "--business", "Cửa hàng thực phẩm Hoàn Kiếm",
              "--area", "hoan-kiem", "--category", "food_safety", "--description",
              "thực phẩm hết hạn", "--phone", "0912 345 678",
              "--ref", "field-%d" % os.getpid()).json[0]["ticket"]
    m.wait_for(lambda: case_state(m, t) == "assigned", "routing assigns " + t)
    r = m.ctl("inspection", "plan", "--ticket", t, "--category", "food_safety",
              as_=OFFICER).json[0]
    iid = r["inspections"][0]["id"]
    r = m.ctl("inspection", "assign", iid, "--lead", INS1, "--team", INS2, as_=OFFICER).json[0]
    check(r["inspections"][0]["state"] == "assigned", "assigned: %s" % r)
    return iid


class FieldMesh:
    def __enter__(self):
        global INSPECTION
        self.m = Mesh(areas=("hoan-kiem",))
        self.m.__enter__()
        try:
            INSPECTION = plan_inspection(self.m)
        except BaseException:
            self.m.down()
            raise
        return self.m

    def __exit__(self, *exc):
        return self.m.__exit__(*exc)


INSPECTION = None


def ins(m, *args, as_=INS1, check_rc=True):
    return m.ctl("inspector", *args, as_=as_, check_rc=check_rc)


def show(m):
    return m.ctl("inspection", "show", INSPECTION, as_=OFFICER).json[0]


def stored(m):
    """The records the agency keeps (conflicting versions too), as shown."""
    return show(m)["records"]


def inspection(m):
    return show(m)["inspections"][0]


def counters(m):
    return m.health(AGENCY)[(AGENCY, "inspection")]["counters"]


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def test_offline_then_sync_repeat_is_noop():
    with FieldMesh() as m:
        r = ins(m, "checkout").json[0]
        check(r["inspections"] == [INSPECTION], "checked out: %s" % r)
        photo = os.path.join(m.home, "photo.jpg")
        write(photo, os.urandom(300000))
        # no connection: the agency's service is down while the inspector works
        m.kill(AGENCY, "inspection")
        ev = ins(m, "evidence", "add", photo).json[0]
        check(ins(m, "evidence", "add", photo).json[0]["blake2b"] == ev["blake2b"], "dedup")
        ins(m, "finding", "add", "--inspection", INSPECTION, "--item", "price-posted",
            "--violation", "ND98-62", "--severity", "2", "--fine", "5000000",
            "--description", "Không niêm yết giá", "--lat", "21.03", "--lon", "105.85",
            "--evidence", ev["blake2b"])
        ins(m, "finding", "add", "--inspection", INSPECTION, "--item", "hygiene",
            "--evidence", photo)
        ins(m, "outcome", "--inspection", INSPECTION, "--outcome", "fined", "--fine", "5000000")
        ins(m, "submit", "--inspection", INSPECTION)
        s = ins(m, "status").json[0]
        check(s["total"] == 4 and s["not_synced"] == 4, "4 records waiting: %s" % s)
        m.start(AGENCY, "inspection")
        r = ins(m, "sync").json[0]
        check(r["stored"] == 4 and r["refused"] == 0, "stored: %s" % r)
        check(r["evidence_files"] == 1 and r["evidence_bytes_sent"] == 300000,
              "the photo once: %s" % r)
        check(os.path.getsize(os.path.join(data_dir(m), "evidence", ev["blake2b"])) == 300000,
              "the photo is at the agency under its hash")
        again = ins(m, "sync").json[0]
        check(again["records_sent"] == 0 and again["evidence_bytes_sent"] == 0 and
              again["messages"] == 0, "a repeated sync sends nothing: %s" % again)
        check(ins(m, "status").json[0]["not_synced"] == 0, "all synced")
        c = counters(m)
        check(c.get("field.record_stored") == 4, "counted: %s" % c)


def test_conflict_kept_and_tampered_refused():
    with FieldMesh() as m:
        dev2 = os.path.join(m.home, "tablet")
        for dev in (None, dev2):
            ins(m, "checkout", *(["--device", dev] if dev else []))
        ins(m, "finding", "add", "--inspection", INSPECTION, "--item", "scales", "--id", "dup-1",
            "--fine", "1000000")
        ins(m, "finding", "add", "--inspection", INSPECTION, "--item", "scales", "--id", "dup-1",
            "--fine", "2000000", "--device", dev2)
        ins(m, "finding", "add", "--inspection", INSPECTION, "--item", "label",
            "--description", "TAMPER-ME-123")
        # someone edits the kept record on the device: the signed bytes change
        mdb = os.path.join(m.home, "field", INS1, "data.mdb")
        with open(mdb, "r+b") as f:
            data = f.read()
            at = data.find(b"TAMPER-ME-123")
            check(at >= 0, "the record is in the device store")
            f.seek(at)
            f.write(b"TAMPER-ME-999")
        r = ins(m, "sync", check_rc=False).json[0]
        check(r["stored"] == 1 and r["refused"] == 1, "one stored, the tampered refused: %s" % r)
        r2 = ins(m, "sync", "--device", dev2).json[0]
        check(r2["conflict"] == 1, "same id, other content: conflict %s" % r2)
        recs = [x for x in stored(m) if x["id"] == "dup-1"]
        check(sorted(x["fine_vnd"] for x in recs) == [1000000, 2000000] and
              [x["conflict"] for x in recs] == [True, True],
              "both versions kept, both flagged: %s" % recs)
        again = ins(m, "sync", "--device", dev2).json[0]
        check(again["records_sent"] == 0, "the conflict is not sent again: %s" % again)
        c = counters(m)
        check(c.get("field.record_refused", 0) >= 1 and c.get("field.record_conflict") == 1,
              "refusal and conflict counted: %s" % c)


def test_evidence_not_matching_hash_refused():
    with FieldMesh() as m:
        ins(m, "checkout")
        photo = os.path.join(m.home, "p.jpg")
        write(photo, os.urandom(5000))
        ev = ins(m, "evidence", "add", photo).json[0]["blake2b"]
        ins(m, "finding", "add", "--inspection", INSPECTION, "--item", "x", "--evidence", ev)
        # the device's copy rots: its bytes no longer hash to the name
        kept = os.path.join(m.home, "field", INS1, "evidence", ev)
        os.chmod(kept, 0o600)
        write(kept, os.urandom(5000))
        r = ins(m, "sync", check_rc=False)
        check(r.returncode == 1 and r.json[0]["error"]["field"] == "blake2b",
              "refused naming blake2b: %s" % r.stdout)
        check(not os.path.exists(os.path.join(data_dir(m), "evidence", ev)) and
              not os.path.exists(os.path.join(data_dir(m), "evidence", ev + ".part")),
              "nothing kept at the agency")
        check(counters(m).get("field.evidence_bad_hash") == 1, "counted")


def part_size(m, h):
    """Bytes of the unfinished upload of h at the agency (one part file per
    uploader: <hex>.<owner tag>.part)."""
    total = 0
    for p in glob.glob(os.path.join(data_dir(m), "evidence", h + "*.part")):
        try:
            total += os.path.getsize(p)
        except FileNotFoundError:
            pass
    return total


def big_finding(m, size):
    ins(m, "checkout")
    big = os.path.join(m.home, "video.mp4")
    write(big, os.urandom(size))
    h = ins(m, "evidence", "add", big).json[0]["blake2b"]
    ins(m, "finding", "add", "--inspection", INSPECTION, "--item", "storage", "--evidence", h)
    return h


def until_part(m, h, n, seconds=60):
    """Polls tightly (the upload runs at tens of MB/s) until the agency holds
    at least n bytes of h's unfinished upload."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if part_size(m, h) >= n:
            return
        time.sleep(0.005)
    check(False, "timed out waiting for %d bytes of %s at the agency" % (n, h))


def start_sync(m):
    return subprocess.Popen([CTL, "--json", "--as", INS1, "inspector", "sync"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=m.env,
                            start_new_session=True)


def test_sigkill_client_mid_upload_resumes():
    size = 60 << 20  # near the 64 MiB limit: the cut lands mid-upload
    with FieldMesh() as m:
        h = big_finding(m, size)
        p = start_sync(m)
        until_part(m, h, 2 << 20)
        p.send_signal(signal.SIGKILL)
        p.wait()
        check(part_size(m, h) < size, "cut before the end")
        r = ins(m, "sync").json[0]
        check(r["evidence_files"] == 1, "completed: %s" % r)
        check(r["evidence_bytes_resumed"] >= 2 << 20, "resumed from what arrived: %s" % r)
        # A chunk of the killed process may still reach the node after the
        # new one asked (the node fair-queues connections): the node then
        # writes nothing for the new one's chunk and says so (unwritten).
        check(r["evidence_bytes_sent"] - r["evidence_bytes_unwritten"] ==
              size - r["evidence_bytes_resumed"],
              "nothing that had arrived was sent again: %s" % r)
        check(os.path.getsize(os.path.join(data_dir(m), "evidence", h)) == size, "whole file")


def test_sigkill_service_mid_upload_resumes():
    size = 60 << 20  # near the 64 MiB limit: the cut lands mid-upload
    with FieldMesh() as m:
        h = big_finding(m, size)
        p = start_sync(m)
        until_part(m, h, 2 << 20)
        m.kill(AGENCY, "inspection")
        out, _ = p.communicate(timeout=120)
        check(p.returncode == 1, "the cut sync fails: %s" % out)
        arrived = part_size(m, h)
        m.start(AGENCY, "inspection")
        r = ins(m, "sync").json[0]
        check(r["evidence_bytes_resumed"] == arrived and
              r["evidence_bytes_sent"] == size - arrived, "resumed at %d: %s" % (arrived, r))
        check(os.path.getsize(os.path.join(data_dir(m), "evidence", h)) == size, "whole file")


def test_device_clock_far_off():
    with FieldMesh() as m:
        ins(m, "checkout")
        made = 1262304000000  # 2010-01-01: a device whose clock was never set
        ins(m, "finding", "add", "--inspection", INSPECTION, "--item", "clock", "--id", "old-1",
            "--time", str(made))
        before = int(time.time() * 1000)
        r = ins(m, "sync").json[0]
        check(r["stored"] == 1, "accepted: %s" % r)
        rec = [x for x in stored(m) if x["id"] == "old-1"][0]
        check(rec["made_ms"] == made and rec["received_ms"] >= before - 1000,
              "device time kept, receipt time beside it: %s" % rec)


def test_outcome_conflict_and_out_of_order():
    with FieldMesh() as m:
        for who in (INS1, INS2):
            ins(m, "checkout", as_=who)
        # the lead's submit is made first and travels before the findings
        # (records go up in id order: "a-submit" < "z-finding")
        ins(m, "submit", "--inspection", INSPECTION, "--id", "a-submit")
        ins(m, "finding", "add", "--inspection", INSPECTION, "--item", "x", "--id", "z-finding")
        ins(m, "outcome", "--inspection", INSPECTION, "--outcome", "fined", "--fine", "3000000",
            "--id", "out-1")
        ins(m, "outcome", "--inspection", INSPECTION, "--outcome", "no-violation",
            "--id", "out-2", as_=INS2)
        check(ins(m, "sync", as_=INS2).json[0]["stored"] == 1, "team member's outcome stored")
        check(ins(m, "sync").json[0]["stored"] == 3, "lead's records stored")
        i = inspection(m)
        check(i["state"] == "findings_submitted" and i["findings"] == 1 and i["outcome_conflict"],
              "submitted, the finding counted, outcomes flagged: %s" % i)
        check(sorted(x["id"] for x in stored(m)) == ["a-submit", "out-1", "out-2", "z-finding"],
              "both outcomes kept")


def test_revoked_inspector_cannot_sync():
    with FieldMesh() as m:
        ins(m, "checkout", as_=INS2)
        ins(m, "finding", "add", "--inspection", INSPECTION, "--item", "a", "--id", "before",
            as_=INS2)
        check(ins(m, "sync", as_=INS2).json[0]["stored"] == 1, "synced before the revocation")
        check([x.get("key_revoked") for x in stored(m) if x["id"] == "before"] == [False],
              "a current key is not marked revoked")
        src = os.path.join(m.home, "etc", "registry.yaml")
        with open(src) as f:
            text = f.read()
        kid = [x["key_id"] for x in m.ctl("registry", "show").json[0]["members"]
               if x["id"] == INS2][0]
        version = int(re.search(r"(?m)^version: (\d+)", text).group(1)) + 1
        text = re.sub(r"(?m)^version: \d+", "version: %d" % version, text)
        out = os.path.join(m.home, "etc", "registry-revoked.yaml")
        with open(out, "w") as f:
            f.write(text + "revoked_keys: [%s]\n" % kid)
        m.ctl("registry", "create", "--source", out, "--root-key",
              os.path.join(m.home, "keys", "root.secret"), "--out",
              os.path.join(m.home, "registry.signed"))
        m.wait_for(lambda: m.health(AGENCY)[(AGENCY, "inspection")].get("registry_version") ==
                   version, "the agency on the new registry", 30)
        ins(m, "finding", "add", "--inspection", INSPECTION, "--item", "a", "--id", "after",
            as_=INS2)
        r = ins(m, "sync", as_=INS2, check_rc=False)
        check(r.returncode == 1 and r.json and r.json[-1].get("code", r.json[-1].get("error", {})
                                                              ) and "after" not in
              [x["id"] for x in stored(m)], "a revoked inspector cannot sync: %s" % r.stdout)
        before = [x for x in stored(m) if x["id"] == "before"]
        check(len(before) == 1, "earlier findings stay: %s" % before)
        check(before[0].get("key_revoked") is True,
              "shown as signed by a now-revoked key: %s" % before[0])


if __name__ == "__main__":
    run([test_offline_then_sync_repeat_is_noop, test_conflict_kept_and_tampered_refused,
         test_evidence_not_matching_hash_refused, test_sigkill_client_mid_upload_resumes,
         test_sigkill_service_mid_upload_resumes, test_device_clock_far_off,
         test_outcome_conflict_and_out_of_order, test_revoked_inspector_cannot_sync])
