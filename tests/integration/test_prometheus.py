#!/usr/bin/env python3
"""A real Prometheus (the Debian package) scrapes the gateway's /metrics of a
running mesh: cpmesh_up of intake and a counter that a submitted complaint
raised are read back through Prometheus's own HTTP API, and the shipped alert
rules load (promtool check rules, then GET /api/v1/rules). Prometheus runs
with a private config and data folder on a loopback port of the mesh's own
reserved range, and is stopped afterwards in every case."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from mesh import ROOT, Mesh, check, complaints, run

# The gateway asks every service's health once a second here (metrics_every_s,
# written by up from this variable; 10 s by default), so rounds come quickly.
os.environ["CPMESH_METRICS_EVERY_S"] = "1"

RULES = os.path.join(ROOT, "deploy", "prometheus", "alerts.yml")
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def get(url, headers=None, timeout=10):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.headers, r.read().decode()


def poll(cond, what, seconds=120):
    """cond() until it returns a true value (returned), with a generous
    deadline: the machine is shared."""
    end = time.time() + seconds
    last = None
    while time.time() < end:
        try:
            v = cond()
            if v:
                return v
        except (OSError, ValueError, KeyError) as e:
            last = e
        time.sleep(0.5)
    raise AssertionError("timed out waiting for %s (%s)" % (what, last))


class Prometheus:
    """prometheus --config.file ... on 127.0.0.1:port with its own data
    folder; scrapes target (host:port) every second."""

    def __init__(self, target, port):
        self.dir = tempfile.mkdtemp(prefix="cpmesh-prom-")
        self.port = port
        self.url = "http://127.0.0.1:%d" % port
        shutil.copy(RULES, os.path.join(self.dir, "alerts.yml"))
        with open(os.path.join(self.dir, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "rule_files:\n  - alerts.yml\n"
                    "scrape_configs:\n  - job_name: cpmesh\n    metrics_path: /metrics\n"
                    "    static_configs:\n      - targets: [\"%s\"]\n" % target)
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w")
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + os.path.join(self.dir, "prometheus.yml"),
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdout=self.log, stderr=self.log, start_new_session=True)
        try:
            poll(lambda: self.proc.poll() is None and get(self.url + "/-/ready")[0] == 200,
                 "prometheus ready", 60)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        if exc[0] is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print("  (prometheus folder kept: %s)" % self.dir)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self.log.close()

    def api(self, path, **params):
        url = self.url + "/api/v1/" + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        body = json.loads(get(url)[2])
        check(body.get("status") == "success", "prometheus answers %s: %s" % (path, body))
        return body["data"]

    def value(self, query):
        """The value of an instant query with one series, or None."""
        r = self.api("query", query=query)["result"]
        check(len(r) <= 1, "one series for %s: %s" % (query, r))
        return float(r[0]["value"][1]) if r else None


def prom_port(m):
    # The gateway listens on base + 10 * nodes + 5; the rest of that block is
    # reserved for this mesh by the harness's port locks and unused.
    return m.base_port + 10 * len(m.nodes) + 7


def test_prometheus_scrapes_the_gateway():
    with Mesh(gateway=True) as m:
        target = m.http_url[len("http://"):]
        intake_up = 'cpmesh_up{job="cpmesh",node="hn.doit",service="intake"}'
        applied = ('cpmesh_delivery_records_applied_total'
                   '{job="cpmesh",node="hn.doit",service="routing"}')
        with Prometheus(target, prom_port(m)) as p:
            poll(lambda: p.value('up{job="cpmesh"}') == 1, "prometheus scrapes the gateway")
            poll(lambda: p.value(intake_up) == 1, "cpmesh_up of hn.doit/intake is 1")
            before = p.value(applied) or 0
            r = m.submit_file(complaints(3, seed=11, tag="prom"), node="hn.doit")
            check(all(j.get("ok") for j in r.json), "complaints recorded: %s" % r.stdout)
            # intake delivers them to routing, which applies them: the counter
            # reaches Prometheus after the gateway's next health round
            poll(lambda: (p.value(applied) or 0) >= before + 3,
                 "routing's delivery.records_applied raised by 3 in Prometheus")
            check(p.value('cpmesh_store_used_bytes{node="hn.doit",service="routing"}') > 0,
                  "the store's fill reaches Prometheus")
            # the loop thread's time: on a core (it has worked since its start),
            # and waiting for one (a count, 0 or more, where the kernel keeps it)
            loop = '{job="cpmesh",node="hn.doit",service="intake"}'
            poll(lambda: (p.value("cpmesh_loop_cpu_ms_total" + loop) or 0) > 0,
                 "intake's loop.cpu_ms in Prometheus")
            check(p.value("cpmesh_loop_wait_ms_total" + loop) is not None,
                  "intake's loop.wait_ms in Prometheus")
            # the alert rules load in this Prometheus
            groups = p.api("rules")["groups"]
            rules = [r for g in groups for r in g["rules"]]
            with open(RULES) as f:
                shipped = sum(1 for line in f if line.strip().startswith("- alert:"))
            check(shipped >= 8 and len(rules) == shipped,
                  "all %d shipped rules loaded: %d" % (shipped, len(rules)))
            check(all(r["health"] == "ok" for r in rules),
                  "every rule evaluates: %s" % [(r["name"], r.get("lastError")) for r in rules
                                                if r["health"] != "ok"])
            check(not any(r["state"] == "firing" for r in rules if r["name"] in
                          ("CpmeshServiceDown", "CpmeshStreamHalted", "CpmeshStoreFull",
                           "CpmeshGatewayDown")),
                  "a healthy mesh fires no critical alert")


def test_rules_check():
    r = subprocess.run([PROMTOOL, "check", "rules", RULES], capture_output=True, text=True)
    check(r.returncode == 0, "promtool check rules: %s %s" % (r.stdout, r.stderr))
    check(subprocess.run([PROMTOOL, "check", "config", os.path.join(os.path.dirname(RULES),
                                                                     "prometheus.yml")],
                         capture_output=True).returncode == 0, "promtool check config")
    # the alarms fire on the series that mean them, and not on a healthy one
    r = subprocess.run([PROMTOOL, "test", "rules", "alerts_test.yml"], capture_output=True,
                       text=True, cwd=os.path.dirname(RULES))
    check(r.returncode == 0, "promtool test rules: %s %s" % (r.stdout, r.stderr))


def test_metrics_format_and_access():
    with Mesh(gateway=True) as m:
        url = m.http_url + "/metrics"
        # a stream exists once a record went out on it
        m.submit_file(complaints(1, seed=12, tag="fmt"), node="hn.doit")
        # every service answers within a round or two (a busy machine: more)
        want = ['cpmesh_up{node="%s",service="%s"} 1' % ns for ns in
                (("hn.doit", "intake"), ("hn.doit", "routing"), ("hn.qltt", "inspection"),
                 ("hn.gw", "gateway"))]
        poll(lambda: (lambda b: all(w in b for w in want) and
                      'cpmesh_outbox_depth{node="hn.doit",service="intake",stream=' in b)(
                          get(url)[2]),
             "/metrics has intake, routing, inspection and the gateway up, with intake's stream")
        status, headers, body = get(url)
        check(headers["Content-Type"].startswith("text/plain; version=0.0.4"),
              "content type of the text format: %s" % headers["Content-Type"])
        families = [l.split()[2] for l in body.splitlines() if l.startswith("# TYPE ")]
        check(len(families) == len(set(families)), "one TYPE line per family")
        # every service of the registry is there, with its labels
        for node, svc in (("hn.doit", "routing"), ("hn.qltt", "inspection"),
                          ("hn.gw", "gateway")):
            check('cpmesh_up{node="%s",service="%s"} 1' % (node, svc) in body,
                  "%s/%s up in /metrics" % (node, svc))
        # a service that stops answering shows up 0 (and no stale figures)
        # while the others go on being collected; back, it shows up 1 again
        m.kill("hn.d.cau-giay", "inspection")
        down = 'cpmesh_up{node="hn.d.cau-giay",service="inspection"} 0\n'
        body = poll(lambda: (lambda b: down in b and b)(get(url)[2]), "inspection down")
        check('cpmesh_up{node="hn.doit",service="intake"} 1\n' in body, "the others stay up")
        check('cpmesh_event_head{node="hn.d.cau-giay",service="inspection"}' not in body,
              "no stale figures of the silent service")
        check('cpmesh_last_scrape_timestamp_seconds{node="hn.d.cau-giay",service="inspection"}'
              in body, "when it last answered")
        m.start("hn.d.cau-giay", "inspection")
        poll(lambda: 'cpmesh_up{node="hn.d.cau-giay",service="inspection"} 1\n' in get(url)[2],
             "inspection up again")
        # a proxy on this host forwarding an outside request is refused
        try:
            get(url, headers={"X-Forwarded-For": "203.0.113.9"})
            check(False, "a proxied request is refused")
        except urllib.error.HTTPError as e:
            check(e.code == 403, "403 through a proxy, not %d" % e.code)
        # measured: the time of one scrape of the local city
        t0 = time.perf_counter()
        for _ in range(20):
            get(url)
        print("  /metrics of the local city: %d bytes, %.1f ms per scrape"
              % (len(body), (time.perf_counter() - t0) / 20 * 1000))


def scrape_ts(body, node, service):
    key = 'cpmesh_last_scrape_timestamp_seconds{node="%s",service="%s"} ' % (node, service)
    for line in body.splitlines():
        if line.startswith(key):
            return float(line[len(key):])
    return None


def test_silent_service_does_not_stall_collection():
    """A service that stays silent for many rounds never has more than one
    health request queued towards it: the gateway's loop goes on (ZeroMQ
    would block it once eight requests wait on the link)."""
    with Mesh(gateway=True) as m:
        url = m.http_url + "/metrics"
        poll(lambda: 'cpmesh_up{node="hn.d.cau-giay",service="intake"} 1\n' in get(url)[2],
             "intake of cau-giay up")
        m.kill("hn.d.cau-giay", "intake")
        rounds = 0
        last = None
        while rounds < 10:  # ten rounds (of 1 s here) with the service silent
            ts = poll(lambda: (lambda t: t if t and t != last else None)(
                scrape_ts(get(url)[2], "hn.doit", "routing")), "a new health round")
            last = ts
            rounds += 1
        body = get(url)[2]
        check('cpmesh_up{node="hn.d.cau-giay",service="intake"} 0\n' in body, "still down")
        r = m.ctl("health", "--node", "hn.gw")
        check(r.json and r.json[0].get("up"), "the gateway's loop answers: %s" % r.stdout)


if __name__ == "__main__":
    run([test_rules_check, test_metrics_format_and_access, test_prometheus_scrapes_the_gateway,
         test_silent_service_does_not_stall_collection])
