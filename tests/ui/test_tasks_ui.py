"""The task-list plugin's pages (lua/tasks/www) in a real browser, on a server of its own with
the Lua plugin enabled: the owner office creates a list and imports an .xlsx with an error (the
sheet row is named on the page, nothing is written), then a good one; the lead unit, on a phone,
decomposes a task (a later deadline is refused on the deadline field) and reports progress against
the numeric target (a report without a value is refused on the value field); the owner office edits a
task's deadline (the tracked item follows) and withdraws it (撤销: the reason is required)."""
import io
import tempfile
import zipfile
from xml.sax.saxutils import escape

import pytest

from conftest import start_server
from helpers import ADMIN_PW, NEW_PW, api_login, console_errors, form_login, make_unit, open_nav, ready_user, uniq

HEADER = ["条款", "任务内容", "目标", "计量单位", "牵头单位", "责任单位", "责任领导", "节点", "完成时限", "报告周期"]
SET_VALUE = """const e = arguments[0]; e.value = arguments[1];
e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true}));"""


@pytest.fixture(scope="module")
def ts():
    """A server with the tasks plugin; an owner office O, a lead department A with a section A1
    below it, and their people: the owner (tasks.read + manage on O), the lead (tasks.read + handle
    on A and below, units.read there for the unit picker)."""
    with tempfile.TemporaryDirectory(prefix="yimen-ui-tasks-") as tmp:
        s = start_server(tmp, enabled=("hello", "tasks"))
        try:
            admin = api_login(s.url, "admin", ADMIN_PW)
            root = admin.ok("GET", "/api/units?kind=county")["items"][0]["id"]
            s.tag = uniq("")
            s.O = make_unit(admin, "department", "界面县政府办" + s.tag, root)
            s.A_name = "界面发改局" + s.tag
            s.A = make_unit(admin, "department", s.A_name, root)
            s.A1_name = "界面项目科" + s.tag
            s.A1 = make_unit(admin, "department", s.A1_name, s.A)
            for key, perms in (("tk_ui_owner", ["tasks.read", "tasks.manage"]),
                               ("tk_ui_lead", ["tasks.read", "tasks.handle", "units.read"])):
                r = admin.post("/api/roles", {"key": key, "name": key, "permissions": perms})
                assert r.status_code == 201, r.text
            s.owner = ready_user(s.url, admin, s.O, roles=[("tk_ui_owner", s.O)], display_name="周敏")
            s.lead = ready_user(s.url, admin, s.A, roles=[("tk_ui_lead", s.A)], display_name="陈刚")
            yield s
        finally:
            s.stop()


def xlsx(rows):
    """A minimal .xlsx of rows of strings (inline strings), as tests/api/test_lua_services.xlsx builds it
    (that module cannot be imported here: it needs the API tests' conftest)."""
    cells = "".join('<row r="%d">%s</row>' % (r, "".join(
        '<c r="%s%d" t="inlineStr"><is><t>%s</t></is></c>' % (chr(65 + i), r, escape(v)) for i, v in enumerate(row)))
        for r, row in enumerate(rows, 1))
    ns = "http://schemas.openxmlformats.org/"
    files = {
        "[Content_Types].xml":
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="%spackage/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '</Types>' % ns,
        "_rels/.rels":
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="%spackage/2006/relationships">'
            '<Relationship Id="rId1" Type="%sofficeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            '</Relationships>' % (ns, ns),
        "xl/workbook.xml":
            '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="%sspreadsheetml/2006/main" '
            'xmlns:r="%sofficeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
            % (ns, ns),
        "xl/_rels/workbook.xml.rels":
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="%spackage/2006/relationships">'
            '<Relationship Id="rId1" Type="%sofficeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            '</Relationships>' % (ns, ns),
        "xl/worksheets/sheet1.xml":
            '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="%sspreadsheetml/2006/main">'
            '<sheetData>%s</sheetData></worksheet>' % (ns, cells),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


def sheet(path, rows):
    with open(path, "wb") as f:
        f.write(xlsx(rows))
    return path


def rows(ts, bad_row=None):
    out = [HEADER]
    for i in range(1, 4):
        out.append(["一、%d" % i, "界面任务%d：推进重点项目" % i, str(10 * i), "个", ts.A_name, "", "李县长",
                    "", "2026-12-31", "每月28日"])
    if bad_row:
        out[bad_row - 1][8] = "年底前"      # sheet row bad_row, column I: not a date
    return out


def real_errors(p):
    # the refusals the test provokes (400) are logged by the browser as failed loads
    return [e for e in console_errors(p) if "status of 400" not in e]


def no_overflow(p):
    return p.js("return document.documentElement.scrollWidth <= innerWidth + 1")


def test_import_with_a_row_error_then_a_good_file(ts, browser, tmp_path):
    p = browser(ts, "pc")
    form_login(p, ts.owner["username"], NEW_PW)
    open_nav(p, "tasks")
    p.wait("[data-testid=tasks-lists]")

    # a new list through the page: it opens on the list
    title = uniq("界面清单")
    p.click("button[data-testid=tasks-list-new]")
    p.type("#tasks-list-title", title)
    p.type("#tasks-list-source-doc", "2026年县政府工作报告")
    p.click("button[data-testid=tasks-list-save]")
    p.wait_until(lambda: p.text("[data-testid=tasks-list-title]") == title, 10, "the new list's page")
    lid = int(p.js("return new URLSearchParams(location.hash.split('?')[1]).get('list')"))
    p.wait("[data-testid=tasks-table] [data-testid=empty]")

    # an .xlsx with an error in sheet row 3: the row and column named, nothing written
    bad = sheet(str(tmp_path / "bad.xlsx"), rows(ts, bad_row=3))
    p.wait("#tasks-import-file", visible=False).send_keys(bad)
    p.click("button[data-testid=tasks-import-submit]")
    p.wait_until(lambda: "第 3 行" in (p.text("[data-testid=tasks-import-error]") or ""), 10, "the row in the error")
    msg = p.text("[data-testid=tasks-import-error]")
    assert "I 列" in msg and "未导入任何任务" in msg, msg
    assert ts.owner["api"].ok("GET", "/api/tasks/lists/%d" % lid)["tasks"] == 0
    assert ts.owner["api"].ok("GET", "/api/tasks/tasks?list=%d" % lid)["items"] == []
    assert p.find("[data-testid=tasks-table] [data-testid=empty]") is not None

    # the good file: imported, the table shows the tasks with their progress
    good = sheet(str(tmp_path / "good.xlsx"), rows(ts))
    inp = p.wait("#tasks-import-file", visible=False)
    inp.send_keys(good)
    p.click("button[data-testid=tasks-import-submit]")
    p.wait_until(lambda: "3" in (p.text("[data-testid=tasks-import-result]") or ""), 10, "the import's result")
    assert not p.text("[data-testid=tasks-import-error]")
    p.wait_until(lambda: len(p.all("[data-testid=tasks-table] [data-testid=tasks-task-open]")) == 3, 10, "3 tasks in the table")
    p.wait_until(lambda: "共 3 项任务" in (p.text("[data-testid=tasks-list-counts]") or ""), 10, "the list's counts")
    assert len(p.all("[data-testid=tasks-table] [data-testid=tasks-progress]")) == 3
    assert ts.owner["api"].ok("GET", "/api/tasks/lists/%d" % lid)["tasks"] == 3
    assert not real_errors(p)


def test_decompose_and_report_against_the_target_on_a_phone(ts, browser):
    owner = ts.owner["api"]
    lst = owner.ok("POST", "/api/tasks/lists", {"title": uniq("分解清单"), "source_doc": "2026年县政府工作报告", "year": 2026})
    task = owner.ok("POST", "/api/tasks/lists/%d/tasks" % lst["id"], {
        "clause": "二、1", "content": "新建改建农村公路", "target_value": 120, "target_unit": "公里",
        "lead_unit": ts.A, "leader": "王副县长", "deadline": "2026-12-31"})

    p = browser(ts, "phone")
    form_login(p, ts.lead["username"], NEW_PW)
    p.open("/#/p/tasks/tasks?task=%d" % task["id"])
    p.wait_until(lambda: "新建改建农村公路" in (p.text("[data-testid=tasks-task-title]") or ""), 15, "the task page")
    p.wait("[data-testid=tasks-children] [data-testid=empty]")
    assert no_overflow(p), "the task page is wider than the phone"

    # decompose: a deadline after the parent's is refused on its field
    p.click("button[data-testid=tasks-split]")
    p.wait_until(lambda: p.js("const s = document.getElementById('tasks-child-lead-unit');"
                              "return !!s && [...s.options].some(o => o.value === arguments[0])", str(ts.A1)),
                 10, "the section in the unit picker")
    p.set_value("#tasks-child-lead-unit", str(ts.A1))
    p.js(SET_VALUE, p.wait("#tasks-child-deadline"), "2027-01-10")
    p.click("button[data-testid=tasks-child-save]")
    p.wait_until(lambda: p.text("[data-error-for=deadline]"), 10, "the deadline's error")
    assert p.wait("#tasks-child-deadline").get_attribute("aria-invalid") == "true"
    assert owner.ok("GET", "/api/tasks/tasks/%d" % task["id"])["children"] == []

    p.js(SET_VALUE, p.wait("#tasks-child-deadline"), "2026-12-15")
    p.type("#tasks-child-target-value", "40")
    p.click("button[data-testid=tasks-child-save]")
    p.wait_until(lambda: len(p.all("[data-testid=tasks-children] [data-testid=tasks-task-open]")) == 1, 10, "the child task")
    children = owner.ok("GET", "/api/tasks/tasks/%d" % task["id"])["children"]
    assert len(children) == 1 and children[0]["lead_unit"]["id"] == ts.A1 and children[0]["deadline"] == "2026-12-15"
    assert children[0]["target"]["value"] == 40

    # report without a value: refused on the value field; with 60 of 120: half way
    p.click("button[data-testid=tasks-report]")
    p.type("#tasks-report-text", "正在加快推进")
    p.click("button[data-testid=tasks-report-save]")
    p.wait_until(lambda: p.text("[data-error-for=value]"), 10, "the value's error")
    assert p.wait("#tasks-report-value").get_attribute("aria-invalid") == "true"
    assert owner.ok("GET", "/api/tasks/tasks/%d/reports" % task["id"])["items"] == []
    assert no_overflow(p), "the report form is wider than the phone"

    p.type("#tasks-report-value", "60")
    p.type("#tasks-report-funds", "350.5")
    p.click("button[data-testid=tasks-report-save]")
    p.wait_until(lambda: p.texts("[data-testid=tasks-ledger] [data-testid=tasks-report-value]") == ["60"], 10, "the report in the ledger")
    p.wait_until(lambda: p.text("[data-testid=tasks-task-progress-value]") == "50%", 10, "progress against the target")
    t = owner.ok("GET", "/api/tasks/tasks/%d" % task["id"])
    assert t["achieved"] == 60 and t["progress"] == 0.5

    # the ranking of the list: the lead unit first
    p.open("/#/p/tasks/ranking?list=%d" % lst["id"])
    p.wait_until(lambda: p.texts("[data-testid=tasks-ranking] [data-testid=tasks-rank-unit]")[:1] == [ts.A_name],
                 10, "the lead unit in the ranking")
    assert no_overflow(p), "the ranking is wider than the phone"
    assert not real_errors(p)


def test_edit_and_withdraw_a_task(ts, browser):
    owner = ts.owner["api"]
    lst = owner.ok("POST", "/api/tasks/lists", {"title": uniq("撤销清单"), "source_doc": "2026年县政府工作报告", "year": 2026})
    task = owner.ok("POST", "/api/tasks/lists/%d/tasks" % lst["id"], {
        "clause": "三、1", "content": "建设污水处理厂", "milestone": "完成竣工验收",
        "lead_unit": ts.A, "leader": "王副县长", "deadline": "2026-12-31"})

    p = browser(ts, "phone")
    form_login(p, ts.owner["username"], NEW_PW)
    p.open("/#/p/tasks/tasks?task=%d" % task["id"])
    p.wait_until(lambda: "建设污水处理厂" in (p.text("[data-testid=tasks-task-title]") or ""), 15, "the task page")

    # edit the deadline: the page shows it and the tracked item follows
    before = p.text("[data-testid=tasks-task-details]")
    p.click("button[data-testid=tasks-edit]")
    assert p.wait("#tasks-edit-deadline").get_attribute("value") == "2026-12-31"
    p.js(SET_VALUE, p.wait("#tasks-edit-deadline"), "2026-12-20")
    p.click("button[data-testid=tasks-edit-save]")
    p.wait_until(lambda: not p.find("#tasks-edit-deadline") and
                 p.text("[data-testid=tasks-task-details]") not in (None, before), 10, "the saved edit")
    assert owner.ok("GET", "/api/tasks/tasks/%d" % task["id"])["deadline"] == "2026-12-20"
    assert owner.ok("GET", "/api/items/%d" % task["item_id"])["deadline"] == "2026-12-20"
    assert no_overflow(p), "the task page is wider than the phone"

    # withdraw: the reason is required, then the task is marked withdrawn and its buttons go
    p.click("button[data-testid=tasks-withdraw]")
    p.click("button[data-testid=tasks-withdraw-save]")
    p.wait_until(lambda: p.text("[data-error-for=reason]"), 10, "the reason's error")
    assert owner.ok("GET", "/api/tasks/tasks/%d" % task["id"])["withdrawn_at"] is None
    p.type("#tasks-withdraw-reason", "上级政策调整，不再实施")
    p.click("button[data-testid=tasks-withdraw-save]")
    p.wait_until(lambda: "上级政策调整" in (p.text("[data-testid=tasks-withdrawn]") or ""), 10, "the withdrawn mark")
    assert not p.find("button[data-testid=tasks-withdraw]") and not p.find("button[data-testid=tasks-edit]")
    assert owner.ok("GET", "/api/items/%d" % task["item_id"])["state"] == "withdrawn"
    assert not real_errors(p)
