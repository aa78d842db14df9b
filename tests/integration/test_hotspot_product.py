#!/usr/bin/env python3
"""Issue 12, hotspots per product, as users file them: `cpmctl submit
--product`, a JSON line's "product" and Open311's attribute[product] reach
intake's complaint.received event; a rise of complaints about one product
sold by different shops in different areas (no business and no area has a
rise of its own) opens one product alert holding those tickets."""
import time
import urllib.parse
import urllib.request

from mesh import Mesh, check, run

COORD = "coordinator.hn.doit"
PRODUCT = "Sữa bột Kid Gold 900g"


def counter(m, name):
    h = m.health("hn.doit").get(("hn.doit", "hotspot"), {})
    return h.get("counters", {}).get(name, 0)


def line(i, business, area, product, tag):
    return {"channel": "web", "business_name": business, "area": area,
            "category": "counterfeit_goods", "product": product,
            "description": "Sản phẩm nghi hàng giả, số %d" % i,
            "consumer_phone": "0913 000 %03d" % i, "client_ref": "%s-%d" % (tag, i)}


def test_product_rise():
    with Mesh(areas=("hoan-kiem", "ba-dinh"), hotspot=True, gateway=True,
              clock_at=int(time.time() * 1000)) as m:
        m.wait_up("hn.doit", "hotspot")
        # cpmctl submit --product
        r = m.ctl("submit", "--channel", "hotline", "--business", "Tạp hoá Lan Anh",
                  "--area", "hoan-kiem", "--category", "pricing", "--product", "Nước mắm",
                  "--description", "Bán đắt hơn giá niêm yết", "--phone", "0913 999 001")
        t0 = r.json[0]["ticket"]
        ev = [e for e in m.events("hn.doit", "intake") if e.get("ticket") == t0]
        check(ev and ev[0]["kind"] == "complaint.received" and ev[0].get("product") == "Nước mắm",
              "the product on complaint.received: %s" % ev)
        # background: other products, other shops
        bg = [line(i, "Shop %d" % i, ("hoan-kiem", "ba-dinh")[i % 2], "Sản phẩm %d" % i, "bg")
              for i in range(10)]
        check(all(x.get("ok") for x in m.submit_file(bg).json), "background filed")
        m.wait_for(lambda: counter(m, "hotspot.events_applied") >= 11, "background applied")
        m.advance(days=3)  # past the learning window
        # the rise: one product at six shops in two areas, one of them via Open311
        rise = [line(100 + i, "Cửa hàng số %d" % i, ("hoan-kiem", "ba-dinh")[i % 2], PRODUCT,
                     "rise") for i in range(5)]
        tickets = [x["ticket"] for x in m.submit_file(rise).json if x.get("ok")]
        check(len(tickets) == 5, "the rise filed: %s" % tickets)
        key = open(m.home + "/keys/open311-demo.key").read().strip()
        form = urllib.parse.urlencode({
            "api_key": key, "service_code": "counterfeit_goods", "lat": "21.0285",
            "long": "105.8542", "attribute[business_name]": "Siêu thị mini Hồ Gươm",
            "attribute[product]": PRODUCT, "description": "Hộp sữa in sai hạn dùng",
            "phone": "0913000999"}).encode()
        with urllib.request.urlopen(m.http_url + "/open311/v2/requests.json", form,
                                    timeout=30) as resp:
            tickets.append(__import__("json").loads(resp.read())[0]["service_request_id"])

        def product_alert():
            a = [x for x in m.ctl("hotspot", "list", "--state", "open", as_=COORD)
                 .json[0]["alerts"] if x["kind"] == "product"]
            return a[0] if len(a) == 1 and a[0]["count"] == 6 else None
        m.wait_for(product_alert, "one product alert with the six complaints")
        a = product_alert()
        check(sorted(a["tickets"]) == sorted(tickets), "its evidence: %s vs %s"
              % (a["tickets"], tickets))
        others = [x for x in m.ctl("hotspot", "list", "--state", "all", as_=COORD)
                  .json[0]["alerts"] if x["kind"] == "business"]
        check(others == [], "no business had a rise of its own: %s" % others)


if __name__ == "__main__":
    run([test_product_rise])
