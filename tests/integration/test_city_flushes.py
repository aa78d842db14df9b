#!/usr/bin/env python3
"""Fewer flushes per complaint, the same guarantees (docs/operations.md,
"Flushes per complaint").

Senders keep a receiver's Ack in memory for up to 50 ms and record it in one
relaxed commit (one device flush) with the other acks of that time; a batch
that is not full waits delivery_linger_ms. A sender killed before it recorded
an ack sends those records again, and the receiver must drop them by seq. So
complaints flow while senders and receivers are killed with SIGKILL at random
moments (a seeded random, so a failure can be replayed), and then every
acknowledged complaint must be routed once and assigned exactly once, to the
right agency, and every outbox must drain."""
import os
import random
import signal
import threading
import time

from mesh import Mesh, check, complaints, run
from test_flow import check_exactly_once, submit_spread

# Senders and receivers of the streams a complaint travels:
# intake -> routing -> the agency's inspection, acks flowing back.
VICTIMS = [("hn.doit", "intake"), ("hn.d.hoan-kiem", "intake"), ("hn.doit", "routing"),
           ("hn.qltt", "inspection"), ("hn.d.ba-dinh", "inspection"),
           ("hn.doit", "inspection")]


def duplicates_dropped(m):
    """Records receivers passed over as already applied (since they started)."""
    return sum(h.get("counters", {}).get("delivery.duplicates", 0)
               for h in m.health().values())


def flow_with_random_kills(m, cs, seed):
    rng = random.Random(seed)
    tickets, errors = {}, []
    done = threading.Event()

    def submitter():
        try:
            for i in range(0, len(cs), 40):
                tickets.update(submit_spread(m, cs[i:i + 40]))
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
        finally:
            done.set()

    th = threading.Thread(target=submitter)
    th.start()
    kills = 0
    # Kill at random moments while complaints flow: one victim or two (a
    # sender and a receiver of the same stream at once), then start them.
    while not done.wait(rng.uniform(0.05, 0.6)):
        victims = rng.sample(VICTIMS, rng.choice((1, 2)))
        for node, svc in victims:
            m.kill(node, svc, signal.SIGKILL)
            kills += 1
        time.sleep(rng.uniform(0.0, 0.2))  # down for a while, not a synchronisation
        for node, svc in victims:
            m.start(node, svc)
    th.join()
    check(not errors, "submission failed: %s" % errors[:1])
    return tickets, kills


def test_acks_gathered_and_relaxed_survive_random_kills():
    # CPM_SEED=N replays a run (its seed is printed).
    seed = int(os.environ.get("CPM_SEED") or int(time.time()) % 100000)
    print("  seed %d (CPM_SEED=%d replays it)" % (seed, seed))
    with Mesh() as m:
        cs = complaints(800, seed=seed)
        tickets, kills = flow_with_random_kills(m, cs, seed)
        check(len(tickets) == len(cs), "%d of %d acknowledged" % (len(tickets), len(cs)))
        check(kills > 0, "no service was killed")
        check_exactly_once(m, tickets)
        print("  %d kills; receivers still up dropped %d duplicate records"
              % (kills, duplicates_dropped(m)))


if __name__ == "__main__":
    run([test_acks_gathered_and_relaxed_survive_random_kills])
