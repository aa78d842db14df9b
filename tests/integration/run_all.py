#!/usr/bin/env python3
"""Runs every integration test file (tests/integration/test_*.py and *.sh),
a few at a time, each in its own process with its own temporary mesh on
random loopback ports. The output of each file is printed whole when it ends
(in the order they end), with its duration, so parallel runs stay readable.
Exit status 1 if any failed.

  run_all.py [--jobs N] [--only NAME ...]

The tests wait on conditions, never on timings, so running them side by side
only makes each slower, not flaky; the two that keep a core busy (test_flow,
test_transport_limits) never run at the same time; files that a test marks
as needing the machine to itself (`# run-alone` in its first 20 lines) run
after the others, one at a time.
"""
import argparse
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_alone(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        head = [next(f, "") for _ in range(20)]
    return any("run-alone" in line for line in head)


def run_one(path):
    cmd = [sys.executable, path] if path.endswith(".py") else ["bash", path]
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return path, p.returncode, time.monotonic() - t0, p.stdout.decode("utf-8", "replace")


def run_pool(files, jobs, heavy, done):
    """Each file in its own process, jobs at a time, taken in the order of
    files, except that a file of heavy (the ones that keep the CPU busy:
    thousands of complaints, floods) waits while another heavy one runs and
    the next light one goes first. done(result) is called as each ends."""
    todo = list(files)
    lock = threading.Condition()
    state = {"heavy": 0}

    def take():
        with lock:
            while todo:
                for i, f in enumerate(todo):
                    if name_of(f) not in heavy or state["heavy"] == 0:
                        del todo[i]
                        if name_of(f) in heavy:
                            state["heavy"] += 1
                        return f
                lock.wait()  # only heavy ones left, one of them running
            return None

    def worker():
        while True:
            f = take()
            if f is None:
                return
            r = run_one(f)
            with lock:
                if name_of(f) in heavy:
                    state["heavy"] -= 1
                lock.notify_all()
                done(r)

    threads = [threading.Thread(target=worker) for _ in range(max(1, jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def name_of(path):
    return os.path.basename(path).rsplit(".", 1)[0]


def report(result):
    path, rc, secs, out = result
    name = os.path.relpath(path, os.path.dirname(os.path.dirname(HERE)))
    print(f"-- {name}  ({secs:.0f} s, {'ok' if rc == 0 else 'FAILED rc=%d' % rc})")
    sys.stdout.write(out)
    sys.stdout.flush()
    return rc == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=max(2, os.cpu_count() or 2))
    ap.add_argument("--only", nargs="*", default=None)
    a = ap.parse_args()
    files = sorted(os.path.join(HERE, f) for f in os.listdir(HERE)
                   if f.startswith("test_") and (f.endswith(".py") or f.endswith(".sh")))
    if a.only:
        files = [f for f in files if os.path.basename(f).rsplit(".", 1)[0] in a.only]
    # The longest first, so that the workers end together (the rest in
    # name order): these take 35-70 s each where most take 5-25 s.
    slow = ["test_flow", "test_transport_limits", "test_exchange_proof", "test_dashboard_live",
            "test_field_sync", "test_prometheus", "test_watch", "test_stream_proof"]
    # These keep a core busy for most of their run (a thousand complaints
    # through the mesh; floods of connections, fetches and instances whose
    # memory bound and liveness they check): never two of them at once, so
    # running more files than cores only fills time the others spend waiting.
    heavy = {"test_flow", "test_transport_limits"}
    rank = {n: i for i, n in enumerate(slow)}
    files.sort(key=lambda f: (rank.get(name_of(f), len(slow)), f))
    alone = [f for f in files if run_alone(f)]
    shared = [f for f in files if f not in alone]
    ok = [True]
    t0 = time.monotonic()

    def done(r):
        ok[0] &= report(r)
    run_pool(shared, a.jobs, heavy, done)
    for f in alone:
        done(run_one(f))
    ok = ok[0]
    print(f"integration: {len(files)} files in {time.monotonic() - t0:.0f} s, "
          f"{'all passed' if ok else 'FAILURES above'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
