#!/usr/bin/env python3
"""The signed registry: nodes pick up a newer version without a restart,
refuse an older one or a bad signature, and honour revocations."""
import os
import re
import subprocess
import time

from mesh import CTL, Mesh, check, run

SUBMIT = ["submit", "--channel", "web", "--business", "Shop", "--area", "ba-dinh",
          "--description", "a faulty kettle"]


def versions(m, home=None):
    r = m.ctl(*(["--home", home] if home else []), "health", check_rc=False)
    return {(h["node"], h["service"]): h.get("registry_version") for h in r.json if "node" in h}


def client_home(m):
    """A second home for cpmctl holding a copy of the current, good registry:
    cpmctl itself refuses a badly signed registry file, as nodes do."""
    home = os.path.join(m.home, "client")
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(m.home, "registry.signed"), "rb") as f:
        data = f.read()
    with open(os.path.join(home, "registry.signed"), "wb") as f:
        f.write(data)
    if not os.path.exists(os.path.join(home, "keys")):
        os.symlink(os.path.join(m.home, "keys"), os.path.join(home, "keys"))
        with open(os.path.join(home, "identity"), "w") as f:
            f.write("operator.hn.doit\n")
    return home


def resign(m, source, out=None, root="root"):
    r = m.ctl("registry", "create", "--source", source, "--root-key",
              os.path.join(m.home, "keys", root + ".secret"), "--out",
              out or os.path.join(m.home, "registry.signed"), check_rc=False)
    return r


def with_version(m, text, version):
    src = os.path.join(m.home, "etc", "registry-%d.yaml" % version)
    with open(src, "w") as f:
        f.write(re.sub(r"(?m)^version: \d+", "version: %d" % version, text))
    return src


def add_operator(text, name):
    return text + """  - id: %s
    agency: hn.doit
    role: operator
    name: "Second hotline operator"
    public_key: ../keys/%s.public
    may_send: [submit_complaint@intake, "health_query@*"]
""" % (name, name)


def wait_version(m, v):
    m.wait_for(lambda: set(versions(m).values()) == {v}, "every service on version %d" % v, 10)


def test_newer_registry_is_picked_up_without_restart():
    with Mesh() as m:
        src = os.path.join(m.home, "etc", "registry.yaml")
        text = open(src).read()
        v0 = int(re.search(r"(?m)^version: (\d+)", text).group(1))
        m.ctl("keygen", "--id", "operator2")
        r = m.ctl("--timeout", "2000", *SUBMIT, as_="operator2", check_rc=False)
        check(r.returncode == 1 and r.json[0]["code"] == 403,
              "an unregistered member is refused at the handshake: %s" % r.stdout)
        text2 = add_operator(text, "operator2")
        check(resign(m, with_version(m, text2, v0 + 1)).returncode == 0, "signed v+1")
        wait_version(m, v0 + 1)
        r = m.ctl(*SUBMIT, as_="operator2")
        check(r.json[0]["ok"], "operator2 may submit after the reload")
        # Older version: refused, services stay on v+1 and count it.
        before = sum(h["counters"].get("registry.refused", 0) for h in m.health().values())
        check(resign(m, with_version(m, text, v0)).returncode == 0, "signed v")
        time.sleep(2.5)
        check(set(versions(m).values()) == {v0 + 1}, "older registry refused")
        after = sum(h["counters"].get("registry.refused", 0) for h in m.health().values())
        check(after >= before + len(versions(m)), "registry.refused counted by every service")
        r = m.ctl(*SUBMIT, as_="operator2")
        check(r.json[0]["ok"], "still admitted after the older registry was refused")


def test_bad_signature_is_refused_and_revocation_bites():
    with Mesh() as m:
        src = os.path.join(m.home, "etc", "registry.yaml")
        text = add_operator(open(src).read(), "operator3")
        v0 = int(re.search(r"(?m)^version: (\d+)", text).group(1))
        m.ctl("keygen", "--id", "operator3")
        m.ctl("keygen", "--id", "rogue-root")
        good = client_home(m)
        r = resign(m, with_version(m, text, v0 + 5), root="rogue-root")
        check(r.returncode == 0, "signing with another key works on its own")
        time.sleep(2.5)
        vs = versions(m, home=good)
        check(len(vs) == 10 and set(vs.values()) == {v0},
              "a registry signed by another root is refused: %s" % vs)
        v = m.ctl("registry", "verify", check_rc=False)
        check(v.returncode == 1 and "signature" in (v.stdout + v.stderr),
              "cpmctl registry verify says the signature is bad")
        s = m.ctl("status", "DOIT-00000001", check_rc=False)
        check(s.returncode == 1 and s.json[0]["field"] == "registry",
              "cpmctl refuses the bad registry too, naming it: %s" % s.stdout)
        # A good v+6 admits operator3; v+7 revokes its key.
        resign(m, with_version(m, text, v0 + 6))
        wait_version(m, v0 + 6)
        check(m.ctl(*SUBMIT, as_="operator3").json[0]["ok"], "operator3 admitted")
        key_id = m.ctl("registry", "show").json[0]
        kid = [x["key_id"] for x in key_id["members"] if x["id"] == "operator3"][0]
        resign(m, with_version(m, text + "revoked_keys: [%s]\n" % kid, v0 + 7))
        wait_version(m, v0 + 7)
        # Revocation reaches the transport: ZAP refuses the handshake.
        r = m.ctl(*SUBMIT, as_="operator3", check_rc=False)
        check(r.returncode == 1 and r.json[0]["code"] == 403 and "handshake" in r.stdout,
              "revoked key refused: %s" % r.stdout)
        h = m.health("hn.doit")[("hn.doit", "intake")]
        check(h["counters"].get("zap.refused", 0) >= 1, "zap.refused counted")


if __name__ == "__main__":
    run([test_newer_registry_is_picked_up_without_restart,
         test_bad_signature_is_refused_and_revocation_bites])
