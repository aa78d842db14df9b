#!/usr/bin/env python3
"""Category suggestions at intake against a real mesh (docs/protocol.md 24):
a complaint without a category whose text is clearly food safety is routed
by the model's suggestion; a vague one goes to triage with the suggestion
recorded; a client that forges a suggestion field is refused, naming it, and
the refusal is counted. The expectations come from the shipped model itself
(cpmctl triage suggest), so that retraining on a larger corpus keeps the test
meaningful; each one's premise is checked first."""
import json
import os
import subprocess
import sys

from mesh import BUILD, CTL, ROOT, Mesh, check, run

M = None  # one mesh for the file; each test compares counters before and after

MODEL = os.path.join(ROOT, "deploy/hanoi/triage/model.json")
FORGE = os.path.join(BUILD, "cpm_forge_complaint")
CLEAR = ("Cả nhà tôi bị ngộ độc thực phẩm sau khi ăn bún chả ở quán, đau bụng, nôn mửa, "
         "phải đi viện cấp cứu, đồ ăn có mùi ôi thiu")
# Vague texts: the first the shipped model is not sure about is used.
VAGUE = ("mình bị lừa, mn ơi giúp với", "cửa hàng làm ăn không đàng hoàng, tôi bị thiệt",
         "dịch vụ quá tệ, nhân viên thái độ, tôi muốn khiếu nại",
         "tôi không hài lòng, đề nghị xem xét giải quyết sớm")


def suggest(text, business):
    r = subprocess.run([CTL, "triage", "suggest", "--json", "--model", MODEL, "--text", text,
                        "--business", business], capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def received(m, ticket):
    for e in m.events("hn.doit", "intake"):
        if e["kind"] == "complaint.received" and e["ticket"] == ticket:
            return e
    return None


def submit(m, business, text):
    r = m.ctl("submit", "--channel", "web", "--business", business, "--area", "ba-dinh",
              "--description", text, "--node", "hn.doit")
    check(r.json and r.json[0]["ok"], "submitted: %s" % r.stdout)
    return r.json[0]["ticket"]


def counters(m):
    return m.health("hn.doit")[("hn.doit", "intake")]["counters"]


def delta(before, after, name):
    return after.get(name, 0) - before.get(name, 0)


def wait_routed(m, ticket):
    # A triage case is routed too, to hn.doit's triage desk.
    m.wait_for(lambda: m.status(ticket)["state"] in ("routed", "assigned"),
               "%s to be routed" % ticket)
    return m.status(ticket)


def test_clear_text_is_routed_by_the_model():
    s = suggest(CLEAR, "Quán bún chả Hồng Hà")
    check(s["category"] == "food_safety" and s["pm"] >= 700,
          "premise: the model is sure this is food safety: %s" % s)
    m = M
    if True:
        before = counters(m)
        t = submit(m, "Quán bún chả Hồng Hà", CLEAR)
        st = wait_routed(m, t)
        check(st["category"] == "food_safety", "routed as food_safety: %s" % st)
        check(st.get("category_by", "model") == "model", "category_by model: %s" % st)
        e = received(m, t)
        check(e is not None, "complaint.received for %s" % t)
        d = e["detail"]
        check("category=food_safety" in d and "suggested=food_safety" in d
              and "category_by=model" in d and ("suggestion_pm=%d" % s["pm"]) in d,
              "the event carries the suggestion: %s" % d)
        h = counters(m)
        check(delta(before, h, "intake.triage_routed") == 1
              and delta(before, h, "intake.triage_suggested") == 1, "counted: %s" % h)


def test_vague_text_goes_to_triage_with_the_suggestion():
    cands = [(t, suggest(t, "Cửa hàng Minh An")) for t in VAGUE]
    unsure = [(t, s) for t, s in cands if s["pm"] < 700]
    check(unsure, "premise: the model is not sure of one of the vague texts: %s" % cands)
    text, s = unsure[0]
    m = M
    if True:
        before = counters(m)
        t = submit(m, "Cửa hàng Minh An", text)
        st = wait_routed(m, t)
        check(st["category"] in ("", "-"), "no category set by the model: %s" % st)
        e = received(m, t)
        d = e["detail"]
        check("category_by" not in d, "category_by empty: %s" % d)
        if s["category"]:
            check(("suggested=%s" % s["category"]) in d and ("suggestion_pm=%d" % s["pm"]) in d,
                  "the suggestion is recorded: %s" % d)
        h = counters(m)
        check(delta(before, h, "intake.triage_routed") == 0, "nothing routed by the model: %s" % h)
        check(delta(before, h, "intake.triage_low") + delta(before, h, "intake.triage_unknown")
              == 1, "counted as low or unknown: %s" % h)


def test_forged_suggestion_is_refused():
    m = M
    if True:
        before = counters(m)
        for field in ("category_suggested=food_safety", "suggestion_pm=999",
                      "category_by=model", "model_version=hanoi-triage-1/00000000"):
            r = subprocess.run([FORGE, "--home", m.home, "--as", "operator.hn.doit", "--node",
                                "hn.doit", "--business", "Quán X", "--area", "ba-dinh",
                                "--description", CLEAR, "--field", field],
                               capture_output=True, text=True, env=m.env, timeout=60)
            check(r.returncode == 0, "forge ran: %s" % r.stderr)
            j = json.loads(r.stdout)
            name = field.split("=")[0]
            check(not j["ok"] and j["code"] == 400 and j["field"] == name,
                  "refused naming %s: %s" % (name, j))
        # A product over 256 bytes is refused, named.
        r = subprocess.run([FORGE, "--home", m.home, "--as", "operator.hn.doit", "--node",
                            "hn.doit", "--business", "Quán X", "--area", "ba-dinh",
                            "--description", CLEAR, "--product", "x" * 257],
                           capture_output=True, text=True, env=m.env, timeout=60)
        j = json.loads(r.stdout)
        check(not j["ok"] and j["field"] == "product", "product refused: %s" % j)
        after = counters(m)
        refused = {k: after.get(k, 0) - before.get(k, 0) for k in after
                   if after.get(k, 0) != before.get(k, 0)}
        check(sum(v for k, v in refused.items() if k.startswith("invalid.")) == 5,
              "the five refusals are counted: %s" % refused)
        check(delta(before, after, "intake.triage_routed") == 0, "nothing forged was routed")


if __name__ == "__main__":
    code = 0
    with Mesh() as M:
        try:
            run([test_clear_text_is_routed_by_the_model,
                 test_vague_text_goes_to_triage_with_the_suggestion,
                 test_forged_suggestion_is_refused])
        except SystemExit as e:  # run() exits; a failure keeps the mesh home
            code = e.code
            if code:
                raise
    sys.exit(code)
