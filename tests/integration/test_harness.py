#!/usr/bin/env python3
"""The harness itself: a service that ended on its own is never passed over.
Killing it fails the test with how it ended and its log's end (CI once met a
service gone in test_flow's kill test, and the harness had said nothing)."""
import contextlib
import io
import os
import signal

from mesh import Failure, Mesh, check, run


def test_service_gone_before_its_kill_is_a_failure_that_says_how():
    with Mesh(areas=("hoan-kiem",)) as m:
        node, svc = "hn.d.hoan-kiem", "inspection"
        m.kill(node, svc)  # started by deploy/local/up: now by the harness, its Popen kept
        m.start(node, svc)
        pid = m.pids()[(node, svc)]
        os.kill(pid, signal.SIGKILL)  # "on its own": not through m.kill
        m.procs[(node, svc)].wait(timeout=10)  # ended (and reaped, as any later Popen may)
        try:
            m.kill(node, svc)
        except Failure as e:
            said = str(e)
        else:
            raise Failure("m.kill passed over a service that had already ended")
        check("had ended on its own" in said and "killed by signal 9" in said,
              "the failure says how it ended: %s" % said[:300])
        check("running" in said or "registry" in said,
              "the failure holds the end of its log: %s" % said[-300:])
        m.start(node, svc)
        quiet = io.StringIO()
        with contextlib.redirect_stdout(quiet):
            m.report_ended()
        check(quiet.getvalue() == "", "nothing named while every service runs: %r"
              % quiet.getvalue())
        # one that ends and is not killed by the harness is named before the mesh stops
        pid = m.pids()[(node, svc)]
        os.kill(pid, signal.SIGKILL)
        m.procs[(node, svc)].wait(timeout=10)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            m.report_ended()
        check("NOTE %s/%s" % (node, svc) in out.getvalue() and
              "killed by signal 9" in out.getvalue(), "named with how: %r" % out.getvalue()[:300])
        m.start(node, svc)  # the mesh stops cleanly


if __name__ == "__main__":
    run([test_service_gone_before_its_kill_is_a_failure_that_says_how])
