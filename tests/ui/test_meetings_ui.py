"""The meetings plugin's pages (plugins/meetings/www) in real browsers, on a server of its
own with the plugin enabled: the organiser writes a notice (a refusal shown next to its
field), chooses the recipient unit and sends it, and watches the live board; a township
contact on a phone (375x667) in a second session opens, signs and replies, and the
organiser's board follows without a reload; the rotating check-in QR is shown and a
check-in with its code from the phone is counted on the board live and in the statistics."""
import re
import tempfile

import pytest

from conftest import start_server
from helpers import ADMIN_PW, NEW_PW, api_login, form_login, make_unit, open_nav, ready_user, uniq

# the browser's wall clock one day ahead, as an <input type=datetime-local> value
TOMORROW_LOCAL = """
const d = new Date(Date.now() + 86400000), p = (n) => String(n).padStart(2, '0');
return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes());
"""
SET_VALUE = """const e = arguments[0]; e.value = arguments[1];
e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true}));"""


@pytest.fixture(scope="module")
def ms():
    """A server with the meetings plugin, an organiser unit and a township, an organiser
    (meetings.send on the unit, units.read on the county) and a township contact (only
    meetings.receive: 我的会议 needs no meetings.read)."""
    with tempfile.TemporaryDirectory(prefix="yimen-ui-meetings-") as tmp:
        s = start_server(tmp, enabled=("hello", "meetings"))
        try:
            admin = api_login(s.url, "admin", ADMIN_PW)
            root = admin.ok("GET", "/api/units?kind=county")["items"][0]["id"]
            s.org_unit = make_unit(admin, "department", "会议界面县政府办", root)
            s.town = make_unit(admin, "township", "会议界面镇", root)
            for key, perms in (("mt_ui_org", ["meetings.read", "meetings.send"]), ("mt_ui_units", ["units.read"]),
                               ("mt_ui_recv", ["meetings.receive"])):
                r = admin.post("/api/roles", {"key": key, "name": key, "permissions": perms})
                assert r.status_code == 201, r.text
            s.org = ready_user(s.url, admin, s.org_unit, roles=[("mt_ui_org", s.org_unit), ("mt_ui_units", root)],
                               display_name="王芳")
            s.contact = ready_user(s.url, admin, s.town, roles=[("mt_ui_recv", s.town)], display_name="李强")
            yield s
        finally:
            s.stop()


def count(p, name):
    t = p.text("[data-testid=meetings-board-counts] [data-count=%s]" % name)
    return int(t) if t and t.isdigit() else None


def no_overflow(p):
    return p.js("return document.documentElement.scrollWidth <= innerWidth + 1")


def test_notice_board_reply_and_checkin(ms, browser):
    org = browser(ms, "pc")
    form_login(org, ms.org["username"], NEW_PW)
    open_nav(org, "meetings")
    org.wait("[data-testid=meetings-table]")

    # a notice without its time: the server's refusal next to the field
    title = uniq("全县安全生产工作会议")
    org.click("button[data-testid=meetings-new]")
    org.type("#meeting-title", title)
    org.click("button[data-testid=meeting-save]")
    err = org.wait_until(lambda: next((e for e in org.all("yi-form [data-error-for]")
                                       if e.get_attribute("data-error-for") != "_form" and e.text.strip()), None),
                         10, "a field error")
    assert err.get_attribute("data-error-for") in ("start_at", "place"), err.get_attribute("data-error-for")

    # now complete: tomorrow, a place, the content
    org.js(SET_VALUE, org.wait("#meeting-start-at"), org.js(TOMORROW_LOCAL))
    org.type("#meeting-place", "县政府三楼会议室")
    org.type("#meeting-content", "传达上级会议精神")
    org.click("button[data-testid=meeting-save]")
    org.wait_until(lambda: re.search(r"[?&]id=(\d+)", org.d.current_url), 10, "the meeting's page")
    mid = int(re.search(r"[?&]id=(\d+)", org.d.current_url).group(1))
    assert org.wait("[data-testid=meeting-state]").get_attribute("data-state") == "draft"

    # recipients: the township, then send
    org.click("#meetings-unit-%d" % ms.town)
    org.click("button[data-testid=meetings-send]")
    org.wait_until(lambda: (org.find("[data-testid=meeting-state]") or org.find("body")).get_attribute("data-state") == "sent",
                   10, "the notice sent")
    org.wait_until(lambda: count(org, "total") == 1, 10, "the board's total")
    assert count(org, "read") == 0 and count(org, "signed") == 0
    assert any("会议界面镇" in t for t in org.texts("[data-testid=meetings-board-missing-item]"))
    org.js("window.__meetings_no_reload = 1")

    # the township contact on a phone: my meetings -> the notice
    phone = browser(ms, "phone")
    form_login(phone, ms.contact["username"], NEW_PW)
    open_nav(phone, "view")
    phone.click("a[data-testid=invited-open][data-id='%d']" % mid)
    phone.wait("[data-testid=invited-title]")
    org.wait_until(lambda: count(org, "read") == 1, 10, "read on the organiser's board, live")

    phone.click("button[data-testid=invited-sign]")
    # the notice is drawn again after signing: the state element may be briefly absent
    phone.wait_until(lambda: (phone.find("[data-testid=invited-state]") is not None and
                              phone.find("[data-testid=invited-state]").get_attribute("data-state") == "signed"),
                     10, "signed")
    org.wait_until(lambda: count(org, "signed") == 1, 10, "signed on the board, live")

    # the reply: attending, one attendee
    phone.click("#reply-attending-yes")
    phone.type("#reply-name-1", "张敏")
    phone.type("#reply-post-1", "镇长")
    phone.type("#reply-phone-1", "13800000001")
    assert no_overflow(phone), "the reply form is wider than the phone"
    phone.click("button[data-testid=reply-submit]")
    phone.wait("[data-testid=invited-replied]")
    phone.wait_until(lambda: (phone.find("[data-testid=invited-state]") is not None and
                              phone.find("[data-testid=invited-state]").get_attribute("data-state") == "replied"),
                     10, "replied")

    org.wait_until(lambda: count(org, "replied") == 1 and count(org, "attending") == 1 and count(org, "attendees") == 1,
                   10, "the reply on the board, live")
    org.wait_until(lambda: any("张敏" in t and "镇长" in t for t in org.texts("[data-testid=meetings-board-name]")),
                   10, "the attendee's name on the board")
    assert not org.all("[data-testid=meetings-board-missing-item]")
    assert org.js("return window.__meetings_no_reload") == 1, "the organiser's page was reloaded"

    # the rotating check-in QR, and a check-in from the phone with its code
    qr = org.wait("img[data-testid=meetings-qr]")
    org.wait_until(lambda: (qr.get_attribute("src") or "").startswith("data:image/svg+xml"), 10, "the QR image")
    assert org.js("return arguments[0].naturalWidth > 0", qr) or org.wait_until(
        lambda: org.js("return arguments[0].complete && arguments[0].naturalWidth > 0", qr), 5, "the QR drawn")
    code = org.wait_until(lambda: re.fullmatch(r"\d{6}", org.text("[data-testid=meetings-qr-code]") or ""), 10,
                          "the 6-digit code").group(0)
    assert count(org, "checked_in") == 0

    phone.click("a[data-testid=invited-checkin]")
    phone.wait("#checkin-code")
    assert phone.find("#checkin-meeting").get_attribute("value") == str(mid)
    phone.type("#checkin-code", "000000" if code != "000000" else "111111")   # a wrong code: refused next to the field
    phone.click("button[data-testid=checkin-submit]")
    assert phone.wait("[data-error-for=code]").text.strip()
    phone.type("#checkin-code", code)
    phone.click("button[data-testid=checkin-submit]")
    phone.wait("[data-testid=checkin-done]")
    assert no_overflow(phone), "the check-in page is wider than the phone"

    # the live event "meetings.checkin" updates the board: no reload, no refresh button
    org.wait_until(lambda: count(org, "checked_in") == 1, 10, "the check-in counted on the board, live")
    stats = ms.org["api"].ok("GET", "/api/meetings/%d/stats" % mid)
    assert stats["checked_in"] == 1 and stats["signed"] == 1 and stats["replies"] == 1, stats
