"""A local mesh for integration tests: real processes, real sockets, real LMDB.

Starts ./deploy/local/up --detach in a temporary home on its own ports, and
offers cpmctl (JSON), SIGKILL and restart of single services, and teardown.
Only the Python standard library is used.
"""
import collections
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("CPM_BUILD", os.path.join(ROOT, "build"))
CTL = os.path.join(BUILD, "cpmctl")

# What deploy/hanoi/routing.yaml says, restated independently so that the
# tests notice when routing disagrees: category -> agency ("@area" = the
# business's area office, when that node runs; otherwise triage).
EXPECTED_ROUTE = {
    "food_safety": "@area", "counterfeit_goods": "hn.qltt", "pricing": "hn.qltt",
    "ecommerce": "hn.doit", "telecom": "hn.doic", "advertising": "hn.doic",
    "utilities": "hn.doit", "real_estate": "hn.doc", "health_pharma": "hn.doh",
    "transport": "hn.dot", "finance_insurance": "hn.doit", "education_training": "@area",
    "tourism_services": "@area", "contracts_warranty": "@area", "other": "hn.doit",
    "": "hn.doit",
}


# The test clock (common/mesh/cpm_clock.h).
CLOCK_ENV = "CPM_CLOCK_OFFSET_FILE"
CLOCK_REREAD_MS = 100


class Failure(Exception):
    pass


PORT_LOCKS = os.path.join(tempfile.gettempdir(), "cpmesh-port-locks")


def free_base_port(span):
    """A base port below Linux's ephemeral range (32768+) whose span ports are
    all free now, so that outgoing connections do not collide with ours, and
    (base, locks): every 10-port block of the range is reserved by an flock
    on a file under PORT_LOCKS, held until release_ports (or the process
    ends), so that meshes started concurrently by other test processes on
    this machine never pick the same ports between the check and the bind."""
    import fcntl
    import socket
    os.makedirs(PORT_LOCKS, exist_ok=True)
    for _ in range(200):
        base = random.randrange(10000, 32000 - span, 10)
        locks = []
        try:
            for block in range(base, base + span, 10):
                fd = os.open(os.path.join(PORT_LOCKS, "%d.lock" % block),
                             os.O_CREAT | os.O_RDWR, 0o600)
                locks.append(fd)
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            for port in range(base, base + span):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base, locks
        except OSError:
            release_ports(locks)
            continue
    raise Failure("no free port range")


def release_ports(locks):
    for fd in locks:
        os.close(fd)  # closing drops the flock
    del locks[:]


def check(cond, what):
    if not cond:
        raise Failure(what)


def write_atomically(path, text):
    """Replace the file at path with text in one rename: a service that
    watches it never reads half of it."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


class Mesh:
    """clock_at (Unix ms): start every process of the mesh, and every cpmctl,
    with one shared clock offset file (CPM_CLOCK_OFFSET_FILE) so that their
    "now" is clock_at; advance() moves it forward for all of them at once."""

    def __init__(self, areas=("hoan-kiem", "ba-dinh", "cau-giay"), base_port=None,
                 clock_at=None, exchange=False, monitor=False, gateway=False, hotspot=False):
        self.home = tempfile.mkdtemp(prefix="cpmesh-it-")
        self.exchange = exchange  # also start every node's data-sharing exchange
        self.monitor = monitor  # also start the city's monitor (effectiveness reports)
        self.hotspot = hotspot  # also start the city's hotspot detector (ports: the gateway's block)
        self.gateway = gateway  # also start the web gateway (node hn.gw, role gateway)
        self.areas = list(areas)
        self.fixed_port = base_port
        self.port_locks = []
        self._pick_ports()
        self.nodes = ["hn.doit", "hn.qltt"] + ["hn.d." + d for d in self.areas]
        self.env = dict(os.environ, CPMESH_HOME=self.home)
        # The tests run the services' own delivery linger and loop spin and
        # up's default store journal, whatever an A/B benchmark exported for
        # deploy/local/up.
        self.env.pop("CPMESH_DELIVERY_LINGER_MS", None)
        self.env.pop("CPMESH_STORE_JOURNAL", None)
        self.env.pop("CPMESH_LOOP_SPIN_US", None)
        self.procs = {}  # (node, service) -> Popen of a service start() started
        self.killed = set()  # (node, service) kill() ended and start() did not start again
        self.prefix = []  # e.g. ["ip", "netns", "exec", NS]: where cpmctl runs
        self.clock_file = None
        if clock_at is not None:
            self.clock_file = os.path.join(self.home, "clock-offset")
            self.clock_offset_ms = int(clock_at - time.time() * 1000)
            self._write_clock()
            self.env[CLOCK_ENV] = self.clock_file

    def __enter__(self):
        self.up()
        return self

    def __exit__(self, *exc):
        try:
            self.report_ended()
        except Exception as e:  # noqa: BLE001 -- a report must not keep the mesh running
            print("  (could not tell which services ended: %r)" % e, file=sys.stderr)
        self.down()
        release_ports(self.port_locks)
        if exc[0] is None:
            shutil.rmtree(self.home, ignore_errors=True)
        else:
            print("  (mesh home kept for inspection: %s)" % self.home, file=sys.stderr)

    def _pick_ports(self):
        release_ports(self.port_locks)
        if self.fixed_port:
            self.base_port = self.fixed_port
        else:
            self.base_port, self.port_locks = free_base_port(10 * (3 + len(self.areas)))

    def up(self):
        # A port taken by a process outside this harness between the check
        # and the bind makes a service exit at start: try other ports.
        for attempt in range(3):
            r = subprocess.run([os.path.join(ROOT, "deploy/local/up"), "--home", self.home,
                                "--base-port", str(self.base_port), "--areas",
                                " ".join(self.areas), "--detach", "--no-build",
                                "--build-dir", BUILD]
                               + ([] if self.exchange else ["--no-exchange"])
                               + ([] if self.monitor else ["--no-monitor"])
                               + ([] if self.hotspot else ["--no-hotspot"])
                               + ([] if self.gateway else ["--no-gateway"]),
                               capture_output=True, text=True,
                               env=self.env)
            if r.returncode == 0:
                return
            if "Address already in use" not in r.stdout + r.stderr or self.fixed_port or attempt == 2:
                break
            print("  (ports %d+ taken meanwhile: starting the mesh on others)" % self.base_port,
                  file=sys.stderr)
            self.down()
            self._pick_ports()
        raise Failure("up failed: %s %s" % (r.stdout, r.stderr))

    @property
    def http_url(self):
        """The gateway's base URL (Mesh(gateway=True)), e.g. http://127.0.0.1:7155"""
        nodes = 2 + len(self.areas)
        return "http://127.0.0.1:%d" % (self.base_port + nodes * 10 + 5)

    def down(self):
        subprocess.run([os.path.join(ROOT, "deploy/local/down"), "--home", self.home],
                       capture_output=True, env=self.env)

    # -- the shared clock -------------------------------------------------------
    def _write_clock(self):
        tmp = self.clock_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % self.clock_offset_ms)
        os.replace(tmp, self.clock_file)  # never a half-written number

    def now_ms(self):
        """The mesh's "now" (what cpm_now_ms returns in its processes)."""
        return int(time.time() * 1000) + (self.clock_offset_ms if self.clock_file else 0)

    def advance(self, days=0, hours=0, ms=0):
        """Move every process's clock forward. Processes re-read the offset
        file at most CLOCK_REREAD_MS after it changes (cpm_clock.h), so any
        clock reading after that bound has passed sees the new time: the
        bound is waited out on the monotonic clock before returning."""
        check(self.clock_file, "advance() needs Mesh(clock_at=...)")
        self.clock_offset_ms += int(days * 86400000 + hours * 3600000 + ms)
        self._write_clock()
        end = time.monotonic() + 2 * CLOCK_REREAD_MS / 1000.0
        while time.monotonic() < end:
            time.sleep(end - time.monotonic())

    def advance_to(self, at_ms):
        check(at_ms >= self.now_ms(), "the shared clock only moves forward")
        self.advance(ms=at_ms - self.now_ms())

    # -- cpmctl ---------------------------------------------------------------
    def ctl(self, *args, check_rc=True, input=None, as_=None, timeout=120):
        cmd = self.prefix + [CTL, "--json"] + (["--as", as_] if as_ else []) + list(args)
        r = subprocess.run(cmd, capture_output=True, text=True, env=self.env, input=input,
                           timeout=timeout)
        if check_rc and r.returncode != 0:
            raise Failure("cpmctl %s failed (%d): %s %s" % (" ".join(args), r.returncode,
                                                             r.stdout, r.stderr))
        r.json = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
        return r

    def submit_file(self, complaints, node=None, check_rc=True):
        path = os.path.join(self.home, "batch-%d.jsonl" % random.randrange(1 << 30))
        with open(path, "w") as f:
            for c in complaints:
                f.write(json.dumps(c) + "\n")
        args = ["submit", "--file", path] + (["--node", node] if node else [])
        return self.ctl(*args, check_rc=check_rc)

    def status(self, ticket, as_="coordinator.hn.doit"):
        """The case as routing tells it. A ticket intake acknowledged may not
        have reached routing yet (404 "not known to routing (yet ..."): then
        a status whose every field is None, so that a wait_for condition on
        it is simply not met yet; any other failure raises."""
        # routing scopes status by who asks: a coordinator sees every case
        r = self.ctl("status", ticket, as_=as_, check_rc=False)
        if r.returncode != 0 and r.json and r.json[0].get("code") == 404 and \
                "(yet" in r.json[0].get("message", ""):
            return collections.defaultdict(lambda: None)
        if r.returncode != 0:
            raise Failure("cpmctl status %s failed (%d): %s %s" % (ticket, r.returncode,
                                                                  r.stdout, r.stderr))
        return r.json[0]

    def health(self, node=None):
        r = self.ctl("health", *(["--node", node] if node else []), check_rc=False)
        return {(h["node"], h["service"]): h for h in r.json}

    def events(self, node, service):
        return self.ctl("events", "--node", node, "--service", service).json

    # -- processes ------------------------------------------------------------
    def pids(self):
        out = {}
        with open(os.path.join(self.home, "run", "pids")) as f:
            for line in f:
                pid, node, svc = line.split()
                out[(node, svc)] = int(pid)
        return out

    def ours(self, pid, node, service):
        """pid still runs node/service of this mesh (a pid of a process that
        ended may be given to another, even to a service of another mesh)."""
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            return False
        cfg = os.path.join(self.home, "etc", "%s.%s.yaml" % (node, service)).encode()
        return bool(argv) and argv[0].endswith(b"cpmesh-" + service.encode()) and cfg in argv

    def report_ended(self):
        """Before the mesh stops: name every service that ended though this
        harness did not kill it (a test that stops one by other means sees it
        named too), with how it ended and its log's end, so that a service
        that crashed in a passing test still shows in the output."""
        try:
            listed = self.pids()
        except OSError:
            return
        for (node, service), pid in sorted(listed.items()):
            if (node, service) in self.killed or self.ours(pid, node, service):
                continue
            print("  NOTE %s/%s (pid %d) ended though the harness did not kill it (%s);"
                  " the end of its log:\n%s" % (node, service, pid,
                                                self.how_ended(node, service, pid, 0),
                                                self.log_tail(node, service, 12)), flush=True)

    def how_ended(self, node, service, pid, wait_s):
        """How a service the harness started ended (its Popen is kept), after
        waiting up to wait_s seconds for it to be reaped."""
        p = self.procs.get((node, service))
        if p is None or p.pid != pid:
            return "exit status unknown: not a process this harness started"
        try:
            rc = p.wait(timeout=wait_s) if wait_s else p.poll()
        except subprocess.TimeoutExpired:
            rc = None
        if rc is None:
            return "it still runs but is not recognisable as the service"
        return ("killed by signal %d" % -rc) if rc < 0 else ("exited with %d" % rc)

    def log_tail(self, node, service, lines=25):
        try:
            with open(os.path.join(self.home, "logs", "%s.%s.log" % (node, service)),
                      errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError as e:
            return "(no log: %s)" % e

    def ended_on_its_own(self, node, service, pid):
        """A service found gone when the test meant to kill it: that is a
        failure of the service (it crashed or exited), never to be passed
        over; say how it ended when it is our child, and its log's end."""
        return Failure("%s/%s (pid %d) had ended on its own before it was to be killed (%s);"
                       " the end of its log:\n%s" % (node, service, pid,
                                                     self.how_ended(node, service, pid, 5),
                                                     self.log_tail(node, service)))

    def kill(self, node, service, sig=signal.SIGKILL):
        pid = self.pids()[(node, service)]
        if not self.ours(pid, node, service):
            raise self.ended_on_its_own(node, service, pid)
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            raise self.ended_on_its_own(node, service, pid) from None
        self.killed.add((node, service))
        p = self.procs.get((node, service))
        for _ in range(100):
            if p is not None and p.pid == pid:
                if p.poll() is not None:  # reaped: every thread has ended
                    self.procs.pop((node, service), None)  # its pid may be another's now
                    return
                time.sleep(0.05)
                continue
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            # a killed child stays a zombie until reaped: check its state, and
            # that its other threads are gone too (a leader is a zombie while
            # they still exit, holding the sockets a restart binds again)
            try:
                with open("/proc/%d/stat" % pid) as f:
                    if (f.read().split()[2] == "Z" and
                            len(os.listdir("/proc/%d/task" % pid)) <= 1):
                        return
            except FileNotFoundError:
                return
            time.sleep(0.05)
        raise Failure("%s/%s did not die" % (node, service))

    def start(self, node, service, prefix=None):
        cfg = os.path.join(self.home, "etc", "%s.%s.yaml" % (node, service))
        log = open(os.path.join(self.home, "logs", "%s.%s.log" % (node, service)), "a")
        p = subprocess.Popen((self.prefix if prefix is None else prefix) +
                             [os.path.join(BUILD, "cpmesh-" + service), "--config", cfg],
                             stdout=log, stderr=log, env=self.env, start_new_session=True)
        # kept, so that its exit status can be told, and so that it is reaped
        # only here (a Popen dropped while its process runs is reaped by the
        # next Popen made anywhere, e.g. a submitting thread's cpmctl)
        self.procs[(node, service)] = p
        self.killed.discard((node, service))
        lines = []
        with open(os.path.join(self.home, "run", "pids")) as f:
            for line in f:
                if line.split()[1:] != [node, service]:
                    lines.append(line)
        lines.append("%d %s %s\n" % (p.pid, node, service))
        with open(os.path.join(self.home, "run", "pids"), "w") as f:
            f.writelines(lines)
        self.wait_up(node, service)

    def wait_up(self, node, service, seconds=30):
        end = time.time() + seconds
        while time.time() < end:
            h = self.health(node)
            if (node, service) in h and h[(node, service)].get("up"):
                return
            time.sleep(0.1)
        raise Failure("%s/%s did not come up" % (node, service))

    def wait_for(self, cond, what, seconds=90):
        end = time.time() + seconds
        while time.time() < end:
            if cond():
                return
            time.sleep(0.2)
        raise Failure("timed out waiting for " + what)

    def outbox_empty(self):
        """Every service up and every outbox empty, in two health sweeps in a
        row: one sweep asks the services one after another, so a receiver
        can answer before a record reaches it and its sender after it has
        recorded the ack (gathered for up to 50 ms)."""
        for _ in range(2):
            hs = self.health()
            if len(hs) < len(self.pids()):
                return False
            for h in hs.values():
                if not h.get("up"):
                    return False
                if any(s["outbox_depth"] for s in h.get("streams", [])):
                    return False
        return True

    def expected_agency(self, category, area):
        a = EXPECTED_ROUTE[category]
        if a == "@area":
            a = "hn.d." + area
        return a if a in self.nodes else "hn.doit"


def complaints(n, seed=1, areas=("hoan-kiem", "ba-dinh", "cau-giay", "dong-da", "ba-vi"),
               tag="c"):
    rnd = random.Random(seed)
    cats = sorted(EXPECTED_ROUTE)
    out = []
    for i in range(n):
        out.append({"channel": rnd.choice(["hotline", "web", "walk_in", "email", "social",
                                           "letter"]),
                    "business_name": "Business %d" % i,
                    "area": rnd.choice(areas),
                    "category": rnd.choice(cats),
                    "description": "Complaint number %d about a purchase" % i,
                    "consumer_phone": "0912 000 %03d" % (i % 1000),
                    "client_ref": "%s-%d-%d" % (tag, seed, i)})
    return out


def run(tests):
    """Run test functions, print one line each, exit non-zero on a failure."""
    failed = 0
    only = sys.argv[1:]
    for t in tests:
        if only and t.__name__ not in only:
            continue
        t0 = time.time()
        try:
            t()
            print("ok   %-45s %.1fs" % (t.__name__, time.time() - t0), flush=True)
        except Exception as e:  # noqa: BLE001 - report every kind of failure
            failed += 1
            print("FAIL %-45s %s" % (t.__name__, e), flush=True)
    sys.exit(1 if failed else 0)
