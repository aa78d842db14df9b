#!/usr/bin/env python3
"""Attacks on the transport and the loop of a running mesh (issue 5, items 4,
6, 7, 8, 9): a flood of idle connections, a reader that never reads, a member
inventing sender instances, a flood of event fetches, and revocation or
removal of a member with open connections. Real processes, real sockets."""
import json
import os
import re
import resource
import signal
import socket
import subprocess
import time

from mesh import BUILD, CTL, Mesh, check, complaints, run
from relay import BUF as RELAY_BUF, Relay
from test_registry import resign, wait_version, with_version

FLOOD = os.path.join(BUILD, "cpm_flood")
SUBMIT = ["submit", "--channel", "hotline", "--business", "Shop", "--area", "ba-dinh",
          "--category", "ecommerce", "--description", "a faulty kettle"]


def endpoint(m, node, service, pub=False):
    """(host, port) of a service, from the registry source of the mesh."""
    text = open(os.path.join(m.home, "etc", "registry.yaml")).read()
    block = text.split("  - id: %s\n" % node, 1)[1].split("  - id: ", 1)[0]
    key = "pub_endpoint" if pub else "endpoint"
    port = re.search(r"name: %s, endpoint: \"tcp://[^:]+:(\d+)\", pub_endpoint: "
                     r"\"tcp://[^:]+:(\d+)\"" % service, block)
    return ("127.0.0.1", int(port.group(2 if key == "pub_endpoint" else 1)))


def counters(m, node, service):
    r = m.ctl("--timeout", "15000", "health", "--node", node, check_rc=False)
    h = {(x["node"], x["service"]): x for x in r.json if "node" in x}.get((node, service))
    check(h and h.get("up"), "%s/%s answers health" % (node, service))
    return h["counters"]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def sanitized(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def drained_to_eof(c):
    """1 when the peer closes c (reading its greeting first), 0 on a timeout."""
    try:
        while c.recv(4096):
            pass
        return 1
    except ConnectionResetError:
        return 1
    except socket.timeout:
        return 0


def flood(m, as_, target, mode, *args):
    return subprocess.Popen([FLOOD, "--home", m.home, "--as", as_, "--target", target, "--mode",
                             mode] + [str(a) for a in args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=m.env)


def test_idle_connection_flood_does_not_stop_peers():
    """1,100 idle TCP connections (no key, no handshake) to intake's ROUTER,
    which runs with the distribution's default soft limit of 1,024
    descriptors: a registered peer is still served while they are held, and
    the service drops them after the handshake timeout."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1300:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    with Mesh() as m:
        m.kill("hn.doit", "intake")
        m.start("hn.doit", "intake", prefix=["prlimit", "--nofile=1024:4096", "--"])
        addr = endpoint(m, "hn.doit", "intake")
        conns = []
        try:
            for _ in range(1100):
                c = socket.create_connection(addr, timeout=5)
                conns.append(c)
            r = m.ctl("--timeout", "8000", "health", "--node", "hn.doit", check_rc=False)
            up = {(h["node"], h["service"]): h.get("up") for h in r.json if "node" in h}
            check(up.get(("hn.doit", "intake")), "intake answers health under the flood: %s"
                  % r.stdout[-300:])
            r = m.ctl("--timeout", "8000", *SUBMIT, "--node", "hn.doit", check_rc=False)
            check(r.returncode == 0 and r.json[0]["ok"], "a submission is served under the "
                  "flood: %s %s" % (r.stdout, r.stderr))
            # Unauthenticated connections are closed by the service.
            for c in conns:
                c.settimeout(30)
            closed = 0
            for c in conns:
                closed += drained_to_eof(c)
            check(closed == len(conns), "every idle connection dropped (%d of %d)"
                  % (closed, len(conns)))
        finally:
            for c in conns:
                c.close()
        log = open(os.path.join(m.home, "logs", "hn.doit.intake.log")).read()
        check("descriptor limit 4096" in log, "the raised descriptor limit is logged")


def test_reader_that_never_reads_is_bounded():
    """An officer sends event fetches of 1,000 events each and never reads:
    intake's memory stays bounded (replies are bounded in bytes, the socket
    queue in frames, and the principal's share of each turn)."""
    with Mesh(areas=("ba-dinh",)) as m:
        r = m.submit_file(complaints(1100, tag="rss"), node="hn.doit")
        check(sum(1 for x in r.json if x.get("ok")) == 1100, "1100 complaints recorded")
        pid = m.pids()[("hn.doit", "intake")]
        # 150 MiB. Under AddressSanitizer freed memory is held in a quarantine
        # (256 MiB) and the allocator keeps what it had: the bound there only
        # catches a runaway (the old code reached 200 MiB in seconds without it).
        bound = (150 + (512 if sanitized(pid) else 0)) * 1024
        before = counters(m, "hn.doit", "intake").get("received", 0)
        p = flood(m, "officer.hn.doit", "hn.doit/intake", "noread", "--count", 1200,
                  "--hold-ms", 120000)
        try:
            line = p.stdout.readline()
            sent = json.loads(line)["sent"]
            check(sent >= 1000, "the flood sent its fetches: %s" % line)
            peak = [0]

            def took_all():
                peak[0] = max(peak[0], rss_kib(pid))
                check(peak[0] < bound, "intake RSS bounded: %d KiB" % peak[0])
                try:
                    return counters(m, "hn.doit", "intake").get("received", 0) >= before + sent
                except Exception:  # noqa: BLE001 - busy: look again
                    return False
            m.wait_for(took_all, "intake took every fetch", 300)
            peak[0] = max(peak[0], rss_kib(pid))
            print("  intake VmRSS with %d unread fetches held: %d KiB at most" % (sent, peak[0]))
            check(peak[0] < bound, "intake RSS bounded: %d KiB" % peak[0])
        finally:
            p.kill()
            p.wait()
        c = counters(m, "hn.doit", "intake")
        check(c.get("replies.unroutable", 0) + c.get("rejected.busy", 0) > 0,
              "dropped replies or busy refusals counted: %s" % c)


def test_fetch_flood_does_not_starve_submissions():
    """Two coordinators flood intake with event fetches while an operator
    submits: every submission completes and the group commits advance."""
    with Mesh(areas=("ba-dinh",)) as m:
        m.submit_file(complaints(1100, tag="starve"), node="hn.doit")
        commits = counters(m, "hn.doit", "intake").get("store.commits", 0)
        floods = [flood(m, who, "hn.doit/intake", "flood", "--seconds", 90, "--window", 64)
                  for who in ("coordinator.hn.doit", "officer.hn.doit")]
        try:
            time.sleep(2)  # the flood is under way (not a synchronisation)
            lat = []
            for i in range(5):
                t0 = time.time()
                r = m.ctl("--timeout", "30000", *SUBMIT, "--node", "hn.doit", check_rc=False)
                lat.append(time.time() - t0)
                check(r.returncode == 0 and r.json[0]["ok"],
                      "submission %d completed under the flood: %s" % (i, r.stdout))
            print("  submission latency under the flood: %s s" %
                  " ".join("%.2f" % x for x in lat))
            check(all(p.poll() is None for p in floods), "the flood ran throughout")
        finally:
            for p in floods:
                p.send_signal(signal.SIGKILL)
                p.wait()
        c = counters(m, "hn.doit", "intake")
        check(c.get("store.commits", 0) >= commits + 5, "group commits advanced")


def test_reset_after_pings_does_not_abort_intake():
    """A member's link sends event fetches faster than intake takes them,
    with ZMTP PINGs every millisecond among them, never reads, and is reset
    (RST) while intake's reading of it is stopped: intake stays up and serves.
    Debian's libzmq 4.3.4 aborted the service here (assertion !_io_error:
    a PING read before the stop was answered on the dead connection);
    cpmesh links it with deploy/libzmq/pong-after-io-error.patch. Five
    rounds, each a new link through a relay that makes the reset."""
    with Mesh(areas=("ba-dinh",)) as m:
        r = m.submit_file(complaints(300, tag="rst"), node="hn.doit")
        check(sum(1 for x in r.json if x.get("ok")) == 300, "300 complaints recorded")
        pid = m.pids()[("hn.doit", "intake")]
        host, port = endpoint(m, "hn.doit", "intake")
        for rnd in range(5):
            relay = Relay(host, port)
            p = flood(m, "officer.hn.doit", "hn.doit/intake", "noread", "--count", 100000,
                      "--hold-ms", 60000, "--via", relay.endpoint, "--ping-ms", 1)
            try:
                # Intake stopped reading the link: the socket buffers between are
                # full and the relay holds all it may.
                m.wait_for(lambda: relay.held_upstream >= RELAY_BUF or p.poll() is not None,
                           "intake's reading of the link stopped", 60)
                check(p.poll() is None, "the flood runs: %s" % (p.stderr.read()
                                                                if p.poll() is not None else ""))
                time.sleep(0.3)  # PINGs among the bytes intake has read (not a synchronisation)
                relay.reset()
            finally:
                p.kill()
                p.wait()
                relay.close()
            # Intake drains what it had read (the abort was there), then answers.
            try:
                r = m.ctl("--timeout", "10000", *SUBMIT, "--node", "hn.doit", check_rc=False)
                served = r.returncode == 0 and r.json[0]["ok"]
            except subprocess.TimeoutExpired:
                r, served = None, False
            alive = os.path.exists("/proc/%d" % pid) and \
                open("/proc/%d/stat" % pid).read().split()[2] != "Z"
            log = open(os.path.join(m.home, "logs", "hn.doit.intake.log")).read()
            check(alive, "intake is alive after round %d's reset; its log ends: %s"
                  % (rnd, log[-400:]))
            check(served, "intake serves after round %d's reset: %s"
                  % (rnd, r.stdout[-300:] if r else "timed out"))
        check(m.pids()[("hn.doit", "intake")] == pid, "the same intake process throughout")


def test_invented_instances_do_not_lock_out_others():
    """A registered member sends valid signed requests from 101,000 sender
    instances; then a normal submission (another member) and a request of the
    same member from a new instance are still accepted."""
    with Mesh(areas=("ba-dinh",)) as m:
        p = flood(m, "officer.hn.doit", "hn.doit/intake", "instances", "--count", 101000,
                  "--window", 48)
        out, err = p.communicate(timeout=900)
        res = json.loads(out.splitlines()[-1])
        print("  instances flood: %s" % res)
        check(res["replay"] == 0 and res["ok"] + res["busy"] == res["sent"] and
              res["ok"] >= 90000, "the member's own instances were accepted: %s" % res)
        r = m.ctl(*SUBMIT, "--node", "hn.doit", check_rc=False)
        check(r.returncode == 0 and r.json[0]["ok"], "a submission is accepted: %s" % r.stdout)
        r = m.ctl("events", "--node", "hn.doit", "--service", "intake", as_="officer.hn.doit",
                  check_rc=False)
        check(r.returncode == 0, "the flooding member's new cpmctl run is accepted: %s"
              % r.stdout[-300:])
        c = counters(m, "hn.doit", "intake")
        check(c.get("rejected.replay", 0) == 0, "nothing refused as a replay: %s" % c)
        check(c.get("replay.evicted", 0) > 0,
              "the flooding member evicted its own instances, counted: %s" % c.get("replay.evicted"))


def add_member(text, name, role="coordinator"):
    return text + """  - id: %s
    agency: hn.doit
    role: %s
    name: "Extra %s"
    public_key: ../keys/%s.public
    may_send: [status_query@routing, "events_fetch@*", "health_query@*"]
""" % (name, role, role, name)


def watcher(m, as_, seconds):
    return subprocess.Popen([CTL, "--json", "--as", as_, "watch", "--for", str(seconds)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=m.env)


def ticket_seen(lines, ticket):
    return any(ticket in l for l in lines)


def cut_off(change):
    """A watcher of the member `change` takes access from, with its live stream
    open, stops receiving events after the reload and cannot reconnect; a
    watcher of a member still registered keeps receiving them."""
    with Mesh(areas=("ba-dinh",)) as m:
        src = os.path.join(m.home, "etc", "registry.yaml")
        base = open(src).read()
        v0 = int(re.search(r"(?m)^version: (\d+)", base).group(1))
        m.ctl("keygen", "--id", "victim")
        m.ctl("keygen", "--id", "control")
        text = add_member(add_member(base, "victim"), "control")
        resign(m, with_version(m, text, v0 + 1))
        wait_version(m, v0 + 1)
        victim, control = watcher(m, "victim", 60), watcher(m, "control", 60)
        seen = {"victim": [], "control": []}
        import threading

        def pump(name, p):
            for line in p.stdout:
                seen[name].append(line)
        threads = [threading.Thread(target=pump, args=(n, p), daemon=True)
                   for n, p in (("victim", victim), ("control", control))]
        for t in threads:
            t.start()
        try:
            t1 = m.ctl(*SUBMIT, "--node", "hn.doit").json[0]["ticket"]
            m.wait_for(lambda: ticket_seen(seen["victim"], t1) and
                       ticket_seen(seen["control"], t1), "both watchers see %s" % t1, 30)
            rebinds = counters(m, "hn.doit", "intake").get("transport.rebinds", 0)
            resign(m, with_version(m, change(m, text, base), v0 + 2))
            wait_version(m, v0 + 2)
            t2 = m.ctl(*SUBMIT, "--node", "hn.doit").json[0]["ticket"]
            m.wait_for(lambda: ticket_seen(seen["control"], t2), "control sees %s" % t2, 30)
            t3 = m.ctl(*SUBMIT, "--node", "hn.doit").json[0]["ticket"]
            m.wait_for(lambda: ticket_seen(seen["control"], t3), "control sees %s" % t3, 30)
            check(not ticket_seen(seen["victim"], t2) and not ticket_seen(seen["victim"], t3),
                  "the cut-off member received no event published after the reload")
            c = counters(m, "hn.doit", "intake")
            check(c.get("transport.rebinds", 0) > rebinds, "intake dropped its connections")
            # The watcher reconnects on its own schedule (ZeroMQ's reconnect
            # interval, later on a loaded machine): wait for that attempt.
            m.wait_for(lambda: counters(m, "hn.doit", "intake").get("zap.refused", 0) >= 1,
                       "its reconnection refused by ZAP (counters: %s)" % c, 30)
            r = m.ctl("events", "--node", "hn.doit", "--service", "intake", as_="victim",
                      check_rc=False)
            check(r.returncode == 1, "a new connection of the member is refused: %s" % r.stdout)
        finally:
            for p in (victim, control):
                p.kill()
                p.wait()


def test_revoked_member_is_cut_from_the_live_stream():
    def revoke(m, text, base):
        show = m.ctl("registry", "show").json[0]
        kid = [x["key_id"] for x in show["members"] if x["id"] == "victim"][0]
        return text + "revoked_keys: [%s]\n" % kid
    cut_off(revoke)


def test_removed_member_is_cut_from_the_live_stream():
    cut_off(lambda m, text, base: add_member(base, "control"))


def test_restart_with_older_registry_is_refused():
    """A service that has accepted version v+1 refuses to start on a file of
    version v (a rollback could re-admit revoked keys): it exits with a line
    naming both versions and counts registry.refused meanwhile."""
    with Mesh(areas=("ba-dinh",)) as m:
        src = os.path.join(m.home, "etc", "registry.yaml")
        text = open(src).read()
        v0 = int(re.search(r"(?m)^version: (\d+)", text).group(1))
        resign(m, with_version(m, text, v0 + 1))
        wait_version(m, v0 + 1)
        m.kill("hn.doit", "intake")
        resign(m, with_version(m, text, v0))
        cfg = os.path.join(m.home, "etc", "hn.doit.intake.yaml")
        r = subprocess.run([os.path.join(BUILD, "cpmesh-intake"), "--config", cfg],
                           capture_output=True, text=True, env=m.env, timeout=60)
        out = r.stdout + r.stderr
        check(r.returncode != 0, "the service refuses to start: rc %d %s" % (r.returncode, out))
        check("older than version %d" % (v0 + 1) in out, "the reason is logged: %s" % out)
        # With the current registry again, it starts.
        resign(m, with_version(m, text, v0 + 1))
        m.start("hn.doit", "intake")


if __name__ == "__main__":
    run([test_idle_connection_flood_does_not_stop_peers,
         test_reader_that_never_reads_is_bounded,
         test_fetch_flood_does_not_starve_submissions,
         test_invented_instances_do_not_lock_out_others,
         test_revoked_member_is_cut_from_the_live_stream,
         test_removed_member_is_cut_from_the_live_stream,
         test_restart_with_older_registry_is_refused])
