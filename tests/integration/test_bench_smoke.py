#!/usr/bin/env python3
"""The benchmark programs against a real mesh run to the end (no figure is
checked: timings are never asserted). bench_intake crashed at start when the
bench lagged behind an API change (issue 13); bench_peers' cpmesh phases, single
submits and SubmitBatch with group receipts, must acknowledge complaints.
Skipped where the bench programs are not built (the sanitizer tree turns them
off; bench_peers needs libpq and hiredis)."""
import os
import re
import subprocess
import time

from mesh import BUILD, Mesh, check, run

INTAKE = os.path.join(BUILD, "bench_intake")
PEERS = os.path.join(BUILD, "bench_peers")


def result(out):
    """The RESULT line of bench_peers as a dict."""
    lines = [l.split() for l in out.splitlines() if l.startswith("RESULT ")]
    check(len(lines) == 1, "one RESULT line in %r" % out[-500:])
    f = lines[0]
    return {"clients": int(f[2]), "window": int(f[3]), "ok": int(f[4]), "cpu": float(f[8]),
            "bytes": int(f[10])}


def test_bench_intake_runs_to_the_end():
    if not os.access(INTAKE, os.X_OK):
        print("  (skipped: %s not built)" % INTAKE)
        return
    with Mesh(areas=("hoan-kiem",)) as m:
        r = subprocess.run([INTAKE, "--home", m.home, "--seconds", "0.3", "--clients", "1,2",
                            "--window", "4", "--deliver", "40"],
                           capture_output=True, text=True, timeout=300)
        check(r.returncode == 0, "bench_intake exits 0, not %d: %s" % (r.returncode,
                                                                      r.stderr[-800:]))
        for what in ("unit costs here", " 1 x 1 ", " 2 x 4 ", "delivery intake -> routing",
                     "ratio drain/baseline"):
            check(what in r.stdout, "prints %r: %s" % (what, r.stdout[-800:]))
        # the drain figure stopped routing: the 40 complaints and the 4
        # clients' warm-ups waited in intake's outbox (had routing taken
        # them meanwhile, fewer would); then it went on and applied all 44
        waiting = re.search(r"; (\d+) records waiting in its outbox\)", r.stdout)
        check(waiting and int(waiting.group(1)) >= 44,
              "44 records waited while routing was stopped: %s" % r.stdout[-800:])
        check(" applied 44 records in " in r.stdout, "drains 44 records: %s" % r.stdout[-800:])
        # the drain's budget, each part a figure (CPU is read in clock ticks of
        # 10 ms: 44 records may show 0 for intake, so no figure is asserted)
        b = re.search(r"drain budget, CPU us per record: routing ([\d.]+) \+ intake ([\d.]+) "
                      r"\+ the other services (-?[\d.]+) = ([\d.]+)", r.stdout)
        check(b, "prints the drain's budget: %s" % r.stdout[-800:])
        check("until they settled" in r.stdout, "prints the services once settled: %s"
              % r.stdout[-800:])
        state = proc_state(m.pids()[("hn.doit", "routing")])
        check(state not in ("T", "t", "Z"), "routing left in state %s" % state)


def proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_bench_killed_while_routing_is_stopped_leaves_it_running():
    """bench_intake stops routing for its drain figure: killed meanwhile
    (SIGKILL: no handler of its own runs), its guard continues routing."""
    if not os.access(INTAKE, os.X_OK):
        print("  (skipped: %s not built)" % INTAKE)
        return
    with Mesh(areas=("hoan-kiem",)) as m:
        pid = m.pids()[("hn.doit", "routing")]
        b = subprocess.Popen([INTAKE, "--home", m.home, "--seconds", "0.2", "--clients", "1",
                              "--window", "4", "--deliver", "3000"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 240
            while proc_state(pid) != "T" and b.poll() is None and time.time() < deadline:
                time.sleep(0.005)
            check(proc_state(pid) == "T", "bench_intake stopped routing")
        finally:
            b.kill()
            b.wait()
        deadline = time.time() + 10
        while proc_state(pid) == "T" and time.time() < deadline:
            time.sleep(0.05)
        check(proc_state(pid) not in ("T", "t", "Z"), "routing runs again, not %s"
              % proc_state(pid))
        m.wait_for(m.outbox_empty, "routing takes what waited for it")


def test_bench_peers_cpmesh_phases_acknowledge():
    if not os.access(PEERS, os.X_OK):
        print("  (skipped: %s not built)" % PEERS)
        return
    with Mesh(areas=("hoan-kiem",)) as m:
        for mode, extra in (("mesh", ["--clients", "2", "--window", "4"]),
                            ("batch", ["--clients", "2", "--window", "8", "--batch", "4"])):
            r = subprocess.run([PEERS, mode, "--home", m.home, "--seconds", "0.3"] + extra,
                               capture_output=True, text=True, timeout=120)
            check(r.returncode == 0, "bench_peers %s exits 0, not %d: %s %s"
                  % (mode, r.returncode, r.stdout[-400:], r.stderr[-400:]))
            res = result(r.stdout)
            check(res["ok"] > 0, "%s: complaints acknowledged: %r" % (mode, res))
            check(res["cpu"] >= 0, "%s: intake's CPU measured: %r" % (mode, res))
            check(450 <= res["bytes"] <= 600, "%s: ~512-byte complaints: %r" % (mode, res))


def test_bench_peers_warm_touches_and_reports():
    """bench_peers warm (run_peers --warm): the memory is touched and given
    back, and its time per page printed; a size out of range is refused."""
    if not os.access(PEERS, os.X_OK):
        print("  (skipped: %s not built)" % PEERS)
        return
    r = subprocess.run([PEERS, "warm", "--mb", "16"], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "bench_peers warm exits 0, not %d: %s" % (r.returncode, r.stderr))
    m = re.fullmatch(r"WARM 16 (\d+\.\d\d)\n", r.stdout)
    check(m is not None and float(m.group(1)) > 0, "one WARM line with a time: %r" % r.stdout)
    for bad in ("0", "8193"):
        r = subprocess.run([PEERS, "warm", "--mb", bad], capture_output=True, text=True,
                           timeout=60)
        check(r.returncode == 2 and "usage" in r.stderr, "--mb %s refused: %d %r"
              % (bad, r.returncode, r.stderr))


if __name__ == "__main__":
    run([test_bench_intake_runs_to_the_end,
         test_bench_killed_while_routing_is_stopped_leaves_it_running,
         test_bench_peers_cpmesh_phases_acknowledge,
         test_bench_peers_warm_touches_and_reports])
