#!/usr/bin/env python3
"""The coordinators' dashboard through a real mesh (Mesh(gateway=True,
monitor=True)): login with a grant from `cpmctl web grant`, the grant used
once, expiry, CSRF refusal, a complaint filed by cpmctl appearing in the live
view (server-sent events read with urllib), an officer of another agency
getting 404 for a case, the gateway's own grant-less questions answered only
as the gateway (routing refuses a forged on_behalf), and headless Chromium
drawing the overview (map and charts) with a session cookie."""
import http.client
import http.server
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse

import traceback
from mesh import Mesh, check, run
from test_monitor import png_pixels

COORD = "coordinator.hn.doit"
OFFICER_HK = "officer.hn.d.hoan-kiem"
OFFICER_BD = "officer.hn.d.ba-dinh"


def conn(m):
    u = urllib.parse.urlparse(m.http_url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def req(m, method, path, body=None, cookie=None, origin=True, headers=None):
    c = conn(m)
    h = dict(headers or {})
    if cookie:
        h["Cookie"] = "cpm_session=" + cookie
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
        body = urllib.parse.urlencode(body)
    if origin:
        h["Origin"] = m.http_url
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read().decode("utf-8", "replace")
    out = (r.status, dict((k.lower(), v) for k, v in r.getheaders()), data)
    c.close()
    return out


def grant(m, who, hours=None):
    args = ["web", "grant", "--gateway", "hn.gw"] + (["--hours", hours] if hours else [])
    return m.ctl(*args, as_=who).json[0]["token"]


def login(m, token):
    st, h, body = req(m, "POST", "/login", {"token": token})
    check(st == 303, "login answers 303: %d %s" % (st, body))
    cookie = h["set-cookie"]
    for attr in ("HttpOnly", "SameSite=Strict", "Path=/"):
        check(attr in cookie, "cookie has %s: %s" % (attr, cookie))
    return cookie.split(";")[0].split("=", 1)[1]


def csrf_of(page):
    i = page.index('name="csrf" value="') + len('name="csrf" value="')
    return page[i:i + 64]


def submit(m, area="hoan-kiem"):
    return m.ctl("submit", "--channel", "web", "--business", "Pho 24", "--area", area,
                 "--category", "food_safety", "--description", "spoiled food",
                 "--phone", "0912 345 678").json[0]["ticket"]


def live_until(m, cookie, ticket):
    """Read /dash/events until an event names ticket."""
    c = conn(m)
    c.request("GET", "/dash/events", headers={"Cookie": "cpm_session=" + cookie})
    r = c.getresponse()
    check(r.status == 200 and r.getheader("Content-Type") == "text/event-stream",
          "event stream: %d" % r.status)
    seen = []
    while True:
        line = r.fp.readline().decode()
        check(line != "", "the stream ended before %s came (saw %d events)" % (ticket, len(seen)))
        if line.startswith("data: "):
            seen.append(line)
            if ticket in line:
                c.close()
                check("0912" not in line, "no contact in the live view")
                return line


def test_dashboard():
    with Mesh(areas=("hoan-kiem", "ba-dinh"), gateway=True, monitor=True) as m:
        m.wait_up("hn.gw", "gateway")
        # every dashboard page needs a session
        st, h, _ = req(m, "GET", "/dash")
        check(st == 303 and h["location"].startswith("/login"), "no session: to /login (%d)" % st)
        st, _, _ = req(m, "GET", "/dash/events")
        check(st == 401, "no session: the event stream is 401 (%d)" % st)

        token = grant(m, COORD)
        # a login without Origin (a cross-site form would have another) is refused
        st, _, _ = req(m, "POST", "/login", {"token": token}, origin=False)
        check(st == 403, "login without Origin refused: %d" % st)
        st, _, _ = req(m, "POST", "/login", {"token": token},
                       headers={"Origin": "http://evil.example"}, origin=False)
        check(st == 403, "login from another origin refused: %d" % st)
        coord = login(m, token)
        st, _, body = req(m, "POST", "/login", {"token": token})
        check(st == 403 and "used before" in body, "a grant logs in once: %d %s" % (st, body))
        st, _, body = req(m, "POST", "/login", {"token": token[:-8] + "AAAAAAAA"})
        check(st in (400, 403), "a forged token is refused: %d" % st)

        # a complaint filed while the live view is open appears in it
        t = submit(m)
        ev = live_until(m, coord, t)
        print("  live:", ev.strip()[:120])
        m.wait_for(lambda: m.status(t)["state"] == "assigned", "assignment of " + t)

        st, _, page = req(m, "GET", "/dash/case/" + t, cookie=coord)
        check(st == 200 and t in page and "assigned" in page, "coordinator sees the case: %d" % st)
        check("0912" not in page, "no contact on the case page")
        st, _, page = req(m, "GET", "/dash/cases?state=assigned&area=hoan-kiem", cookie=coord)
        check(st == 200 and t in page, "the case is in the filtered list: %d" % st)
        st, _, page = req(m, "GET", "/dash/cases?state=bogus", cookie=coord)
        check(st == 400 and "state" in page, "bad state filter names the field: %d" % st)

        # an officer of another agency: 404 for that case, not the case
        bd = login(m, grant(m, OFFICER_BD))
        st, _, page = req(m, "GET", "/dash/case/" + t, cookie=bd)
        check(st == 404 and "Pho" not in page and "food_safety" not in page,
              "officer of ba-dinh gets 404: %d" % st)
        st, _, page = req(m, "GET", "/dash/cases", cookie=bd)
        check(st == 200 and t not in page, "nor in the officer's list")
        hk = login(m, grant(m, OFFICER_HK))
        st, _, page = req(m, "GET", "/dash/case/" + t, cookie=hk)
        check(st == 200 and t in page, "officer of hoan-kiem sees it: %d" % st)

        # CSRF: logout without the token or from another origin is refused
        st, _, page = req(m, "GET", "/dash", cookie=hk)
        check(st == 200, "overview: %d" % st)
        csrf = csrf_of(page)
        st, _, _ = req(m, "POST", "/logout", {"csrf": "0" * 64}, cookie=hk)
        check(st == 403, "logout with a wrong csrf token refused: %d" % st)
        st, _, _ = req(m, "POST", "/logout", {"csrf": csrf}, cookie=hk, origin=False,
                       headers={"Origin": "http://evil.example"})
        check(st == 403, "logout from another origin refused: %d" % st)
        st, _, _ = req(m, "GET", "/dash", cookie=hk)
        check(st == 200, "still logged in after the refused forgeries")
        st, h, _ = req(m, "POST", "/logout", {"csrf": csrf}, cookie=hk)
        check(st == 303, "logout: %d" % st)
        st, h, _ = req(m, "GET", "/dash", cookie=hk)
        check(st == 303, "logged out: %d" % st)

        # expiry: a grant of a few seconds; the session ends with it
        short = login(m, grant(m, COORD, hours="0.001"))
        m.wait_for(lambda: req(m, "GET", "/dash/cases", cookie=short)[0] == 303,
                   "the session to end with its grant", seconds=60)
        st, h, _ = req(m, "GET", "/dash", cookie=short)
        check(st == 303, "expired session stays out: %d" % st)

        health = m.health("hn.gw")[("hn.gw", "gateway")]["counters"]
        check(health.get("web.login", 0) >= 4 and health.get("web.login_refused", 0) >= 3
              and health.get("web.csrf_refused", 0) >= 3, "counted: %s" % health)

        login_while_the_overview_waits(m, coord)
        screenshot(m, coord)


def login_while_the_overview_waits(m, cookie):
    """A login needs only the registry: it is answered while another
    session's overview waits on a stopped routing (each of its calls times
    out after 5 s), instead of queueing behind the web side's calls."""
    token = grant(m, COORD)
    routing = m.pids()[("hn.doit", "routing")]
    os.kill(routing, signal.SIGSTOP)
    try:
        slow = threading.Thread(target=lambda: req(m, "GET", "/dash", cookie=cookie), daemon=True)
        slow.start()
        time.sleep(1)  # the overview's first call to routing is in flight by now
        t0 = time.monotonic()
        login(m, token)
        took = time.monotonic() - t0
        check(slow.is_alive() and took < 2.5,  # blocked, it would wait out a call: 4 s here
              "login answered in %.1f s, the overview still waiting: %s" % (took, slow.is_alive()))
    finally:
        os.kill(routing, signal.SIGCONT)
    slow.join(120)


def cookie_forwarder(m, cookie):
    class Fwd(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            st, h, body = req(m, "GET", self.path, cookie=cookie)
            data = body.encode()
            self.send_response(st)
            self.send_header("Content-Type", h.get("content-type", "text/plain"))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fwd)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def screenshot(m, cookie):
    st, _, page = req(m, "GET", "/dash", cookie=cookie)
    check(st == 200 and page.count("<path ") == 126, "126 units on the map: %d"
          % page.count("<path "))
    check("Open cases by state" in page and 'fill="#08519c"' in page, "charts, and a shaded unit")
    chromium = shutil.which("chromium")
    check(chromium, "chromium is installed (deploy/deps)")
    shot = os.path.join(m.home, "dash.png")
    prof = os.path.join(m.home, "chromium-dash")
    # Headless Chromium takes no cookie on its command line: it browses
    # through a small local forwarder that adds the session's cookie to each
    # request, as a browser that logged in would send it.
    proxy = cookie_forwarder(m, cookie)
    try:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", "--window-size=1100,1400",
                        "--user-data-dir=" + prof, "--screenshot=" + shot,
                        "http://127.0.0.1:%d/dash" % proxy.server_address[1]],
                       capture_output=True, timeout=120, check=False)
    finally:
        proxy.shutdown()
    check(os.path.exists(shot), "chromium made a screenshot")
    w, h, rows = png_pixels(shot)
    seen = {}
    for row in rows[::2]:
        for px in row[::2]:
            seen[px] = seen.get(px, 0) + 1
    total = sum(seen.values())
    white = seen.get((255, 255, 255), 0)
    check(white < total * 0.97, "not blank: %d of %d white" % (white, total))
    near = lambda rgb: sum(n for px, n in seen.items()
                           if all(abs(px[i] - rgb[i]) <= 6 for i in range(3)))
    check(near((0x08, 0x51, 0x9c)) > 20, "the darkest shade (and the header) is drawn")
    check(near((0xe0, 0xe0, 0xe0)) > 2000, "units without cases are grey on the map")
    check(near((0x31, 0x82, 0xbd)) > 20, "the charts' bars are drawn")


def test_dashboard_traced():
    try:
        test_dashboard()
    except Exception:
        traceback.print_exc()
        raise


if __name__ == "__main__":
    run([test_dashboard_traced])
