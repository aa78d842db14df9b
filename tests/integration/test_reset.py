#!/usr/bin/env python3
"""A node's store wiped (a reinstalled area) or replaced by an older
copy (a restored backup): nothing it sends afterwards is silently taken for
what its peers already have."""
import os
import re
import shutil
import subprocess
import time

from mesh import BUILD, Mesh, check, complaints, run

NODE = "hn.d.ba-dinh"
STREAM = NODE + "/intake>hn.doit/routing"


def routed(m):
    return [e["ticket"] for e in m.events("hn.doit", "routing") if e["kind"] == "case.routed"]


def submit(m, n, seed):
    r = m.submit_file(complaints(n, seed=seed), node=NODE)
    return [j["ticket"] for j in r.json]


def routing_applied(m):
    return m.health("hn.doit")[("hn.doit", "routing")]["counters"].get(
        "delivery.records_applied", 0)


def intake_stream(m):
    h = m.health(NODE)[(NODE, "intake")]
    return [s for s in h["streams"] if s["stream"] == STREAM][0], h["counters"]


def data_dir(m):
    return os.path.join(m.home, "data", NODE, "intake")


def test_reinstalled_node_with_a_new_prefix_is_delivered():
    with Mesh() as m:
        first = submit(m, 30, seed=40)
        m.wait_for(m.outbox_empty, "delivery")
        m.kill(NODE, "intake")
        shutil.rmtree(data_dir(m))  # the node is reinstalled: its stream restarts at 1
        src = os.path.join(m.home, "etc", "registry.yaml")
        text = open(src).read().replace("ticket_prefix: BD\n", "ticket_prefix: BD2\n")
        text = re.sub(r"(?m)^version: (\d+)", lambda x: "version: %d" % (int(x.group(1)) + 1),
                      text)
        open(src, "w").write(text)
        m.ctl("registry", "create", "--source", src, "--root-key",
              os.path.join(m.home, "keys", "root.secret"), "--out",
              os.path.join(m.home, "registry.signed"))
        v = int(re.search(r"(?m)^version: (\d+)", text).group(1))
        m.wait_for(lambda: all(h.get("registry_version") == v for h in m.health().values()
                               if h.get("up")), "routing to know the new prefix", 10)
        m.start(NODE, "intake")
        second = submit(m, 30, seed=41)
        check(all(t.startswith("BD2-") for t in second), "new tickets carry the new prefix")
        m.wait_for(m.outbox_empty, "delivery after the reinstall")
        got = routed(m)
        check(sorted(got) == sorted(first + second),
              "all 60 routed once (%d); numbers 1..30 of the new store are not duplicates"
              % len(got))
        c = m.health("hn.doit")[("hn.doit", "routing")]["counters"]
        check(c.get("delivery.duplicates", 0) == 0 and c.get("delivery.dead_letters", 0) == 0,
              "nothing dropped or set aside: %s" % c)


def test_restored_older_copy_halts_its_stream_and_keeps_everything():
    with Mesh() as m:
        first = submit(m, 10, seed=42)
        m.wait_for(m.outbox_empty, "delivery")
        backup = os.path.join(m.home, "backup")
        os.makedirs(backup)
        check(subprocess.run(["mdb_copy", data_dir(m), backup]).returncode == 0, "hot copy")
        second = submit(m, 10, seed=43)
        m.wait_for(m.outbox_empty, "delivery")
        applied = routing_applied(m)
        m.kill(NODE, "intake")
        shutil.rmtree(data_dir(m))
        os.makedirs(data_dir(m), mode=0o700)
        shutil.copy(os.path.join(backup, "data.mdb"), data_dir(m))
        m.start(NODE, "intake")
        m.wait_for(lambda: intake_stream(m)[0]["halted"], "the stream to halt", 20)
        third = submit(m, 5, seed=44)  # recorded and acknowledged, numbers already taken
        stream, counters = intake_stream(m)
        check(stream["halted"] and stream["outbox_depth"] >= 5,
              "halted with the new records kept: %s" % stream)
        check(counters.get("delivery.rewound", 0) >= 1, "delivery.rewound counted")
        got = routed(m)
        check(len(third) == 5 and sorted(got) == sorted(first + second),
              "routing has the 20 from before and nothing more: %d" % len(got))
        time.sleep(1)
        check(routing_applied(m) == applied, "nothing new applied at routing")
        # The halt outlives a crash: nothing is sent or deleted after a restart.
        depth = stream["outbox_depth"]
        m.kill(NODE, "intake")
        m.start(NODE, "intake")
        time.sleep(1)
        stream, _ = intake_stream(m)
        check(stream["halted"] and stream["outbox_depth"] == depth,
              "still halted after a restart, %d records kept: %s" % (depth, stream))
        check(routing_applied(m) == applied, "nothing applied at routing after the restart")
        # Going back to an older build cannot drain a halted stream: the
        # outbox-format refusal names the halt and says what to do instead.
        m.kill(NODE, "intake")
        r = subprocess.run([os.path.join(BUILD, "cpm_outbox_put"), "--data-dir", data_dir(m),
                            "--format", "3"], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "cpm_outbox_put --format 3: %s" % r.stderr)
        cfg = os.path.join(m.home, "etc", "%s.intake.yaml" % NODE)
        r = subprocess.run([os.path.join(BUILD, "cpmesh-intake"), "--config", cfg],
                           capture_output=True, text=True, env=m.env, timeout=60)
        out = r.stdout + r.stderr
        check(r.returncode != 0 and "(streams: 1, halted: 1)" in out and "newest copy" in out,
              "refused, the halted stream named: rc %d %s" % (r.returncode, out[-600:]))


if __name__ == "__main__":
    run([test_reinstalled_node_with_a_new_prefix_is_delivered,
         test_restored_older_copy_halts_its_stream_and_keeps_everything])
