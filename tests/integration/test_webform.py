#!/usr/bin/env python3
"""The dashboard's complaint form through a real mesh (Mesh(gateway=True)):
a hotline operator logs in with a grant from `cpmctl web grant`, opens
/dash/complaint and posts it as a browser would (cookie, csrf field,
Origin); the ticket is shown, the complaint appears in the live view's
event stream, and intake filed it as the operator (the operator's own
client_ref space: cpmctl submitting the same form as the operator gets the
same ticket back). The same form twice gives one ticket; a post without
csrf or from another Origin is 403 and creates nothing; an officer (whose
member may not send submit_complaint@intake) gets 403 from the gateway and,
posting anyway, from intake (grant refused, counted); a field error is shown
next to its field with what was typed kept; headless Chromium draws the
form with the session."""
import base64
import mmap
import os
import re
import shutil
import subprocess

import traceback
from mesh import Mesh, check, run
from test_dashboard import (conn, cookie_forwarder, csrf_of, grant, live_until, login,
                            req)
from test_monitor import png_pixels

OPERATOR = "operator.hn.doit"
COORD = "coordinator.hn.doit"
OFFICER = "officer.hn.d.hoan-kiem"

FORM = {"channel": "hotline", "business_name": "Pho 24", "business_address": "1 Hang Bac",
        "location": "hoan-kiem", "category": "food_safety",
        "description": "spoiled food at lunch", "consumer_name": "Nguyen Van A",
        "consumer_phone": "0912 345 678", "consumer_email": "", "urgent": "1"}


def ref_of(page):
    return re.search(r'name="client_ref" value="([0-9a-f]{32})"', page).group(1)


def ticket_of(page):
    t = re.search(r'id="ticket">([^<]+)<', page)
    code = re.search(r'id="lookup">([^<]+)<', page)
    check(t and code, "the reply page shows ticket and lookup code: %s" % page[-600:])
    return t.group(1), code.group(1)


def ctl_submit(m, ref, form, as_=OPERATOR):
    """The same complaint sent by cpmctl as as_, with client_ref ref."""
    return m.ctl("submit", "--node", "hn.doit", "--channel", form["channel"], "--business",
                 form["business_name"], "--address", form["business_address"], "--location",
                 form["location"], "--category", form["category"], "--description",
                 form["description"], "--consumer-name", form["consumer_name"], "--phone",
                 form["consumer_phone"], "--urgent", "--ref", ref, as_=as_).json[0]


def stores_holding(m, blob):
    """The files of every service's data folder that contain blob."""
    found, n = [], 0
    for root, _, files in os.walk(os.path.join(m.home, "data")):
        for f in files:
            p = os.path.join(root, f)
            if os.path.getsize(p) == 0:
                continue
            n += 1
            with open(p, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                if mm.find(blob) >= 0:
                    found.append(p)
    check(n > 0, "data folders were searched")
    return found


def counter(m, node, service, name):
    return m.health(node)[(node, service)]["counters"].get(name, 0)


def test_webform():
    with Mesh(areas=("hoan-kiem", "ba-dinh"), gateway=True) as m:
        m.wait_up("hn.gw", "gateway")
        st, h, _ = req(m, "GET", "/dash/complaint")
        check(st == 303 and h["location"].startswith("/login"), "no session: to /login (%d)" % st)
        op_token = grant(m, OPERATOR)
        op = login(m, op_token)
        st, _, page = req(m, "GET", "/dash/complaint", cookie=op)
        check(st == 200 and 'action="/dash/complaint"' in page, "the form: %d" % st)
        check('value="food_safety"' in page, "categories from the deployment")
        csrf, ref = csrf_of(page), ref_of(page)
        st, _, page2 = req(m, "GET", "/dash/complaint", cookie=op)
        check(ref_of(page2) != ref, "each form shown has its own client_ref")

        # forgery: no csrf, a wrong csrf, another Origin, no Origin: 403, nothing filed
        body = dict(FORM, client_ref=ref)
        for what, b, kw in (("no csrf", body, {}),
                            ("wrong csrf", dict(body, csrf="0" * 64), {}),
                            ("another Origin", dict(body, csrf=csrf),
                             {"origin": False, "headers": {"Origin": "http://evil.example"}}),
                            ("no Origin", dict(body, csrf=csrf), {"origin": False})):
            st, _, out = req(m, "POST", "/dash/complaint", b, cookie=op, **kw)
            check(st == 403, "%s: 403 (%d %s)" % (what, st, out[:200]))

        # a browser's post: the ticket and lookup code
        body = dict(FORM, client_ref=ref, csrf=csrf)
        st, _, out = req(m, "POST", "/dash/complaint", body, cookie=op)
        check(st == 200, "filed: %d %s" % (st, out[:400]))
        ticket, code = ticket_of(out)
        print("  filed", ticket, code)
        check("(this form was already filed" not in out, "the first post is not a duplicate")
        # ... so the forged posts above, with the same client_ref, created nothing
        # the same form again: the same ticket
        st, _, again = req(m, "POST", "/dash/complaint", body, cookie=op)
        check(st == 200 and ticket_of(again)[0] == ticket, "the same form twice: one ticket")
        check("already filed" in again, "the second post says so")

        # filed as the operator: its client_ref space is the operator's, not
        # the gateway's (cpmctl as the operator, same complaint, same ref)
        r = ctl_submit(m, ref, FORM)
        check(r["ticket"] == ticket and r["duplicate"], "intake filed it as %s: %s" % (OPERATOR, r))

        # the city coordinator's live view shows it (no contact); an operator
        # has no live view of its own (its role sees no case's events)
        coord = login(m, grant(m, COORD))
        ev = live_until(m, coord, ticket)
        print("  live:", ev.strip()[:120])
        m.wait_for(lambda: m.status(ticket)["state"] == "assigned", "assignment of " + ticket)
        s = m.status(ticket, as_=COORD)
        actors = [e["actor"] for e in s["history"]]
        print("  actors:", actors)
        check("hn.gw" not in actors, "the gateway is named nowhere in the case: %s" % actors)

        # the grant did its work at intake and went no further: its bytes are
        # in no service's store (intake's complaints and outbox, routing's cases)
        frame = base64.urlsafe_b64decode(op_token + "=" * (-len(op_token) % 4))
        m.wait_for(m.outbox_empty, "intake's outbox acknowledged")
        held = stores_holding(m, frame)
        check(not held, "the grant (on_behalf) is stored nowhere: %s" % held)

        # a field error is shown next to its field, with what was typed kept
        st, _, page = req(m, "GET", "/dash/complaint", cookie=op)
        bad = dict(FORM, client_ref=ref_of(page), csrf=csrf, channel="pigeon",
                   description="typed text kept")
        st, _, out = req(m, "POST", "/dash/complaint", bad, cookie=op)
        check(st == 400 and 'id="err-channel"' in out and "typed text kept" in out
              and "0912 345 678" in out, "field error by its field: %d %s" % (st, out[-900:]))

        # longer than intake takes: intake's limit (text kept), or the gateway's bound
        for n, who in ((4100, "intake"), (6000, "the gateway")):
            st, _, page = req(m, "GET", "/dash/complaint", cookie=op)
            st, _, out = req(m, "POST", "/dash/complaint",
                             dict(FORM, client_ref=ref_of(page), csrf=csrf, description="x" * n),
                             cookie=op)
            check(st == 400 and 'id="err-description"' in out and "Pho 24" in out,
                  "a description of %d bytes is refused by %s, by its field: %d %s"
                  % (n, who, st, out[-900:]))

        # an officer may not file: the gateway says 403, and intake refuses its grant
        refused0 = counter(m, "hn.doit", "intake", "grant.refused")
        off = login(m, grant(m, OFFICER))
        st, _, _ = req(m, "GET", "/dash/complaint", cookie=off)
        check(st == 403, "an officer gets 403 for the form: %d" % st)
        st, _, page = req(m, "GET", "/dash", cookie=off)
        oref = "f" * 32
        st, _, out = req(m, "POST", "/dash/complaint",
                         dict(FORM, client_ref=oref, csrf=csrf_of(page)), cookie=off)
        check(st == 403 and "may not send submit_complaint@intake" in out,
              "intake refuses the officer's grant: %d %s" % (st, out[-600:]))
        m.wait_for(lambda: counter(m, "hn.doit", "intake", "grant.refused") > refused0,
                   "intake counts grant.refused")
        # nothing was filed for it: the operator's same ref is a new complaint
        r = ctl_submit(m, oref, FORM)
        check(not r["duplicate"] and r["ticket"] != ticket, "the officer's post filed nothing")

        m.wait_for(lambda: counter(m, "hn.gw", "gateway", "web.complaint") >= 2
                   and counter(m, "hn.gw", "gateway", "web.complaint_refused") >= 5
                   and counter(m, "hn.gw", "gateway", "web.csrf_refused") >= 4,
                   "the gateway counts filings, refusals and forgeries")
        screenshot(m, op)


def screenshot(m, cookie):
    chromium = shutil.which("chromium")
    check(chromium, "chromium is installed (deploy/deps)")
    shot = os.path.join(m.home, "form.png")
    proxy = cookie_forwarder(m, cookie)
    try:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", "--window-size=900,1100",
                        "--user-data-dir=" + os.path.join(m.home, "chromium-form"),
                        "--screenshot=" + shot,
                        "http://127.0.0.1:%d/dash/complaint" % proxy.server_address[1]],
                       capture_output=True, timeout=120, check=False)
    finally:
        proxy.shutdown()
    check(os.path.exists(shot), "chromium made a screenshot")
    _, _, rows = png_pixels(shot)
    seen = {}
    for row in rows[::2]:
        for px in row[::2]:
            seen[px] = seen.get(px, 0) + 1
    total = sum(seen.values())
    white = seen.get((255, 255, 255), 0)
    check(white < total * 0.99 and len(seen) > 8,
          "not blank: %d of %d white, %d colours" % (white, total, len(seen)))


def test_webform_traced():
    try:
        test_webform()
    except Exception:
        traceback.print_exc()
        raise


if __name__ == "__main__":
    run([test_webform_traced])
