#!/usr/bin/env python3
"""Complaints about one shop from different channels link to one business
(issue 12, item 2) against a real mesh: a web form with the name and the
address, a hotline note with no name (a placeholder) and the address as the
operator wrote it (linked by the address: it has no name), an email with the
name and its legal forms and the address in other spellings, a social post
with the name only; cpmctl clusters shows one business with every case, and the five
descriptions of the same problem as one theme with its characteristic words.
"""
import subprocess

from mesh import CTL, Mesh, check, run

COORD = "coordinator.hn.doit"

ALIKE = [
    "Tôi ăn phở bò ở quán thì thấy con gián trong bát phở, rất mất vệ sinh.",
    "Trong bát phở có con gián chết, quán phở không đảm bảo vệ sinh an toàn thực phẩm.",
    "an pho thay gian trong bat pho, quan mat ve sinh qua",
    "Phát hiện gián trong bát phở bò tái, nhân viên quán còn cãi lại. Mất vệ sinh!",
    "Con gián nằm trong bát phở của con tôi, quán phở bẩn, mất vệ sinh thực phẩm.",
]
OTHER = "Quán tính tiền sai, thu 150 nghìn cho hai bát nhưng bảng giá ghi 45 nghìn một bát."

SUBMITS = [  # channel, business, address, description
    ("web", "Phở Gia Truyền", "12 Phố Hàng Bạc, Hoàn Kiếm, Hà Nội", ALIKE[1]),
    ("hotline", "không rõ", "so 12 P. Hang Bac, HK, HN", ALIKE[0]),
    ("email", "Cty TNHH Phở Gia Truyền", "Số 12 Hàng Bạc", ALIKE[2]),
    ("social", "pho gia truyen", "", ALIKE[3]),
    ("letter", "PHỞ GIA TRUYỀN", "", ALIKE[4]),
    ("web", "Phở Gia Truyền", "số 12, phố Hàng Bạc", OTHER),
]


def routed(m, t):
    r = m.ctl("status", t, as_=COORD, check_rc=False)
    return r.returncode == 0 and r.json and r.json[0].get("state") in ("routed", "assigned")


def test_channels_one_business_one_theme():
    with Mesh(areas=("hoan-kiem",)) as m:
        tickets = []
        for i, (channel, business, address, text) in enumerate(SUBMITS):
            args = ["submit", "--channel", channel, "--business", business, "--area",
                    "hoan-kiem", "--category", "food_safety", "--description", text,
                    "--phone", "0912 000 %03d" % i, "--ref", "link-%d" % i]
            if address:
                args += ["--address", address]
            tickets.append(m.ctl(*args).json[0]["ticket"])
        for t in tickets:
            m.wait_for(lambda t=t: routed(m, t), "routing of " + t)
        r = m.ctl("clusters", "--min", "1", as_=COORD).json[0]
        check(len(r["clusters"]) == 1, "one business: %s" % r)
        k = r["clusters"][0]
        check(k["cases"] == 6 and k["consumers"] == 6, "every case counted: %s" % k)
        check(k["first_ticket"] == tickets[0], "first is the web form: %s" % k)
        check(k["business"] == "pho gia truyen", "named by the first name seen: %s" % k)
        check(k["address"] == "house=12 street=hang bac", "address normal form: %s" % k)
        check(len(k["themes"]) == 1, "one theme: %s" % k["themes"])
        th = k["themes"][0]
        check(th["count"] == 5 and th["consumers"] == 5, "theme of five: %s" % th)
        check(sorted(th["tickets"]) == sorted(tickets[:5]), "theme tickets: %s" % th)
        check("gian" in th["words"] and 3 <= len(th["words"]) <= 5, "words: %s" % th)
        text = subprocess.run(m.prefix + [CTL, "--as", COORD, "clusters", "--min", "1"],
                              capture_output=True, text=True, env=m.env, timeout=120).stdout
        check("theme: 5 complaints, 5 consumers:" in text and "gian" in text,
              "text output shows the theme: %s" % text)


if __name__ == "__main__":
    run([test_channels_one_business_one_theme])
