#!/usr/bin/env python3
"""The dashboard's live events (/dash/events) through a real mesh: each
stream shows only its session's scope (an officer of ba-dinh never receives
a hoan-kiem case's events, an operator gets 403), a session opens at most two
streams (429 for a third), and a stream ends when its session does (logout
ends every stream of that session at once)."""
import http.client
import threading
import urllib.parse

from mesh import Mesh, check, run
from test_dashboard import COORD, OFFICER_BD, OFFICER_HK, csrf_of, grant, login, req, submit

OPERATOR = "operator.hn.doit"


class Stream:
    """One /dash/events connection, read by a thread of its own."""

    def __init__(self, m, cookie):
        u = urllib.parse.urlparse(m.http_url)
        self.c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        self.c.request("GET", "/dash/events", headers={"Cookie": "cpm_session=" + cookie})
        self.r = self.c.getresponse()
        self.status = self.r.status
        self.lines = []
        self.ended = threading.Event()
        self.error = None
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()
        else:
            self.body = self.r.read().decode("utf-8", "replace")
            self.c.close()

    def _read(self):
        try:
            while True:
                line = self.r.fp.readline()
                if not line:
                    break
                self.lines.append(line.decode("utf-8", "replace"))
        except Exception as e:  # a timeout: the stream did not end
            self.error = e
            return
        self.ended.set()

    def data(self):
        return [l for l in list(self.lines) if l.startswith("data: ")]

    def close(self):
        self.c.close()


def test_live_scope_limits_and_logout():
    with Mesh(areas=("hoan-kiem", "ba-dinh"), gateway=True) as m:
        m.wait_up("hn.gw", "gateway")
        coord = login(m, grant(m, COORD))
        bd = login(m, grant(m, OFFICER_BD))
        hk = login(m, grant(m, OFFICER_HK))
        op = login(m, grant(m, OPERATOR))

        s = Stream(m, op)
        check(s.status == 403 and "operator" in s.body,
              "an operator gets no live events: %d %s" % (s.status, getattr(s, "body", "")))

        s_bd, s_hk = Stream(m, bd), Stream(m, hk)
        check(s_bd.status == 200 and s_hk.status == 200, "officers' streams open")
        t_hk = submit(m, "hoan-kiem")
        m.wait_for(lambda: any(t_hk in l for l in s_hk.data()),
                   "the hoan-kiem officer to see " + t_hk)
        # an event of ba-dinh after it: when the ba-dinh officer has it, the
        # stream has gone past every event of t_hk
        m.wait_for(lambda: m.status(t_hk)["state"] == "assigned", "assignment of " + t_hk)
        t_bd = submit(m, "ba-dinh")
        m.wait_for(lambda: any(t_bd in l for l in s_bd.data()),
                   "the ba-dinh officer to see " + t_bd)
        check(not any(t_hk in l for l in s_bd.data()),
              "the ba-dinh officer got no event of %s: %s" % (t_hk, s_bd.data()))
        check(all('"agency":"hn.d.ba-dinh"' in l for l in s_bd.data()),
              "only ba-dinh's events: %s" % s_bd.data())
        s_bd.close(), s_hk.close()

        # two streams per session; a third is 429
        a, b = Stream(m, coord), Stream(m, coord)
        check(a.status == 200 and b.status == 200, "two streams: %d %d" % (a.status, b.status))
        c = Stream(m, coord)
        check(c.status == 429 and "2 event streams" in c.body, "a third is 429: %d" % c.status)
        m.wait_for(lambda: any(t_hk in l for l in a.data()), "the coordinator to see " + t_hk)
        check(any(t_bd in l for l in a.data()), "the coordinator sees every case")

        # logout ends both streams (keep-alives no longer hold them open)
        st, _, page = req(m, "GET", "/dash", cookie=coord)
        check(st == 200, "overview: %d" % st)
        st, _, _ = req(m, "POST", "/logout", {"csrf": csrf_of(page)}, cookie=coord)
        check(st == 303, "logout: %d" % st)
        for x in (a, b):
            x.ended.wait(90)
            check(x.ended.is_set(), "the stream ended with the session (%s)" % x.error)
        health = m.health("hn.gw")[("hn.gw", "gateway")]["counters"]
        check(health.get("web.stream_refused", 0) >= 2, "refusals counted: %s" % health)


if __name__ == "__main__":
    run([test_live_scope_limits_and_logout])
