"""The supervision plugin's pages (plugins/supervision/www) in a real browser, on a server of its
own with the plugin enabled. The data is made through the API: a supervisor (督查室) takes in
two cases by hand, the lead town accepts and reports on one, the test clock makes it late, and
the town records a lag reason. Then: the public board (全员督查) shows colour lights with their
names and filters by colour; an unrelated staff member of another unit opens the late case and
reads its timeline and lag reason; the league table lists the lead units; the lead town's
handler decomposes a case for its village (a later deadline refused next to the field) and the
child shows with its light on the parent's page."""
import tempfile

import pytest

from conftest import start_server
from helpers import ADMIN_PW, NEW_PW, api_login, form_login, make_unit, open_nav, ready_user, uniq

REASON = "征地补偿资金尚未到位"


@pytest.fixture(scope="module")
def sv():
    with tempfile.TemporaryDirectory(prefix="yimen-ui-supervision-") as tmp:
        s = start_server(tmp, enabled=("hello", "supervision"))
        try:
            admin = api_login(s.url, "admin", ADMIN_PW)
            root = admin.ok("GET", "/api/units?kind=county")["items"][0]["id"]
            s.office = make_unit(admin, "department", "督查界面督查室", root)
            s.town_late = make_unit(admin, "township", "督查界面甲镇", root)
            s.town_ok = make_unit(admin, "township", "督查界面乙镇", root)
            s.other = make_unit(admin, "department", "督查界面档案局", root)
            for key, perms in (("sv_ui_manage", ["supervision.manage", "units.read"]),
                               ("sv_ui_handle", ["supervision.handle"])):
                r = admin.post("/api/roles", {"key": key, "name": key, "permissions": perms})
                assert r.status_code == 201, r.text
            s.boss = ready_user(s.url, admin, s.office, roles=[("sv_ui_manage", s.office), ("sv_ui_manage", root)],
                                display_name="督查员")
            handler = ready_user(s.url, admin, s.town_late, roles=[("sv_ui_handle", s.town_late)], display_name="甲镇办事员")
            s.handler = handler
            s.village = make_unit(admin, "village", "督查界面东村", s.town_late)
            s.staff = ready_user(s.url, admin, s.other, display_name="档案员")   # no grant: unrelated

            now = admin.ok("POST", "/api/test/clock", {"advance": 0})["now"]
            import datetime
            today = datetime.date.fromisoformat(now[:10])
            s.late_title = uniq("超期督查农贸市场改造")
            s.ok_title = uniq("正常督查县道修缮")
            late = s.boss["api"].ok("POST", "/api/supervision/cases", {
                "source_kind": "instruction", "text": s.late_title + "，请甲镇月底前完成。", "title": s.late_title,
                "leader": "王县长", "lead_unit": s.town_late, "co_units": [s.town_ok],
                "deadline": (today + datetime.timedelta(days=3)).isoformat()})
            ok = s.boss["api"].ok("POST", "/api/supervision/cases", {
                "source_kind": "minutes", "text": s.ok_title, "title": s.ok_title, "leader": "李副县长",
                "lead_unit": s.town_ok, "deadline": "2031-06-30"})
            s.late_id, s.ok_id = late["id"], ok["id"]
            item = late["item_id"]
            handler["api"].ok("POST", "/api/items/%d/accept" % item, {})
            handler["api"].ok("POST", "/api/items/%d/report" % item, {"text": "路基已完成", "percent": 60})
            # three weeks later: overdue (orange, or red past the rule's working days)
            admin.ok("POST", "/api/test/clock", {"advance": 21 * 86400})
            admin.ok("POST", "/api/test/items/recolour", {})
            handler["api"].ok("POST", "/api/items/%d/reasons" % item, {"category": "funding", "text": REASON})
            s.late_colour = admin.ok("GET", "/api/supervision/cases/%d" % s.late_id)["item"]["colour"]
            s.ok_colour = admin.ok("GET", "/api/supervision/cases/%d" % s.ok_id)["item"]["colour"]
            assert s.late_colour in ("orange", "red"), s.late_colour
            assert s.ok_colour in ("green", "blue"), s.ok_colour
            yield s
        finally:
            s.stop()


def board_rows(p):
    """{case id: (colour, light text)} of the board's rows."""
    out = {}
    for a in p.all("[data-testid=supervision-board] a[data-testid=supervision-open]"):
        row = p.js("return arguments[0].closest('tr')", a)
        light = p.js("return arguments[0].querySelector('[data-testid=supervision-light]')", row)
        if light is None:
            continue
        out[int(a.get_attribute("data-id"))] = (light.get_attribute("data-colour"),
                                                p.js("return arguments[0].textContent", light).strip())
    return out


def test_board_lights_and_colour_filter(sv, browser):
    p = browser(sv, "pc")
    form_login(p, sv.staff["username"], NEW_PW)
    open_nav(p, "board")
    p.wait("[data-testid=supervision-board]")
    rows = p.wait_until(lambda: (lambda r: r if sv.late_id in r and sv.ok_id in r else None)(board_rows(p)),
                        15, "both cases on the board")
    # a light is a colour and its name, never colour alone
    assert rows[sv.late_id][0] == sv.late_colour and rows[sv.late_id][1] in ("橙灯", "红灯"), rows
    assert rows[sv.ok_id][0] == sv.ok_colour and rows[sv.ok_id][1] in ("绿灯", "蓝灯"), rows
    assert any(REASON in t for t in p.texts("[data-testid=supervision-board-reason]"))

    # filter by the late case's colour: only cases of that colour remain
    p.set_value("#sv-filter-colour", sv.late_colour)
    rows = p.wait_until(lambda: (lambda r: r if sv.late_id in r and sv.ok_id not in r else None)(board_rows(p)),
                        15, "the colour filter applied")
    assert all(c == sv.late_colour for c, _ in rows.values()), rows
    # the other colour: the late case is gone, the other shows
    p.set_value("#sv-filter-colour", sv.ok_colour)
    p.wait_until(lambda: (lambda r: sv.ok_id in r and sv.late_id not in r)(board_rows(p)), 15, "the other colour")
    p.click("button[data-testid=supervision-filter-reset]")
    p.wait_until(lambda: (lambda r: sv.ok_id in r and sv.late_id in r)(board_rows(p)), 15, "filters cleared")


def test_unrelated_staff_reads_late_case_timeline_and_reasons(sv, browser):
    p = browser(sv, "phone")
    form_login(p, sv.staff["username"], NEW_PW)
    open_nav(p, "board")
    p.click("[data-testid=supervision-board] a[data-testid=supervision-open][data-id='%d']" % sv.late_id, 15)
    title = p.wait("[data-testid=supervision-case-title]", 15)
    p.wait_until(lambda: sv.late_title in (p.text("[data-testid=supervision-case-title]") or ""), 10, "the case title")
    light = p.wait("[data-testid=supervision-case-title] [data-testid=supervision-light]")
    assert light.get_attribute("data-colour") == sv.late_colour
    assert title is not None and p.find("[data-testid=supervision-public-view]") is not None, "a non-party sees the public view"
    # the lag reason, in full
    p.wait("[data-testid=supervision-reason]")
    assert any(REASON in t and "资金问题" in t for t in p.texts("[data-testid=supervision-reason]"))
    # the timeline: created, assigned, accepted, report, colour changes, the reason
    p.wait("[data-testid=supervision-timeline] [data-testid=timeline-item]")
    kinds = {e.get_attribute("data-kind") for e in p.all("[data-testid=supervision-timeline] [data-testid=timeline-item]")}
    assert {"assigned", "accepted", "report", "colour", "reason"} <= kinds, kinds
    assert any("签收" in t for t in p.texts("[data-testid=supervision-timeline] [data-testid=timeline-item]"))
    assert p.js("return document.documentElement.scrollWidth <= innerWidth + 1"), "the case page is wider than the phone"


def test_league_lists_units(sv, browser):
    p = browser(sv, "pc")
    form_login(p, sv.staff["username"], NEW_PW)
    open_nav(p, "league")
    p.wait("[data-testid=supervision-league]")
    # a wide period: both deadlines (this month's late one and 2031's) fall in it
    p.js("location.hash = '#/p/supervision/league?from=2000-01-01&to=2099-12-31'")
    p.wait_until(lambda: {"督查界面甲镇", "督查界面乙镇"} <= set(p.texts("[data-testid=supervision-league-unit]")),
                 15, "both lead units in the league")
    assert "2099" in (p.text("[data-testid=supervision-league] caption") or "")
    ranks = p.texts("[data-testid=supervision-league-rank]")
    assert ranks and ranks[0] == "1", ranks
    assert (p.text("[data-testid=supervision-league-totals]") or "").strip()


def test_supervisor_new_case_field_error_then_saved(sv, browser):
    p = browser(sv, "pc")
    form_login(p, sv.boss["username"], NEW_PW)
    open_nav(p, "new")
    p.wait("#sv-case-text")
    title = uniq("界面立项")
    p.type("#sv-case-text", title + "：请乙镇抓紧办理。")
    p.type("#sv-case-title", title)
    p.wait("#sv-case-lead-unit option[value='%d']" % sv.town_late, visible=False)
    p.set_value("#sv-case-lead-unit", str(sv.town_late))
    p.set_value("#sv-case-co-units", str(sv.town_late))      # the lead unit again: refused
    p.type("#sv-case-deadline-workdays", "5")
    p.click("button[data-testid=supervision-new-save]")
    p.wait_until(lambda: (p.text("[data-error-for=co_units]") or "").strip(), 10, "the error next to co_units")
    p.set_value("#sv-case-co-units", str(sv.town_ok))
    p.click("button[data-testid=supervision-new-save]")
    p.wait_until(lambda: title in (p.text("[data-testid=supervision-case-title]") or ""), 15, "the new case's page")


def set_date(p, sel, value):
    """A date input's value (typing into one depends on the browser's locale)."""
    p.js("""const e = document.querySelector(arguments[0]); e.value = arguments[1];
            e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true}));""",
         sel, value)


def test_lead_unit_decomposes_a_case(sv, browser):
    title = uniq("分解界面县道修缮")
    parent = sv.boss["api"].ok("POST", "/api/supervision/cases", {
        "source_kind": "instruction", "text": title, "title": title, "lead_unit": sv.town_late,
        "deadline": "2031-06-30"})
    sv.handler["api"].ok("POST", "/api/items/%d/accept" % parent["item_id"], {})
    p = browser(sv, "phone")
    form_login(p, sv.handler["username"], NEW_PW)
    p.js("location.hash = '#/p/supervision/board?case=%d'" % parent["id"])
    p.wait("[data-testid=supervision-split-form]", 15)
    p.wait("#sv-child-lead-unit option[value='%d']" % sv.village, visible=False)
    p.set_value("#sv-child-lead-unit", str(sv.village))
    p.type("#sv-child-title", title + "（东村）")
    set_date(p, "#sv-child-deadline", "2031-07-01")             # later than the parent's: refused
    p.click("button[data-testid=supervision-split-save]")
    p.wait_until(lambda: (p.text("[data-error-for=deadline]") or "").strip(), 10, "the error next to the deadline")
    assert "2031-06-30" in (p.find("[data-error-for=deadline]", False).get_attribute("title") or "")
    set_date(p, "#sv-child-deadline", "2031-05-31")
    p.click("button[data-testid=supervision-split-save]")
    p.wait_until(lambda: any(title + "（东村）" in x for x in p.texts("[data-testid=supervision-child]")), 15,
                 "the child case listed on the parent's page")
    child = p.wait("[data-testid=supervision-child] [data-testid=supervision-light]")
    assert child.get_attribute("data-colour") in ("green", "blue")
    assert "督查界面东村" in (p.text("[data-testid=supervision-child]") or "")
    assert p.js("return document.documentElement.scrollWidth <= innerWidth + 1"), "the case page is wider than the phone"
