#!/usr/bin/env python3
"""Log lines that peers can drive are bounded (cpm_ratelimit): a flood of
failing CURVE handshakes (no key needed, only the port) leaves a few lines
in the service's log, while the counters still count every event."""
import os
import subprocess
import time

from mesh import BUILD, Mesh, check, run

ATTACK = os.path.join(BUILD, "cpm_attack")
HANDSHAKES = 300
BURST = 20  # lines the limiter lets through per 10 s window (cpm_transport.c)


def test_refused_handshakes_are_counted_not_all_logged():
    with Mesh() as m:
        log = os.path.join(m.home, "logs", "hn.doit.intake.log")

        def refused():
            return m.health("hn.doit")[("hn.doit", "intake")]["counters"].get("zap.refused", 0)

        # Each run connects once with a fresh, unregistered CURVE key: one
        # handshake, refused by ZAP. Runs go 20 at a time.
        cmd = [ATTACK, "--home", m.home, "--as", "operator.hn.doit", "--target",
               "hn.doit/intake", "--attack", "unregistered_curve", "--timeout", "1000"]
        runs = 0
        start = time.monotonic()
        while runs < HANDSHAKES:
            batch = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for _ in range(min(20, HANDSHAKES - runs))]
            for p in batch:
                p.wait(timeout=60)
            runs += len(batch)
        m.wait_for(lambda: refused() >= HANDSHAKES, "every handshake counted", seconds=10)
        n = refused()
        windows = int((time.monotonic() - start) // 10) + 1  # those the flood touched
        with open(log, errors="replace") as f:
            lines = sum("zap: refused a connection" in line for line in f)
        check(n >= HANDSHAKES, "only %d refused handshakes in %d runs" % (n, runs))
        check(1 <= lines <= BURST * windows,
              "%d 'zap: refused' lines for %d refusals in %d windows" % (lines, n, windows))


if __name__ == "__main__":
    run([test_refused_handshakes_are_counted_not_all_logged])
