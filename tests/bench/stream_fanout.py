#!/usr/bin/env python3
"""Live fan-out of the event streams to many watchers, and a stopped watcher
that must not slow intake (docs/protocol.md section 20.3).

Starts a mesh (one area), then:
  1. submits N complaints with no watcher: the baseline intake time;
  2. starts W `cpmctl watch --out FILE` processes and one more that is then
     stopped (SIGSTOP: a reader that takes nothing), submits N complaints
     again: intake time with them;
  3. waits until every running watcher's file holds every event of every
     service, and checks each file: every seq once, in order (no gap);
  4. resumes the stopped watcher and checks that it catches up the same way.
Prints the figures. No timing is asserted.

Usage: CPM_BUILD=build python3 tests/bench/stream_fanout.py [--watchers 100] [--complaints 500]
"""
import argparse
import collections
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from mesh import CTL, Mesh, check, complaints  # noqa: E402


def read_out(path):
    try:
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip()]
    except FileNotFoundError:
        return []


RESTARTS = collections.Counter()
# A watcher's ordinary notices (a service busy for a moment); anything else is counted.
NOTICE = re.compile(r"does not answer \(|answers again$")


def complete(path, want, procs=None, i=None, start=None):
    """A watcher that died is started again on its cursor (counted): the
    files are then checked the same, so a restart must not lose or repeat."""
    if procs is not None and procs[i].poll() is not None:
        RESTARTS[procs[i].returncode] += 1
        procs[i] = start(i)
    by = collections.Counter((e["node"], e["service"]) for e in read_out(path))
    return all(by[k] >= v for k, v in want.items())


def check_file(path, want):
    by = collections.defaultdict(list)
    for e in read_out(path):
        by[(e["node"], e["service"])].append(e["seq"])
    for k, v in want.items():
        check(by[k] == list(range(1, v + 1)), "%s: %s/%s has a gap or a duplicate" %
              (path, k[0], k[1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--watchers", type=int, default=100)
    ap.add_argument("--complaints", type=int, default=500)
    a = ap.parse_args()
    with Mesh(areas=("hoan-kiem",)) as m:
        procs = []
        try:
            run_bench(m, a, procs)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGCONT)
                    p.kill()
                    p.wait()


def run_bench(m, a, procs):
    if True:
        t0 = time.time()
        m.submit_file(complaints(a.complaints, seed=1, areas=("hoan-kiem", "ba-vi")))
        base = time.time() - t0
        m.wait_for(m.outbox_empty, "delivery", seconds=600)
        def start(i):
            return subprocess.Popen(
                [CTL, "--json", "watch", "--cursor", os.path.join(m.home, "w%d.cursor" % i),
                 "--out", os.path.join(m.home, "w%d.jsonl" % i)],
                env=m.env, stdout=subprocess.DEVNULL,
                stderr=open(os.path.join(m.home, "w%d.err" % i), "a"))

        for i in range(a.watchers + 1):
            procs.append(start(i))
        slow = procs[-1]
        first = {k: h["event_head"] for k, h in m.health().items() if h.get("up")}
        m.wait_for(lambda: all(complete(os.path.join(m.home, "w%d.jsonl" % i), first, procs, i, start)
                               for i in range(a.watchers + 1)), "watchers start", seconds=900)
        slow = procs[-1]
        slow.send_signal(signal.SIGSTOP)
        t0 = time.time()
        m.submit_file(complaints(a.complaints, seed=2, areas=("hoan-kiem", "ba-vi"), tag="f"))
        loaded = time.time() - t0
        t1 = time.time()
        m.wait_for(m.outbox_empty, "delivery", seconds=900)
        want = {k: h["event_head"] for k, h in m.health().items() if h.get("up")}
        events = sum(want.values()) - sum(first.values())
        m.wait_for(lambda: all(complete(os.path.join(m.home, "w%d.jsonl" % i), want, procs, i, start)
                               for i in range(a.watchers)), "fan-out", seconds=1800)
        fan = time.time() - t1
        for i in range(a.watchers):
            check_file(os.path.join(m.home, "w%d.jsonl" % i), want)
        slow.send_signal(signal.SIGCONT)
        t2 = time.time()
        m.wait_for(lambda: complete(os.path.join(m.home, "w%d.jsonl" % a.watchers), want, procs,
                                    a.watchers, start),
                   "the stopped watcher catches up", seconds=600)
        catch = time.time() - t2
        check_file(os.path.join(m.home, "w%d.jsonl" % a.watchers), want)
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
        print("intake of %d complaints: %.2f s without watchers, %.2f s with %d watchers and one "
              "stopped" % (a.complaints, base, loaded, a.watchers))
        print("fan-out: %d new events to %d watchers, all delivered (no gap, no duplicate) "
              "%.1f s after intake's reply" % (events, a.watchers, fan))
        print("stopped watcher resumed: caught up in %.1f s, no gap, no duplicate" % catch)
        print("watchers that died and were started again on their cursor (by exit status): %s"
              % dict(RESTARTS))
        said = collections.Counter()
        for i in range(a.watchers + 1):
            try:
                with open(os.path.join(m.home, "w%d.err" % i), errors="replace") as f:
                    said.update(l.strip() for l in f if not NOTICE.search(l))
            except FileNotFoundError:
                pass
        for line, n in said.most_common(10):
            print("watchers' stderr, %d times: %s" % (n, line))


if __name__ == "__main__":
    main()
