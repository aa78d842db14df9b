#!/usr/bin/env python3
"""Open311 GeoReport v2 through the gateway, with a client that is not ours
(Python's urllib), field by field as the standard's examples write them, in
JSON and XML: discovery, services, a service definition, POST requests with
the demo application's API key (deploy/local/up signs it), GET requests,
requests/{id} and tokens/{token}. Bad requests get the standard's errors
(an array of {code, description} naming the field) and change nothing:
routing's case count is the same before and after. The same request twice
creates one complaint. No personal data in any reply. A burst of anonymous
reads from one address gets 429.
"""
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from mesh import Mesh, check, run

M = None
COORD = "coordinator.hn.doit"
REQUEST_FIELDS = ["service_request_id", "status", "status_notes", "service_name", "service_code",
                  "description", "agency_responsible", "service_notice", "requested_datetime",
                  "updated_datetime", "expected_datetime", "address", "address_id", "zipcode",
                  "media_url"]


def url(path):
    return M.http_url + "/open311/v2/" + path


def get_once(path, params=None):
    """(status, body bytes, content type)"""
    u = url(path) + ("?" + urllib.parse.urlencode(params) if params else "")
    try:
        with urllib.request.urlopen(u, timeout=30) as r:
            return r.status, r.read(), r.headers.get("Content-Type")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("Content-Type")


def get(path, params=None):
    """get_once as a well-behaved client: a 429 (reads are limited per
    address, 20 at once) is waited out as its Retry-After says."""
    for _ in range(60):
        r = get_once(path, params)
        if r[0] != 429:
            return r
        time.sleep(1)
    return r


def post(path, fields, headers=None, raw=None):
    body = raw if raw is not None else urllib.parse.urlencode(fields).encode()
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    h.update(headers or {})
    req = urllib.request.Request(url(path), data=body, headers=h, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), r.headers.get("Content-Type")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("Content-Type")


def api_key():
    with open(os.path.join(M.home, "keys", "open311-demo.key")) as f:
        return f.read().strip()


def complaint(**extra):
    f = {"api_key": api_key(), "service_code": "food_safety", "lat": "21.0285",
         "long": "105.8542", "address_string": "12 Hàng Bạc, Hoàn Kiếm",
         "email": "an.nguyen@example.vn", "first_name": "An", "last_name": "Nguyễn",
         "phone": "0912345678", "description": "Ngộ độc sau bữa trưa",
         "attribute[business_name]": "Nhà hàng Phở Cồ"}
    f.update(extra)
    return f


def case_count():
    """Routing's cases, once every outbox is empty (deliveries settled)."""
    M.wait_for(M.outbox_empty, "deliveries to settle")
    r = M.ctl("cases", "--limit", "100000", as_=COORD)
    return len([o for o in r.json if "ticket" in o])


def no_personal(body):
    text = body.decode()
    for s in ("0912345678", "an.nguyen", "Nguyễn", "Ngộ độc", "Hàng Bạc"):
        check(s not in text, "personal data %r in a reply: %s" % (s, text[:300]))


def test_discovery_and_services():
    st, body, ct = get("discovery.json")
    check(st == 200 and ct.startswith("application/json"), "discovery.json: %d %s" % (st, ct))
    d = json.loads(body)
    for k in ("changeset", "contact", "key_service", "endpoints"):
        check(k in d, "discovery has %s" % k)
    ep = d["endpoints"][0]
    check(ep["specification"] == "http://wiki.open311.org/GeoReport_v2", "specification")
    check(set(ep["formats"]) == {"text/xml", "application/json"}, "formats")
    st, body, ct = get("discovery.xml")
    root = ET.fromstring(body)
    check(st == 200 and root.tag == "discovery" and ct.startswith("text/xml"), "discovery.xml")
    check(root.find("endpoints/endpoint/formats/format") is not None, "discovery.xml endpoints")

    st, body, _ = get("services.json")
    svcs = json.loads(body)
    check(st == 200 and len(svcs) >= 11, "services.json: %d services" % len(svcs))
    food = [s for s in svcs if s["service_code"] == "food_safety"][0]
    for k in ("service_code", "service_name", "description", "metadata", "type", "keywords",
              "group"):
        check(k in food, "service has %s" % k)
    check(food["service_name"] == "An toàn thực phẩm" and food["metadata"] is True
          and food["type"] in ("realtime", "batch", "blackbox"), "food_safety: %s" % food)
    st, body, _ = get("services.xml")
    root = ET.fromstring(body)
    check(root.tag == "services" and len(root.findall("service")) == len(svcs), "services.xml")
    check(root.find("service/metadata").text == "true", "services.xml metadata")

    st, body, _ = get("services/food_safety.json")
    d = json.loads(body)
    check(st == 200 and d["service_code"] == "food_safety", "definition: %s" % d)
    attrs = {a["code"]: a for a in d["attributes"]}
    for a in attrs.values():
        for k in ("variable", "code", "datatype", "required", "datatype_description", "order",
                  "description"):
            check(k in a, "attribute has %s" % k)
    check(attrs["business_name"]["required"] is True, "business_name is required")
    st, body, _ = get("services/food_safety.xml")
    root = ET.fromstring(body)
    check(root.tag == "service_definition" and
          root.find("attributes/attribute/code").text == "business_name", "definition.xml")
    st, body, _ = get("services/no_such.json")
    e = json.loads(body)
    check(st == 404 and e[0]["code"] == 404 and "service_code" in e[0]["description"],
          "unknown service: %d %s" % (st, body))


def test_post_read_and_idempotency():
    before = case_count()
    st, body, _ = post("requests.json", complaint(client_ref="app-ref-1"))
    check(st == 200, "POST: %d %s" % (st, body))
    r = json.loads(body)[0]
    for k in ("service_request_id", "token", "service_notice", "account_id"):
        check(k in r, "POST reply has %s" % k)
    ticket = r["service_request_id"]
    check(ticket.startswith("DOIT-"), "a ticket of the city's intake: %s" % ticket)
    no_personal(body)
    # the same request again (a retry): the same ticket, one complaint
    st, body, _ = post("requests.json", complaint(client_ref="app-ref-1"))
    check(st == 200 and json.loads(body)[0]["service_request_id"] == ticket, "again: %s" % body)
    # the same without client_ref: the body's hash is the key
    st, b1, _ = post("requests.xml", complaint(description="Hàng giả", service_code="pricing"))
    st2, b2, _ = post("requests.xml", complaint(description="Hàng giả", service_code="pricing"))
    t1 = ET.fromstring(b1).find("request/service_request_id").text
    t2 = ET.fromstring(b2).find("request/service_request_id").text
    check(st == 200 and st2 == 200 and t1 == t2 and t1 != ticket, "hash key: %s %s" % (t1, t2))
    # the Idempotency-Key header
    st, b3, _ = post("requests.json", complaint(description="x1"), {"Idempotency-Key": "k-77"})
    st, b4, _ = post("requests.json", complaint(description="x1"), {"Idempotency-Key": "k-77"})
    check(json.loads(b3)[0]["service_request_id"] == json.loads(b4)[0]["service_request_id"],
          "Idempotency-Key")
    # a different request under a used client_ref: refused, nothing new
    st, body, _ = post("requests.json", complaint(client_ref="app-ref-1", description="other"))
    check(st == 409 and json.loads(body)[0]["code"] == 409, "reused ref: %d %s" % (st, body))
    check(case_count() == before + 3, "three complaints, not more")

    # GET requests/{id}: every field of the standard's example
    M.wait_for(lambda: get("requests/%s.json" % ticket)[0] == 200, "the case at routing")
    st, body, ct = get("requests/%s.json" % ticket)
    one = json.loads(body)
    check(isinstance(one, list) and len(one) == 1, "one request: %s" % body)
    one = one[0]
    for k in REQUEST_FIELDS:
        check(k in one, "request has %s" % k)
    check(one["status"] == "open" and one["service_code"] == "food_safety"
          and one["service_name"] == "An toàn thực phẩm", "request: %s" % one)
    check(one["requested_datetime"].endswith("+07:00") and one["agency_responsible"],
          "times and agency: %s" % one)
    check(one["address"] == "Phường Hoàn Kiếm", "placed by lat/long: %s" % one["address"])
    no_personal(body)
    st, body, _ = get("requests/%s.xml" % ticket)
    req = ET.fromstring(body).find("request")
    check(req.find("service_request_id").text == ticket and req.find("status").text == "open",
          "request.xml")
    no_personal(body)
    # tokens
    st, body, _ = get("tokens/%s.json" % r["token"])
    check(st == 200 and json.loads(body)[0] == {"service_request_id": ticket,
                                                 "token": r["token"]}, "token: %s" % body)
    st, body, _ = get("tokens/%s.xml" % r["token"])
    check(ET.fromstring(body).find("request/token").text == r["token"], "token.xml")
    check(get("tokens/%s.json" % ("0" * 40))[0] == 404, "unknown token")
    # GET requests with filters
    st, body, _ = get("requests.json")
    ids = [x["service_request_id"] for x in json.loads(body)]
    check(st == 200 and ticket in ids and t1 in ids, "list: %s" % ids)
    no_personal(body)
    st, body, _ = get("requests.json", {"service_code": "pricing"})
    check([x["service_code"] for x in json.loads(body)] == ["pricing"], "service_code filter")
    st, body, _ = get("requests.json", {"status": "closed"})
    check(json.loads(body) == [], "none closed")
    st, body, _ = get("requests.json", {"start_date": "2000-01-01T00:00:00Z",
                                        "end_date": "2000-02-01T00:00:00Z"})
    check(json.loads(body) == [], "an old window is empty")
    st, body, _ = get("requests.json", {"service_request_id": "%s,%s" % (ticket, t1)})
    check(sorted(x["service_request_id"] for x in json.loads(body)) == sorted([ticket, t1]),
          "by ids")
    st, body, _ = get("requests.xml", {"service_code": "food_safety"})
    root = ET.fromstring(body)
    check(root.tag == "service_requests" and root.find("request/status").text == "open",
          "list.xml")


def error_of(st, body, status, field):
    e = json.loads(body)
    check(st == status and isinstance(e, list) and e[0]["code"] == status
          and field in e[0]["description"], "want %d naming %s, got %d %s" % (status, field, st,
                                                                              body))


def endless_chunked_body(limit):
    """POST a chunked body of up to limit bytes; the bytes sent before the
    gateway closed the connection (limit when it never did)."""
    u = urllib.parse.urlsplit(M.http_url)
    s = socket.create_connection((u.hostname, u.port), timeout=30)
    sent = 0
    try:
        s.sendall(b"POST /open311/v2/requests.json HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (65536, b"a" * 65536)
        while sent < limit:
            s.sendall(chunk)
            sent += 65536
    except OSError:  # reset or broken pipe: the gateway closed it
        pass
    finally:
        s.close()
    return sent


def test_bad_requests_change_nothing():
    before = case_count()
    error_of(*post("requests.json", complaint(api_key="wrong"))[:2], 403, "api_key")
    f = complaint()
    del f["api_key"]
    error_of(*post("requests.json", f)[:2], 403, "api_key")
    error_of(*post("requests.json", complaint(service_code="nope"))[:2], 400, "service_code")
    f = complaint()
    del f["service_code"]
    error_of(*post("requests.json", f)[:2], 400, "service_code")
    error_of(*post("requests.json", complaint(lat="north"))[:2], 400, "lat")
    error_of(*post("requests.json", complaint(long="200"))[:2], 400, "long")
    f = complaint(lat="", long="")
    del f["address_string"]
    error_of(*post("requests.json", f)[:2], 400, "location")
    error_of(*post("requests.json", complaint(description=""))[:2], 400, "description")
    f = complaint()
    del f["attribute[business_name]"]
    error_of(*post("requests.json", f)[:2], 400, "business_name")
    error_of(*post("requests.json", complaint(email="not an email"))[:2], 400, "email")
    error_of(*post("requests.json", complaint(description="x" * 5000))[:2], 400, "description")
    error_of(*post("requests.json", complaint(**{"attribute[colour]": "red"}))[:2], 400,
             "attribute[colour]")
    error_of(*post("requests.json", complaint(client_ref="bad ref!"))[:2], 400, "client_ref")
    error_of(*post("requests.json", {}, raw=b"api_key=%zz")[:2], 400, "form")
    st, body, _ = post("requests.json", {}, raw=urllib.parse.urlencode(complaint()).encode(),
                       headers={"Content-Type": "application/json"})
    error_of(st, body, 400, "Content-Type")
    st, body, _ = post("requests.json", complaint(description="y" * 70000))
    error_of(st, body, 413, "larger than 65536")  # the standard's format, as for any error
    st, body, _ = post("requests.xml", complaint(description="y" * 70000))
    check(st == 413 and ET.fromstring(body).find("error/code").text == "413",
          "oversized XML body: %d %s" % (st, body[:200]))
    error_of(*post("requests.json", {}, raw=b"api_key=x&description=a\x00b")[:2], 400, "NUL")
    sent = endless_chunked_body(32 << 20)
    check(sent < 32 << 20, "a chunked body that never ends is cut (%d bytes taken)" % sent)
    st, body, _ = post("requests.xml", complaint(api_key="wrong"))
    root = ET.fromstring(body)
    check(st == 403 and root.tag == "errors" and root.find("error/code").text == "403"
          and "api_key" in root.find("error/description").text, "XML error: %s" % body)
    error_of(*get("requests/not-a-ticket.json")[:2], 400, "service_request_id")
    error_of(*get("requests/DOIT-99999999.json")[:2], 404, "DOIT-99999999")
    error_of(*get("requests.json", {"start_date": "yesterday"})[:2], 400, "start_date")
    error_of(*get("requests.json", {"start_date": "2026-01-01T00:00:00Z",
                                    "end_date": "2026-06-01T00:00:00Z"})[:2], 400, "end_date")
    error_of(*get("requests.json", {"status": "pending"})[:2], 400, "status")
    st, body, _ = get("services.html")
    check(st == 404, "unknown format: %d" % st)
    check(case_count() == before, "bad requests changed routing's cases")


def gateway_counter(name):
    h = M.health("hn.gw").get(("hn.gw", "gateway"), {})
    return h.get("counters", {}).get(name, 0)


def test_read_burst_is_limited():
    """Anonymous reads are limited per address (20 at once, 10 a second): a
    burst from one address gets 429 in the standard's format, counted; the
    address is served again once its bucket refills."""
    refused = None
    for _ in range(2000):  # far more than the burst, however slow the machine
        st, body, _ = get_once("services.json")
        if st == 429:
            refused = body
            break
        check(st == 200, "services.json: %d %s" % (st, body[:200]))
    check(refused is not None, "2000 GETs in a row were never refused")
    error_of(429, refused, 429, "too many requests")
    st, body, _ = get_once("requests.xml")
    if st == 429:  # XML clients get the same error in XML
        root = ET.fromstring(body)
        check(root.tag == "errors" and root.find("error/code").text == "429", "XML 429: %s" % body)
    M.wait_for(lambda: get_once("services.json")[0] == 200, "the address to be served again")
    M.wait_for(lambda: gateway_counter("open311.refused.read_rate") > 0,
               "open311.refused.read_rate counted")


if __name__ == "__main__":
    code = 0
    with Mesh(gateway=True) as M:
        try:
            run([test_discovery_and_services, test_post_read_and_idempotency,
                 test_bad_requests_change_nothing, test_read_burst_is_limited])
        except SystemExit as e:  # run() exits; a failure keeps the mesh home
            code = e.code
            if code:
                raise
    sys.exit(code)
