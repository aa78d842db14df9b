#!/usr/bin/env python3
"""The routing rules are reloaded without a restart when their file changes:
a new version is taken (rules.loaded) and recorded with every decision it
makes; a broken file or one that does not raise the version is refused
(rules.refused) and the last good rules keep routing."""
import os
import re

from mesh import Mesh, check, run, write_atomically
from test_reorg import counter, take_rules

PRICING = ["submit", "--channel", "web", "--business", "Shop", "--area", "ba-dinh",
           "--category", "pricing", "--description", "price tag differs from the till"]


def submit_pricing(m):
    ticket = m.ctl(*PRICING).json[0]["ticket"]
    m.wait_for(lambda: m.status(ticket).get("rule"), "routing of " + ticket)
    return m.status(ticket)


def test_rules_reload_and_refuse():
    with Mesh() as m:
        path = os.path.join(m.home, "etc", "routing.yaml")
        text = open(path).read()
        v0 = int(re.search(r"(?m)^version: (\d+)", text).group(1))
        s = submit_pricing(m)
        check(s["agency"] == "hn.qltt" and s["rules_version"] == str(v0),
              "before: pricing -> hn.qltt under version %d: %s" % (v0, s))

        # A changed rule under a higher version: taken by routing and every intake.
        new = re.sub(r'(?m)^version: \d+', "version: %d" % (v0 + 1), text)
        new = new.replace('category: pricing\n    agency: "hn.qltt"',
                          'category: pricing\n    agency: "hn.doit"')
        check(new.count('agency: "hn.doit"') > text.count('agency: "hn.doit"'), "rule edited")
        take_rules(m, lambda: write_atomically(path, new))
        s = submit_pricing(m)
        check(s["agency"] == "hn.doit" and s["rule"] == "R04-pricing" and
              s["rules_version"] == str(v0 + 1),
              "after: pricing -> hn.doit under version %d: %s" % (v0 + 1, s))

        # A broken file (written in place, as an editor may): refused, counted.
        refused = counter(m, "routing", "rules.refused")
        with open(path, "w") as f:
            f.write(new.replace("rules:\n", "rules: [\n", 1))
        m.wait_for(lambda: counter(m, "routing", "rules.refused") > refused,
                   "routing refuses the broken file")
        s = submit_pricing(m)
        check(s["agency"] == "hn.doit" and s["rules_version"] == str(v0 + 1),
              "a broken file leaves version %d in force: %s" % (v0 + 1, s))

        # A valid change that does not raise the version: refused too, since
        # decisions would record one version for two different rule sets.
        refused = counter(m, "routing", "rules.refused")
        write_atomically(path, new.replace('category: pricing\n    agency: "hn.doit"',
                                           'category: pricing\n    agency: "hn.qltt"'))
        m.wait_for(lambda: counter(m, "routing", "rules.refused") > refused,
                   "routing refuses a change under the same version")
        s = submit_pricing(m)
        check(s["agency"] == "hn.doit" and s["rules_version"] == str(v0 + 1),
              "a same-version change leaves version %d in force: %s" % (v0 + 1, s))
        log = open(os.path.join(m.home, "logs", [f for f in os.listdir(
            os.path.join(m.home, "logs")) if f.endswith(".routing.log")][0])).read()
        check("version %d loaded" % (v0 + 1) in log and "refused" in log,
              "the log names the loaded version and the refusals")


if __name__ == "__main__":
    run([test_rules_reload_and_refuse])
