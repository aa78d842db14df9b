#!/usr/bin/env python3
"""The cost of hostile input is bounded (issue 5, items 2, 3 and 5), shown by
real attacks (tests/tools/cpm_attack, as registered members) against a real
local mesh:

- a complaint padded with a large unknown field is refused, naming the field,
  and nothing is stored;
- a record that can never be sent becomes a counted dead letter on its sender
  and the complaints after it are still routed;
- a 4 MiB frame of 2-byte fields is refused as malformed and the service keeps
  answering;
- an oversized batch and a batch of 100,000 empty records are refused and the
  receiver's store does not grow;
- records that keep failing are capped per member (refused retryably after)
  and their log lines are bounded.

One mesh serves the whole file; each check compares counters before and after.
"""
import json
import os
import signal
import subprocess
import sys
import time

from mesh import BUILD, Mesh, check, run

ATTACK = os.path.join(BUILD, "cpm_attack")
OUTBOX_PUT = os.path.join(BUILD, "cpm_outbox_put")
OP = "operator.hn.doit"
INTAKE = "hn.doit/intake"
ROUTING = "hn.doit/routing"
M = None  # the mesh of this file, set in main

# What the services promise (cpm_delivery.h, cpm_ratelimit use in cpm_delivery.c)
DEAD_MAX = 1000
DEAD_LOG_BURST = 20


def attack(name, target=INTAKE, as_=OP, extra=(), timeout_ms=20000):
    cmd = [ATTACK, "--home", M.home, "--as", as_, "--target", target, "--attack", name,
           "--timeout", str(timeout_ms)] + list(extra)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "cpm_attack %s failed (%d): %s" % (name, r.returncode, r.stderr))
    out = json.loads(r.stdout)
    check(out["replied"] and out["verified"], "%s: no verified reply: %s" % (name, out))
    return out


def counters(target):
    node, svc = target.split("/")
    h = M.health(node)
    check((node, svc) in h and h[(node, svc)].get("up"), "%s is not up" % target)
    return h[(node, svc)]["counters"]


def grew(before, after, name):
    return after.get(name, 0) - before.get(name, 0)


def head(target):
    node, svc = target.split("/")
    return M.health(node)[(node, svc)]["event_head"]


def store_size(target):
    node, svc = target.split("/")
    return os.path.getsize(os.path.join(M.home, "data", node, svc, "data.mdb"))


def log_lines(target, text):
    node, svc = target.split("/")
    with open(os.path.join(M.home, "logs", "%s.%s.log" % (node, svc)), errors="replace") as f:
        return sum(1 for line in f if text in line)


def submit(business, node="hn.doit"):
    r = M.ctl("submit", "--channel", "hotline", "--business", business, "--area",
              "hoan-kiem", "--category", "food_safety", "--description", "A real complaint",
              "--node", node)
    check(r.json and r.json[0].get("ok"), "submit failed: %s" % r.stdout)
    return r.json[0]["ticket"]


def routed(ticket):
    r = M.ctl("status", ticket, check_rc=False, as_="coordinator.hn.doit")
    return r.returncode == 0


def test_padded_complaint_is_refused_and_nothing_stored():
    M.wait_for(M.outbox_empty, "deliveries to settle")
    before, head0, size0 = counters(INTAKE), head(INTAKE), store_size(INTAKE)
    out = attack("padded_complaint", extra=["--count", "3072"])  # 3 MiB of field 99
    check(out["reply_type"] == "error" and out["error_code"] == 400 and out["field"] == "#99",
          "not refused by the unknown field: %s" % out)
    after = counters(INTAKE)
    check(grew(before, after, "invalid.invalid") == 1, "not counted as invalid")
    check(head(INTAKE) == head0, "intake recorded something")
    check(store_size(INTAKE) - size0 < 1 << 20,
          "intake's store grew by %d bytes" % (store_size(INTAKE) - size0))
    check(M.outbox_empty(), "something waits for delivery")


def test_twobyte_frame_is_malformed_and_the_service_answers():
    before = counters(INTAKE)
    for _ in range(3):
        out = attack("twobyte_fields")
        check(out["reply_type"] == "error" and out["error_code"] == 422 and
              out["message"] == "message refused: malformed", "not refused: %s" % out)
    after = counters(INTAKE)
    check(grew(before, after, "rejected.malformed") == 3, "not counted as malformed")
    ticket = submit("After Twobyte")
    M.wait_for(lambda: routed(ticket), "the next complaint to be routed", seconds=60)


def test_oversize_batch_is_refused():
    before, size0 = counters(ROUTING), store_size(ROUTING)
    out = attack("oversize_batch", target=ROUTING, as_="hn.d.hoan-kiem")
    check(out["reply_type"] == "error" and out["error_code"] == 413 and
          out["field"] == "records", "not refused: %s" % out)
    after = counters(ROUTING)
    check(grew(before, after, "delivery.batches_refused") == 1, "not counted")
    check(grew(before, after, "delivery.dead_letters") == 0, "dead letters kept")
    check(store_size(ROUTING) - size0 < 1 << 20, "routing's store grew")


def test_batch_of_100000_empty_records_is_refused():
    before, size0 = counters(ROUTING), store_size(ROUTING)
    out = attack("empty_records", target=ROUTING, as_="hn.d.hoan-kiem",
                 extra=["--count", "100000"])
    check(out["reply_type"] == "error" and out["error_code"] == 413 and
          out["field"] == "records", "not refused: %s" % out)
    after = counters(ROUTING)
    check(grew(before, after, "delivery.batches_refused") == 1, "not counted")
    check(grew(before, after, "delivery.records_applied") == 0 and
          grew(before, after, "delivery.dead_letters") == 0 and
          grew(before, after, "delivery.skipped") == 0, "records taken: %s" % after)
    check(store_size(ROUTING) - size0 < 1 << 20,
          "routing's store grew by %d bytes" % (store_size(ROUTING) - size0))


def test_failing_records_are_capped_and_logged_boundedly():
    # hn.d.ba-dinh's fresh streams (one per attack run: another instance):
    # the first batch of bad records fills its cap of dead letters, every later
    # one is refused retryably, whatever stream it comes on.
    before, size0 = counters(ROUTING), store_size(ROUTING)
    lines0 = log_lines(ROUTING, "kept as a dead letter")
    out = attack("bad_records", target=ROUTING, as_="hn.d.ba-dinh",
                 extra=["--count", str(DEAD_MAX)])
    check(out["reply_type"] == "ack", "the first %d were not taken: %s" % (DEAD_MAX, out))
    for _ in range(3):
        out = attack("bad_records", target=ROUTING, as_="hn.d.ba-dinh", extra=["--count", "500"])
        check(out["reply_type"] == "error" and out["error_code"] == 503 and
              out["field"] == "records", "not refused at the cap: %s" % out)
    after = counters(ROUTING)
    check(grew(before, after, "delivery.dead_letters") == DEAD_MAX,
          "%d dead letters kept" % grew(before, after, "delivery.dead_letters"))
    check(grew(before, after, "delivery.stuck") == 3, "stuck batches not counted")
    lines = log_lines(ROUTING, "kept as a dead letter") - lines0
    check(lines <= 2 * DEAD_LOG_BURST, "%d log lines for %d dead letters" % (lines, DEAD_MAX))
    check(log_lines(ROUTING, "stuck") >= 1, "the stuck stream is not in the log")
    # 1000 one-byte records with their reasons: well under a megabyte
    check(store_size(ROUTING) - size0 < 2 << 20, "routing's store grew")
    # The member's good records still pass.
    ticket = submit("After Dead Letters", node="hn.d.ba-dinh")
    M.wait_for(lambda: routed(ticket), "ba-dinh's next complaint to be routed", seconds=60)


def test_unsendable_record_is_a_counted_dead_letter_and_does_not_block():
    stream = "hn.doit/intake>hn.doit/routing"
    submit("Before Unsendable")  # the stream exists
    M.wait_for(M.outbox_empty, "deliveries to settle")
    rbefore = counters(ROUTING)
    M.kill("hn.doit", "intake", signal.SIGTERM)
    r = subprocess.run([OUTBOX_PUT, "--data-dir", os.path.join(M.home, "data", "hn.doit", "intake"),
                        "--stream", stream, "--size", str(5 << 20)],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "cpm_outbox_put: %s" % r.stderr)
    M.start("hn.doit", "intake")
    ticket = submit("After Unsendable")
    M.wait_for(lambda: routed(ticket), "the complaint after the unsendable record to be routed",
               seconds=90)
    M.wait_for(M.outbox_empty, "intake's outbox to drain", seconds=60)
    c = counters(INTAKE)
    check(c.get("delivery.unsendable") == 1, "unsendable not counted: %s" % c)
    check(grew(rbefore, counters(ROUTING), "delivery.skipped") == 1, "routing did not skip it")
    check(log_lines(INTAKE, "more than a receiver takes") == 1, "not logged exactly once")
    # still counted once, and still not blocking, after a restart
    M.kill("hn.doit", "intake", signal.SIGTERM)
    M.start("hn.doit", "intake")
    ticket = submit("After Restart")
    M.wait_for(lambda: routed(ticket), "a complaint after the restart to be routed", seconds=60)
    check(log_lines(INTAKE, "more than a receiver takes") == 1, "logged again after a restart")


def test_outbox_of_a_newer_format_with_records_waiting_is_refused():
    """A store whose outbox a newer build wrote (outbox.format above this
    build's) is not run while records in it wait for their peers: this build
    could send them as something else. Once they are acknowledged it starts
    and takes the mark as its own."""
    data = os.path.join(M.home, "data", "hn.doit", "intake")
    cfg = os.path.join(M.home, "etc", "hn.doit.intake.yaml")
    M.wait_for(M.outbox_empty, "deliveries to settle")
    M.kill("hn.doit", "routing", signal.SIGTERM)
    ticket = submit("Waits For Routing")
    M.kill("hn.doit", "intake", signal.SIGTERM)
    r = subprocess.run([OUTBOX_PUT, "--data-dir", data, "--format", "3"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "cpm_outbox_put --format: %s" % r.stderr)
    r = subprocess.run([os.path.join(BUILD, "cpmesh-intake"), "--config", cfg],
                       capture_output=True, text=True, env=M.env, timeout=60)
    out = r.stdout + r.stderr
    check(r.returncode != 0, "intake refuses to start: rc %d %s" % (r.returncode, out[-600:]))
    check("outbox.format 3 is a newer build's" in out and "records wait for their peers" in out
          and "cpmctl health shows outbox 0" in out, "the reason is logged: %s" % out[-600:])
    # the newer build drains it (here: the mark set back, as that build would run)
    r = subprocess.run([OUTBOX_PUT, "--data-dir", data, "--format", "2"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "cpm_outbox_put --format 2: %s" % r.stderr)
    M.start("hn.doit", "intake")
    M.start("hn.doit", "routing")
    M.wait_for(lambda: routed(ticket), "the waiting complaint to be routed", seconds=60)
    M.wait_for(M.outbox_empty, "intake's outbox to drain", seconds=60)
    # nothing waits now: a newer mark is lowered, and said so
    M.kill("hn.doit", "intake", signal.SIGTERM)
    r = subprocess.run([OUTBOX_PUT, "--data-dir", data, "--format", "3"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "cpm_outbox_put --format 3: %s" % r.stderr)
    M.start("hn.doit", "intake")
    check(log_lines(INTAKE, "outbox.format 3 (a newer build's) is now 2") == 1,
          "the lowered mark is logged")
    ticket = submit("After The Mark")
    M.wait_for(lambda: routed(ticket), "a complaint after the restart to be routed", seconds=60)


TESTS = [
    test_padded_complaint_is_refused_and_nothing_stored,
    test_twobyte_frame_is_malformed_and_the_service_answers,
    test_oversize_batch_is_refused,
    test_batch_of_100000_empty_records_is_refused,
    test_failing_records_are_capped_and_logged_boundedly,
    test_unsendable_record_is_a_counted_dead_letter_and_does_not_block,
    test_outbox_of_a_newer_format_with_records_waiting_is_refused,
]

if __name__ == "__main__":
    t0 = time.time()
    code = 0
    with Mesh() as M:
        try:
            run(TESTS)
        except SystemExit as e:  # run() exits; a failure keeps the mesh home
            code = e.code
            print("wire limits tests: %.1fs" % (time.time() - t0))
            if code:
                raise
    sys.exit(code)
