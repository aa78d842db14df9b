#!/usr/bin/env python3
"""Files of a local mesh: deploy/local/up makes the home and every folder in it
private to the user (0700), secrets and configuration 0600, and `up --help`
prints a usage."""
import os
import shutil
import stat
import subprocess
import tempfile

from mesh import BUILD, ROOT, Mesh, check, run

UP = os.path.join(ROOT, "deploy", "local", "up")


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_up_makes_home_private():
    parent = tempfile.mkdtemp(prefix="cpmesh-files-")
    m = Mesh(areas=("hoan-kiem",))
    shutil.rmtree(m.home)
    # A home left world-readable by an older version, with an etc/ to match.
    m.home = os.path.join(parent, "home")
    m.env["CPMESH_HOME"] = m.home
    os.makedirs(os.path.join(m.home, "etc"))
    os.chmod(m.home, 0o755)
    os.chmod(os.path.join(m.home, "etc"), 0o755)
    # up's linger knob on the way (the harness drops it unless set here):
    # leading zeros are read as decimal, every service is given the value.
    m.env["CPMESH_DELIVERY_LINGER_MS"] = "007"
    try:
        m.up()
        etc = os.path.join(m.home, "etc")
        cfgs = [n for n in os.listdir(etc) if n.startswith("hn.") and
                n.endswith((".intake.yaml", ".routing.yaml", ".inspection.yaml"))]
        check(len(cfgs) >= 4, "the services' configurations: %s" % cfgs)
        for name in cfgs:
            with open(os.path.join(etc, name)) as f:
                text = f.read()
            check("\ndelivery_linger_ms: 7\n" in text, "%s has the linger" % name)
            check("\nstore_journal: 1\n" in text, "%s keeps a store journal" % name)
            check("\nflush_beside_next: 1\n" in text, "%s flushes beside the next group" % name)
        data = os.path.join(m.home, "data", "hn.doit", "intake")
        for name in ("journal.0", "journal.1", "journal.meta", "store.lock"):
            p = os.path.join(data, name)
            check(os.path.isfile(p) and mode(p) == 0o600, "intake's %s is there, mode 0600" % name)
        for d in ("", "etc", "logs", "keys", "data", "run"):
            p = os.path.join(m.home, d)
            check(mode(p) == 0o700, "%s is mode %o, not 0700" % (p, mode(p)))
        for d in ("etc", "logs", "keys"):
            for name in os.listdir(os.path.join(m.home, d)):
                p = os.path.join(m.home, d, name)
                if name.endswith(".public"):
                    continue
                check(mode(p) & 0o077 == 0, "%s is mode %o: group or others may read it"
                      % (p, mode(p)))
        check(m.health("hn.doit"), "the mesh serves from its private home")
    finally:
        m.down()
        shutil.rmtree(parent, ignore_errors=True)


def test_up_help_prints_usage():
    r = subprocess.run([UP, "--help"], capture_output=True, text=True)
    check(r.returncode == 0, "up --help exits 0, not %d" % r.returncode)
    check(r.stdout.startswith("Usage: ./deploy/local/up"), "usage first: %r" % r.stdout[:80])
    for opt in ("--demo", "--detach", "--home", "--base-port", "--areas", "--no-build",
                "--build-dir"):
        check(opt in r.stdout, "usage names %s" % opt)
    check("set -e" not in r.stdout and "#" not in r.stdout, "no line of the script's own code")
    r = subprocess.run([UP, "--no-such-option"], capture_output=True, text=True)
    check(r.returncode == 2, "an unknown option exits 2, not %d" % r.returncode)
    check("unknown option --no-such-option" in r.stderr and "Usage:" in r.stderr,
          "names the option and prints the usage: %r" % r.stderr[:200])


def up_refuses(var, bads, sentence):
    """up exits 2 for each bad value of var, naming it (sentence % value),
    and makes nothing."""
    parent = tempfile.mkdtemp(prefix="cpm-up-env-")
    try:
        home = os.path.join(parent, "home")
        for bad in bads:
            env = dict(os.environ, **{var: bad})
            r = subprocess.run([UP, "--home", home, "--no-build"], capture_output=True,
                               text=True, env=env)
            check(r.returncode == 2, "%s=%s exits 2, not %d: %s"
                  % (var, bad, r.returncode, r.stderr[-300:]))
            check(sentence % bad in r.stderr,
                  "names the variable and the value: %r" % r.stderr[-300:])
            check(not os.path.exists(home), "nothing made for %s" % bad)
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def test_up_refuses_a_bad_delivery_linger():
    up_refuses("CPMESH_DELIVERY_LINGER_MS", ("abc", "101", "-1", "1e3"),
               "CPMESH_DELIVERY_LINGER_MS must be 0 to 100 (ms), not '%s'")


def test_up_refuses_a_bad_store_journal():
    up_refuses("CPMESH_STORE_JOURNAL", ("2", "yes", "-1"),
               "CPMESH_STORE_JOURNAL must be 0 or 1, not '%s'")


def test_up_refuses_a_bad_flush_beside_next():
    up_refuses("CPMESH_FLUSH_BESIDE_NEXT", ("2", "on", "-1"),
               "CPMESH_FLUSH_BESIDE_NEXT must be 0 or 1, not '%s'")


def test_up_refuses_a_bad_loop_spin():
    up_refuses("CPMESH_LOOP_SPIN_US", ("abc", "1001", "-1", "99999999999999999999"),
               "CPMESH_LOOP_SPIN_US must be 0 to 1000 (us), not '%s'")


if __name__ == "__main__":
    run([test_up_makes_home_private, test_up_help_prints_usage,
         test_up_refuses_a_bad_delivery_linger, test_up_refuses_a_bad_store_journal,
         test_up_refuses_a_bad_loop_spin, test_up_refuses_a_bad_flush_beside_next])
