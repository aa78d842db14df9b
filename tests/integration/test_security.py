#!/usr/bin/env python3
"""Hostile frames against a real local mesh: every refusal has the right
reason and counter, nothing forged reaches a store, and the services keep
serving. Frames come from tests/tools/cpm_attack/ (built as $CPM_BUILD/cpm_attack).

One mesh serves the whole file. Each check takes a snapshot (every service's
event log head and counters, once deliveries have settled) before and after
its attack and compares them, so checks do not depend on each other's order.
"""
import json
import os
import subprocess
import sys
import time

from mesh import BUILD, CTL, Mesh, check, run

ATTACK = os.path.join(BUILD, "cpm_attack")
OP = "operator.hn.doit"
INTAKE = "hn.doit/intake"
ROUTING = "hn.doit/routing"
M = None  # the mesh of this file, set in main


def attack(name, target=INTAKE, as_=OP, extra=(), timeout_ms=15000, env=None):
    cmd = [ATTACK, "--home", M.home, "--as", as_, "--target", target, "--attack", name,
           "--timeout", str(timeout_ms)] + list(extra)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240,
                       env=dict(os.environ, **(env or {})))
    check(r.returncode == 0, "cpm_attack %s failed (%d): %s" % (name, r.returncode, r.stderr))
    return json.loads(r.stdout)


def key(target):
    return tuple(target.split("/"))


class Snapshot:
    """Event heads and counters of every service, after deliveries settled."""

    def __init__(self):
        M.wait_for(M.outbox_empty, "deliveries to settle", seconds=90)
        h = M.health()
        services = set(M.pids())
        down = sorted(services - {k for k, v in h.items() if v.get("up")})
        check(not down, "services down: %s" % down)
        self.heads = {k: v["event_head"] for k, v in h.items()}
        self.counters = {k: v["counters"] for k, v in h.items()}

    def grew(self, before, target, counter):
        k = key(target)
        return self.counters[k].get(counter, 0) - before.counters[k].get(counter, 0)

    def rejected(self, before, target):
        def total(counters):
            return sum(v for n, v in counters.items() if n.startswith("rejected."))
        k = key(target)
        return total(self.counters[k]) - total(before.counters[k])

    def changed(self, before):
        return {k: self.heads[k] - before.heads.get(k, 0) for k in self.heads
                if self.heads[k] != before.heads.get(k, 0)}


def unchanged(before, after, what):
    check(not after.changed(before), "%s changed event logs: %s" % (what, after.changed(before)))


def refused(name, target=INTAKE, as_=OP, extra=(), code=403, field="envelope", reason=None,
            counter=None):
    """Run an attack that must get an ErrorReply and change nothing."""
    before = Snapshot()
    out = attack(name, target, as_, extra)
    check(out["replied"] and out["verified"], "%s: no verified reply: %s" % (name, out))
    check(out["reply_type"] == "error", "%s: not refused: %s" % (name, out))
    check(out["error_code"] == code and out["field"] == field,
          "%s: want %d in %s, got %d in %s (%s)" % (name, code, field, out["error_code"],
                                                   out["field"], out["message"]))
    if reason:
        check(out["message"] == "message refused: " + reason,
              "%s: want reason %s, got '%s'" % (name, reason, out["message"]))
    after = Snapshot()
    counter = counter or "rejected." + reason
    n = after.grew(before, target, counter)
    check(n == 1, "%s: %s of %s grew by %d, not 1" % (name, counter, target, n))
    unchanged(before, after, name)
    return out


def submit(business="Real Shop", category="food_safety", area="hoan-kiem", node="hn.doit"):
    """A complaint through cpmctl; returns its ticket once it has been delivered."""
    r = M.ctl("submit", "--channel", "hotline", "--business", business, "--area", area,
              "--category", category, "--description", "A real complaint", "--node", node)
    check(r.json and r.json[0].get("ok"), "submit failed: %s" % r.stdout)
    Snapshot()
    return r.json[0]["ticket"]


def expect_valid_complaint(out, before, what):
    """out carries a new ticket of hn.doit's intake: exactly one intake event,
    and routing registers it as from hn.doit."""
    check(out.get("reply_type") == "submit_reply" and out.get("ticket", "").startswith("DOIT-"),
          "%s: no ticket: %s" % (what, out))
    after = Snapshot()
    ch = after.changed(before)
    check(ch.get(key(INTAKE)) == 1,
          "%s: intake log grew by %s, not 1" % (what, ch.get(key(INTAKE))))
    st = M.status(out["ticket"])
    check(st["intake_node"] == "hn.doit", "%s: routing has %s" % (what, st))
    allowed = {key(INTAKE), key(ROUTING), ("hn.d.hoan-kiem", "inspection")}
    check(set(ch) <= allowed, "%s: unexpected logs changed: %s" % (what, ch))
    return after


# ---- frames that never get past the verifier ---------------------------------

def test_garbage_is_malformed():
    refused("garbage", code=422, reason="malformed")


def test_empty_frame_is_refused():
    # An empty frame decodes as an empty SignedEnvelope holding an empty
    # Envelope; today that is counted as bad_version, arguably malformed.
    before = Snapshot()
    out = attack("empty")
    check(out.get("reply_type") == "error" and out["error_code"] in (403, 422),
          "not refused: %s" % out)
    reason = out["message"].replace("message refused: ", "")
    check(reason in ("malformed", "bad_version"), "odd reason: %s" % out["message"])
    after = Snapshot()
    check(after.grew(before, INTAKE, "rejected." + reason) == 1, "no rejected.%s" % reason)
    unchanged(before, after, "empty")


def test_truncated_frame_is_malformed():
    refused("truncated", code=422, reason="malformed")


def test_oversize_frame_is_refused():
    refused("oversize", code=413, reason="oversize")


def test_frame_over_socket_limit_drops_only_that_link():
    before = Snapshot()
    out = attack("oversize_huge", timeout_ms=1000)
    check(not out["replied"], "a frame over the socket limit got a reply: %s" % out)
    unchanged(before, Snapshot(), "oversize_huge")


def test_tampered_envelope_fails_signature():
    refused("tampered", reason="bad_signature")


def test_forged_sender_fails_signature():
    refused("forged", reason="bad_signature")


def test_wrong_key_id_is_unknown_key():
    refused("wrong_key", reason="unknown_key")


def test_unknown_sender():
    refused("unknown_sender", reason="unknown_sender")


def test_clock_skew():
    refused("skew", reason="clock_skew")


def test_unknown_type():
    refused("unknown_type", reason="unknown_type")


def test_operator_may_not_send_case_batch_to_routing():
    refused("forbidden", target=ROUTING, reason="forbidden")


def test_area_may_not_send_assign_batch_to_inspection():
    refused("forbidden", target="hn.qltt/inspection", as_="hn.d.hoan-kiem", reason="forbidden")


def test_wrong_recipient():
    refused("wrong_recipient", reason="wrong_recipient")


def test_transport_mismatch():
    refused("transport_mismatch", extra=["--curve-as", "coordinator.hn.doit"],
            reason="transport_mismatch")


def test_unregistered_curve_key_never_gets_a_reply():
    before = Snapshot()
    out = attack("unregistered_curve", timeout_ms=1000)
    check(not out["replied"], "a link with an unknown CURVE key got a reply: %s" % out)
    after = Snapshot()
    check(after.grew(before, INTAKE, "zap.refused") >= 1, "zap.refused did not grow")
    check(after.rejected(before, INTAKE) == 0 and after.grew(before, INTAKE, "applied") == 0,
          "a frame got through the ZAP handler")
    unchanged(before, after, "unregistered_curve")


def test_replay_is_refused_after_one_application():
    before = Snapshot()
    out = attack("replay")
    first = out.get("first", {})
    check(out["reply_type"] == "error" and out["message"] == "message refused: replay",
          "second copy not refused as replay: %s" % out)
    after = expect_valid_complaint(first, before, "replay (first copy)")
    check(after.grew(before, INTAKE, "rejected.replay") == 1, "rejected.replay did not grow by 1")


def test_multipart_message_is_counted():
    # A message of two frames is dropped by cpm_sock_recv (overflow, -1) before
    # take_one counts it: expected, a "rejected.framing" count.
    before = Snapshot()
    out = attack("multipart", timeout_ms=800)
    check(not out["replied"] or out.get("reply_type") == "error", "multipart accepted: %s" % out)
    after = Snapshot()
    unchanged(before, after, "multipart")
    check(after.grew(before, INTAKE, "rejected.framing") == 1,
          "a two-frame message left no trace: rejected.framing grew by %d"
          % after.grew(before, INTAKE, "rejected.framing"))


# ---- signed frames refused by the service -----------------------------------

def test_bad_payload_is_refused():
    refused("bad_payload", code=422, field="payload", counter="invalid.bad_message")


def test_invalid_field_names_the_field():
    out = refused("invalid_field", code=400, field="business_name", counter="invalid.invalid")
    check("business_name" in out["message"], "message does not name the field: %s" % out)


def test_valid_complaint_is_recorded_once():
    before = Snapshot()
    expect_valid_complaint(attack("valid"), before, "valid")


def test_each_request_is_answered_in_its_envelope_version():
    """A client not yet upgraded sends envelope version 2 and must read the
    answer: a request is answered in its own version (docs/protocol.md
    section 5), and both versions are taken."""
    for version in (2, 3):
        before = Snapshot()
        out = attack("valid", env={"CPM_ENVELOPE_VERSION": str(version)})
        check(out.get("reply_version") == version,
              "version %d request answered in %s: %s" % (version, out.get("reply_version"), out))
        expect_valid_complaint(out, before, "valid, version %d" % version)
    env = dict(M.env, CPM_ENVELOPE_VERSION="4")
    r = subprocess.run([CTL, "--home", M.home, "health"], capture_output=True, text=True,
                       env=env, timeout=60)
    check(r.returncode == 2 and "CPM_ENVELOPE_VERSION must be 2 or 3" in r.stderr
          and "not '4'" in r.stderr,
          "cpmctl refuses a version it does not send: %d %s" % (r.returncode, r.stderr))


def test_stream_forgery_is_refused():
    before = Snapshot()
    refused("stream_forgery", target=ROUTING, as_="hn.d.hoan-kiem", field="stream",
            counter="invalid.forbidden")
    check(Snapshot().grew(before, ROUTING, "delivery.records_applied") == 0, "records applied")


def test_other_agency_officer_cannot_act_on_a_case():
    ticket = submit("Price Shop", category="pricing")  # assigned to hn.qltt
    state = M.status(ticket)["state"]
    refused("case_action", target="hn.qltt/inspection", as_="officer.hn.d.hoan-kiem",
            extra=["--ticket", ticket], field="sender", counter="invalid.forbidden")
    check(M.status(ticket)["state"] == state, "the case changed state")


def test_update_for_another_agencys_case_is_not_applied():
    ticket = submit("Price Shop 2", category="pricing")  # assigned to hn.qltt
    before = Snapshot()
    out = attack("foreign_update", target=ROUTING, as_="hn.d.hoan-kiem",
                 extra=["--ticket", ticket])
    check(out["replied"] and out["verified"], "no verified reply: %s" % out)
    after = Snapshot()
    unchanged(before, after, "foreign_update")
    st = M.status(ticket)
    check(st["state"] == "assigned", "the case became %s" % st["state"])
    check(after.grew(before, ROUTING, "delivery.dead_letters") == 1
          or out.get("reply_type") == "error", "the update was neither refused nor dead-lettered")


def test_area_cannot_claim_another_intakes_ticket():
    # Tickets are sequential per intake ("DOIT-00000042"). An area node
    # sending its own case batch with the next DOIT ticket must not be able to
    # claim it: routing keeps the first copy of a ticket and drops later ones.
    last = submit("Before Squat")
    squatted = "DOIT-%08d" % (int(last.split("-")[1]) + 1)
    before = Snapshot()
    out = attack("ticket_squat", target=ROUTING, as_="hn.d.hoan-kiem",
                 extra=["--ticket", squatted])
    Snapshot()
    early = M.ctl("status", squatted, check_rc=False, as_="coordinator.hn.doit")
    # Always use up the squatted number, so that no later check gets it.
    real = submit("After Squat", category="food_safety", area="cau-giay")
    check(out["replied"] and out["verified"], "no verified reply: %s" % out)
    check(real == squatted, "expected the next ticket %s, got %s" % (squatted, real))
    check(early.returncode != 0,
          "routing registered %s, sent by hn.d.hoan-kiem, before hn.doit's intake issued it: "
          "%s" % (squatted, early.stdout.strip()[:200]))
    st = M.status(real)
    check(st["intake_node"] == "hn.doit" and st["area"] == "cau-giay",
          "routing registered %s from %s (area %s, category %s): an area node claimed "
          "another intake's ticket and the real complaint was dropped"
          % (real, st["intake_node"], st["area"], st["category"]))
    ch = Snapshot().changed(before)
    check(ch.get(key(INTAKE)) == 1, "intake log grew by %s" % ch.get(key(INTAKE)))


# ---- fuzz ---------------------------------------------------------------------

def fuzz(target, seed, base_is_write):
    before = Snapshot()
    out = attack("fuzz", target=target, extra=["--count", "500", "--seed", str(seed)],
                 timeout_ms=120000)
    first = out["first"]
    check(first["replied"] and first["verified"] and first["reply_type"] != "error",
          "the valid base frame was refused: %s" % first)
    check(out["replies"] == 500 and out["verified"] == 500,
          "%d replies, %d verified, of 500" % (out["replies"], out["verified"]))
    check(out["accepted"] == 0, "%d fuzzed frames were accepted" % out["accepted"])
    after = Snapshot()
    n = after.rejected(before, target)
    check(n == 500, "rejected.* of %s grew by %d, not 500" % (target, n))
    if base_is_write:
        expect_valid_complaint(first, before, "fuzz base")
    else:
        unchanged(before, after, "fuzz")


def test_fuzz_intake():
    fuzz(INTAKE, 11, True)


def test_fuzz_routing():
    fuzz(ROUTING, 12, False)


def test_fuzz_signed_payloads_at_intake():
    # Signed frames with mangled Complaint payloads pass the verifier and reach
    # intake's decoder and validation: each is recorded once or refused cleanly
    # (409 when a mangled copy keeps an earlier one's client_ref).
    before = Snapshot()
    out = attack("fuzz_payload", extra=["--count", "500", "--seed", "13"], timeout_ms=120000)
    check(out["replies"] == 500 and out["verified"] == 500,
          "%d replies, %d verified, of 500" % (out["replies"], out["verified"]))
    odd = {c: n for c, n in out["codes"].items() if c not in ("0", "400", "409", "413", "422")}
    check(not odd, "unexpected reply codes: %s" % odd)
    after = Snapshot()
    check(after.rejected(before, INTAKE) == 0, "the verifier refused a validly signed frame")
    grew = after.changed(before).get(key(INTAKE), 0)
    check(grew == 1 + out["recorded"], "intake log grew by %d for %d recorded complaints"
          % (grew, 1 + out["recorded"]))


# ---- afterwards -----------------------------------------------------------------

def test_services_still_serve():
    ticket = submit("Final Shop")
    Snapshot()  # every service up, deliveries settled
    check(M.status(ticket)["state"] in ("assigned", "routed"), "the last complaint was not routed")
    r = M.ctl("health", check_rc=False)
    check(r.returncode == 0 and all(h["up"] for h in r.json) and len(r.json) == len(M.pids()),
          "health: %s" % r.stdout)


def test_secret_key_readable_by_others_is_refused():
    path = os.path.join(M.home, "keys", "coordinator.hn.doit.secret")
    os.chmod(path, 0o644)
    try:
        r = M.ctl("health", as_="coordinator.hn.doit", check_rc=False)
    finally:
        os.chmod(path, 0o600)
    check(r.returncode == 1, "cpmctl ran with a 0644 secret key (exit %d)" % r.returncode)
    err = r.json[0] if r.json else {}
    check(err.get("ok") is False and "0644" in err.get("message", "")
          and "0600" in err.get("message", ""), "unclear error: %s %s" % (r.stdout, r.stderr))


TESTS = [
    test_garbage_is_malformed, test_empty_frame_is_refused, test_truncated_frame_is_malformed,
    test_oversize_frame_is_refused, test_frame_over_socket_limit_drops_only_that_link,
    test_tampered_envelope_fails_signature, test_forged_sender_fails_signature,
    test_wrong_key_id_is_unknown_key, test_unknown_sender, test_clock_skew, test_unknown_type,
    test_operator_may_not_send_case_batch_to_routing,
    test_area_may_not_send_assign_batch_to_inspection, test_wrong_recipient,
    test_transport_mismatch, test_unregistered_curve_key_never_gets_a_reply,
    test_replay_is_refused_after_one_application, test_multipart_message_is_counted,
    test_bad_payload_is_refused, test_invalid_field_names_the_field,
    test_valid_complaint_is_recorded_once, test_each_request_is_answered_in_its_envelope_version,
    test_stream_forgery_is_refused,
    test_other_agency_officer_cannot_act_on_a_case,
    test_update_for_another_agencys_case_is_not_applied,
    test_area_cannot_claim_another_intakes_ticket, test_fuzz_intake, test_fuzz_routing,
    test_fuzz_signed_payloads_at_intake,
    test_services_still_serve, test_secret_key_readable_by_others_is_refused,
]

if __name__ == "__main__":
    t0 = time.time()
    code = 0
    with Mesh() as M:
        try:
            run(TESTS)
        except SystemExit as e:  # run() exits; a failure keeps the mesh home
            code = e.code
            print("security tests: %.1fs" % (time.time() - t0))
            if code:
                raise
    sys.exit(code)
