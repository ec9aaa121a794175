"""The documents plugin's pages in real browsers (issue 8, "Pages"): a county clerk drafts
(the server's field error shown next to its field), a leader reviews and signs off, the
clerk dispatches to every township with one click, and a township clerk in another browser
signs for it while the first browser's receipt board updates without a reload; the
township then registers it. The draft form is also used at phone size (360 px).

A server of its own with the "documents" plugin; units, roles and users through the API."""
import tempfile
import time

import pytest

from conftest import start_server
from helpers import ADMIN_PW, NEW_PW, api_login, console_errors, form_login, make_unit, open_nav, ready_user, uniq

TOWNSHIPS = ("城关镇", "东关镇", "西关镇")


@pytest.fixture(scope="module")
def dsrv():
    with tempfile.TemporaryDirectory(prefix="yimen-ui-docs-") as tmp:
        s = start_server(tmp, enabled=("documents",))
        try:
            a = api_login(s.url, "admin", ADMIN_PW)
            root = a.ok("GET", "/api/units?kind=county")["items"][0]["id"]
            s.office = make_unit(a, "department", "县政府办公室", root)
            s.towns = [make_unit(a, "township", n, root) for n in TOWNSHIPS]
            for key, perms in (
                    ("doc_clerk", ["documents.read", "documents.draft", "documents.send", "documents.receive"]),
                    ("doc_leader", ["documents.read", "documents.review", "documents.signoff", "documents.instruct"]),
                    ("unit_reader", ["units.read"])):
                a.ok("POST", "/api/roles", {"key": key, "name": key, "permissions": perms})
            s.clerk = ready_user(s.url, a, s.office, roles=[("doc_clerk", s.office), ("unit_reader", root)],
                                 display_name="张文书")
            s.leader = ready_user(s.url, a, s.office, roles=[("doc_leader", s.office)], display_name="王县长")
            s.town_clerk = ready_user(s.url, a, s.towns[0], roles=[("doc_clerk", s.towns[0])], display_name="李镇文书")
            s.admin = a
            yield s
        finally:
            rc = s.stop()
        log = s.log_text()
        assert rc == 0 and "restarting worker" not in log, log[-4000:]


def state_of(p):
    return p.js("const e = document.querySelector('[data-testid=doc-view] [data-testid=documents-state]');"
                "return e && e.dataset.state")


def wait_state(p, state, timeout=10):
    p.wait_until(lambda: state_of(p) == state, timeout, "document state %s (is %s)" % (state, state_of(p)))


def fill_draft(p, title, main_to=True):
    p.wait("#doc-title", 10, what="the draft form")
    p.set_value("#doc-doc-type", "通知")
    p.type("#doc-title", title)
    p.type("#doc-issuer-organ", "某县人民政府办公室")
    p.type("#doc-org-code", "县政办发")
    if main_to:
        p.type("#doc-main-to", "各乡镇人民政府")
    p.type("#doc-body", "各乡镇人民政府：\n请做好冬季安全生产工作。")
    p.type("#doc-signature-organ", "某县人民政府办公室")


def test_draft_signoff_dispatch_and_live_receipt(dsrv, browser):
    clerk = browser(dsrv)
    form_login(clerk, dsrv.clerk["username"], NEW_PW)
    open_nav(clerk, "documents")
    clerk.wait("[data-testid=documents-table]", 10, what="the boxes")
    clerk.wait("[data-testid=documents-tab-drafts][aria-selected=true]", 10)
    clerk.click("button[data-testid=documents-new]")

    # a 通知 without 主送机关: the server's refusal next to the field
    title = uniq("关于做好冬季安全生产工作的通知")
    fill_draft(clerk, title, main_to=False)
    clerk.click("button[data-testid=doc-save]")
    err = clerk.wait("[data-error-for=main_to]", 10, what="the main_to error")
    clerk.wait_until(lambda: err.text.strip(), 5, "the error text")
    assert clerk.find("#doc-main-to").get_attribute("aria-invalid") == "true"
    console_errors(clerk)  # the expected 400 of that save
    clerk.type("#doc-main-to", "各乡镇人民政府")
    clerk.click("button[data-testid=doc-save]")
    clerk.wait("[data-testid=doc-view] [data-testid=doc-title]", 10, what="the document page")
    assert clerk.text("[data-testid=doc-title]") == title
    wait_state(clerk, "draft")
    clerk.wait("[data-testid=doc-versions] [data-testid=doc-version]", 10, what="the versions list")

    clerk.click("button[data-testid=doc-submit]")
    clerk.click("button[data-testid=doc-submit-save]")
    wait_state(clerk, "reviewing")
    doc_url = clerk.d.current_url

    # the leader: review, then sign off (the number is given)
    leader = browser(dsrv)
    form_login(leader, dsrv.leader["username"], NEW_PW)
    open_nav(leader, "documents")
    leader.click("button[data-testid=documents-tab-review]")
    leader.wait_until(lambda: any(title in t for t in leader.texts("[data-testid=documents-table]")), 10, "the review box")
    leader.click("[data-testid=documents-table] a[data-testid=documents-open]")
    leader.click("button[data-testid=doc-review-pass]")
    leader.click("button[data-testid=doc-review-save]")
    wait_state(leader, "signing")
    leader.click("button[data-testid=doc-signoff]")
    leader.click("button[data-testid=doc-signoff-save]")
    wait_state(leader, "signed")
    number = leader.text("[data-testid=doc-number]")
    assert number.startswith("县政办发〔") and number.endswith("号"), number
    kinds = leader.js("return [...document.querySelectorAll('[data-testid=doc-flow] [data-testid=timeline-item]')]"
                      ".map(e => e.dataset.kind)")
    assert kinds[:4] == ["draft", "submit", "review", "signoff"], kinds

    # the clerk dispatches to all townships with one click
    assert clerk.d.current_url == doc_url
    clerk.d.refresh()
    wait_state(clerk, "signed")
    clerk.click("button[data-testid=doc-dispatch]")
    clerk.click("button[data-testid=doc-dispatch-townships]")
    checked = clerk.js("return [...document.querySelectorAll('[data-testid=doc-dispatch-units] input[id^=dispatch-main-]:checked')]"
                       ".map(e => Number(e.dataset.unit))")
    assert sorted(checked) == sorted(dsrv.towns), checked
    clerk.click("button[data-testid=doc-dispatch-send]")
    wait_state(clerk, "dispatched")
    clerk.wait("[data-testid=doc-board] [data-count=total]", 10, what="the receipt board")
    clerk.wait_until(lambda: clerk.text("[data-testid=doc-board] [data-count=total]") == "3", 10, "3 recipients")
    assert clerk.text("[data-testid=doc-board] [data-count=signed_or_replied]") == "0"
    assert len(clerk.all("[data-testid=doc-board] [data-testid=board-missing-item]")) == 3
    clerk.js("window.__documentsNoReload = 1")

    # the township clerk signs for it in another browser
    town = browser(dsrv)
    form_login(town, dsrv.town_clerk["username"], NEW_PW)
    open_nav(town, "documents")
    town.click("button[data-testid=documents-tab-to_receive]")
    town.wait_until(lambda: any(title in t for t in town.texts("[data-testid=documents-table]")), 10, "the to-receive box")
    town.click("[data-testid=documents-table] button[data-testid=documents-sign]")
    town.wait("[data-testid=documents-sign][data-done=true]", 10, visible=False, what="signed")

    # ... and the first browser's board follows, live
    clerk.wait_until(lambda: clerk.text("[data-testid=doc-board] [data-count=signed_or_replied]") == "1", 15,
                     "the board's signed count after the township signed")
    clerk.wait_until(lambda: len(clerk.all("[data-testid=doc-board] [data-testid=board-missing-item]")) == 2, 10,
                     "two still owing")
    assert clerk.js("return window.__documentsNoReload") == 1, "the page was reloaded"

    # the township registers it: its incoming record with a 收文号
    town.click("[data-testid=documents-table] button[data-testid=documents-register]")
    town.wait("[data-testid=incoming-view] [data-testid=incoming-title]", 10, what="the incoming record")
    assert town.text("[data-testid=incoming-title]") == title
    town.wait_until(lambda: (town.text("[data-testid=incoming-register-no]") or "").endswith("-0001"), 10, "收文号")
    town.click("button[data-testid=incoming-propose]")
    town.type("#act-opinion", "拟请镇长阅示")
    town.click("button[data-testid=incoming-propose-save]")
    town.wait("[data-testid=incoming-flow] [data-testid=timeline-item][data-kind=propose]", 10, what="the propose step")
    for p in (clerk, leader, town):
        assert not console_errors(p), console_errors(p)


def test_draft_form_at_phone_width(dsrv, browser):
    p = browser(dsrv, "phone")
    p.d.set_window_size(360, 700)
    form_login(p, dsrv.clerk["username"], NEW_PW)
    p.open("/#/p/documents/documents?new=1")
    title = uniq("关于开展安全检查的通知")
    fill_draft(p, title)
    width = p.js("return document.documentElement.scrollWidth")
    assert width <= p.js("return innerWidth") + 1, "the form is wider than the screen: %s" % width
    p.js("document.querySelector('#doc-title').removeAttribute('maxlength')")
    p.type("#doc-title", "长" * 201)
    p.click("button[data-testid=doc-save]")
    err = p.wait("[data-error-for=title]", 10, what="the title error")
    p.wait_until(lambda: err.text.strip(), 5, "the error text")
    p.type("#doc-title", title)
    p.click("button[data-testid=doc-save]")
    p.wait("[data-testid=doc-view] [data-testid=doc-title]", 10, what="the document page")
    wait_state(p, "draft")
    p.open("/#/p/documents/documents?box=drafts")
    p.wait_until(lambda: any(title in t for t in p.texts("[data-testid=documents-table]")), 10, "the drafts box")
    assert p.js("return document.documentElement.scrollWidth") <= p.js("return innerWidth") + 1, "the boxes are too wide"


# ---------------------------------------------------------------- annotation (圈阅) and the version diff

def _pdf(w, h):
    """A one-page PDF of w x h points with a blue box, written by hand."""
    stream = b"0 0 1 rg 50 50 200 100 re f"
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents 4 0 R >>" % (w, h),
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    out, offsets = b"%PDF-1.4\n", []
    for k, o in enumerate(objs):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % (k + 1) + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref


def _doc_with_pdf(dsrv, title):
    import requests
    api = dsrv.clerk["api"]
    doc = api.ok("POST", "/api/documents", {
        "doc_type": "通知", "title": title, "issuer_organ": "某县人民政府办公室", "org_code": "县政办发",
        "main_to": ["各乡镇人民政府"], "body": "各乡镇人民政府：\n请做好冬季安全生产工作。",
        "signature_organ": "某县人民政府办公室", "doc_date": "2026-11-20"})
    r = requests.post(dsrv.url + "/api/files?name=%E9%99%84%E4%BB%B6.pdf", data=_pdf(595, 842),
                      headers={"Authorization": "Bearer " + api.token, "Content-Type": "application/pdf"}, timeout=20)
    assert r.status_code == 201, r.text
    api.ok("POST", "/api/documents/%d/attachments" % doc["id"], {"file_id": r.json()["id"]})
    return doc["id"], r.json()["id"]


def test_leader_draws_with_a_finger_and_the_stroke_comes_back(dsrv, browser):
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    from selenium.webdriver.common.actions import interaction
    i, fid = _doc_with_pdf(dsrv, uniq("关于冬季防火的通知"))
    p = browser(dsrv, "phone")
    assert p.js("return [innerWidth, innerHeight]") == [375, 667]
    form_login(p, dsrv.leader["username"], NEW_PW)
    # from the document page to its attachment's annotator
    p.open("/#/p/documents/documents?doc=%d" % i)
    p.click("[data-testid=doc-attachment][data-file='%d'] button[data-testid=doc-annotate]" % fid)
    img = p.wait("[data-testid=annot-image]", 10, what="the page image")
    p.wait_until(lambda: p.js("const i = arguments[0]; return i.complete && i.naturalWidth > 0", img), 15, "the page PNG")
    assert p.js("return arguments[0].naturalWidth", img) in (595, 1190)
    assert p.js("return document.documentElement.scrollWidth") <= 376, "the annotator is wider than the phone"
    overlay = p.wait("[data-testid=annot-overlay]", 10)
    p.js("arguments[0].scrollIntoView({block: 'center'})", overlay)
    rect = p.js("const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.width, r.height]", overlay)
    # a finger: touch pointer events through the W3C actions
    finger = PointerInput(interaction.POINTER_TOUCH, "finger")
    ab = ActionBuilder(p.d, mouse=finger)
    x0, y0 = int(rect[0] + rect[2] * 0.2), int(rect[1] + rect[3] * 0.3)
    ab.pointer_action.move_to_location(x0, y0).pointer_down()
    for k in range(1, 9):
        ab.pointer_action.move_to_location(x0 + int(rect[2] * 0.06 * k), y0 + int(rect[3] * 0.02 * k))
    ab.pointer_action.pointer_up()
    ab.perform()
    p.wait_until(lambda: p.js("return document.querySelector('[data-testid=annot-view]').dataset.pending") == "1", 10,
                 "one pending stroke")
    assert p.js("return document.querySelector('[data-testid=annot-view]').dataset.pointer") == "touch"
    # a circle too, in the circle mode
    p.click("button[data-testid=annot-mode-circle]")
    ab = ActionBuilder(p.d, mouse=PointerInput(interaction.POINTER_TOUCH, "finger2"))
    cx, cy = int(rect[0] + rect[2] * 0.5), int(rect[1] + rect[3] * 0.6)
    ab.pointer_action.move_to_location(cx, cy).pointer_down().move_to_location(cx + 40, cy).pointer_up()
    ab.perform()
    p.wait_until(lambda: p.js("return document.querySelector('[data-testid=annot-view]').dataset.pending") == "2", 10,
                 "the pending circle")
    p.click("button[data-testid=annot-save]")
    p.wait("[data-testid=annot-saved] [data-testid=annot-shape][data-kind=stroke]", 10, visible=False, what="saved")
    p.d.refresh()
    p.wait_until(lambda: p.js("const v = document.querySelector('[data-testid=annot-view]'); return v && v.dataset.loaded") == "2",
                 15, "the strokes replayed after reload")
    kinds = p.js("return [...document.querySelectorAll('[data-testid=annot-saved] [data-testid=annot-shape]')]"
                 ".map(e => e.dataset.kind)")
    assert kinds == ["stroke", "circle"], kinds
    pts = p.js("return document.querySelector('[data-testid=annot-saved] polyline').getAttribute('points')").split()
    assert len(pts) >= 5, pts
    first = [float(v) for v in pts[0].split(",")]
    assert abs(first[0] - 595 * 0.2) < 595 * 0.03 and abs(first[1] - 842 * 0.3) < 842 * 0.03, first
    # the clerk's own annotations of that page: none; the leader's are the leader's
    assert dsrv.clerk["api"].get("/api/documents/%d/annotations" % i).json()["items"] == []
    assert not console_errors(p), console_errors(p)


def test_version_diff_view(dsrv, browser):
    api = dsrv.clerk["api"]
    i, _ = _doc_with_pdf(dsrv, "关于做好冬季安全生产工作的通知")
    api.ok("PATCH", "/api/documents/%d" % i, {"title": "关于做好冬春季节安全生产工作的紧急通知"})
    p = browser(dsrv)
    form_login(p, dsrv.clerk["username"], NEW_PW)
    p.open("/#/p/documents/documents?doc=%d" % i)
    p.click("button[data-testid=doc-version-diff][data-version='2']")
    p.wait("[data-testid=doc-diff] [data-testid=doc-diff-field][data-field=title]", 10, what="the diff")
    ins = p.texts("[data-testid=doc-diff] [data-field=title] ins")
    dels = p.texts("[data-testid=doc-diff] [data-field=title] del")
    assert ins == ["春", "节", "紧急"] and dels == [], (ins, dels)
    assert p.text("[data-testid=doc-diff] [data-field=title] .doc-diff-text") == "关于做好冬春季节安全生产工作的紧急通知"
    # the archived box offers the year's archive export (a zip of GET /api/documents/archives/<year>)
    p.click("button[data-testid=modal-ok]")
    p.open("/#/p/documents/documents?box=archived")
    link = p.wait("a[data-testid=doc-export]", 10, what="the export button")
    assert link.get_attribute("href").endswith("/api/documents/archives/%d" % time.localtime().tm_year)
    assert not console_errors(p), console_errors(p)


def test_marks_on_the_body_page_with_the_mouse(dsrv, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    i, _ = _doc_with_pdf(dsrv, uniq("关于冬季供暖的通知"))
    p = browser(dsrv)
    form_login(p, dsrv.clerk["username"], NEW_PW)
    p.open("/#/p/documents/documents?doc=%d" % i)
    p.click("button[data-testid=doc-annotate-body]")
    p.wait_until(lambda: "请做好冬季安全生产工作" in (p.text("[data-testid=annot-body]") or ""), 10, "the body on its page")
    p.click("button[data-testid=annot-mode-check]")
    overlay = p.wait("[data-testid=annot-overlay]", 10)
    ActionChains(p.d).move_to_element_with_offset(overlay, 20, 30).click().perform()
    p.wait_until(lambda: p.js("return document.querySelector('[data-testid=annot-view]').dataset.pending") == "1", 10,
                 "the pending mark")
    p.click("button[data-testid=annot-save]")
    p.wait("[data-testid=annot-saved] [data-testid=annot-shape][data-kind=mark]", 10, visible=False, what="the saved mark")
    items = dsrv.clerk["api"].get("/api/documents/%d/annotations?target=body&page=1" % i).json()["items"]
    assert [(a["kind"], a["symbol"]) for a in items] == [("mark", "check")], items
    assert not console_errors(p), console_errors(p)
