#!/usr/bin/env python3
"""tests/bench/tasks_bench.py: the data of tests/bench/tasks.sh (issue 11), built through the APIs.

As admin: three units (县政府办甲, 发改局甲, 交通局甲), a role holding tasks.read/handle/manage
and supervision.read/handle/manage, one user of the office with that role on it (first
sign-in password change done). As that user: a task list of N tasks imported from one .xlsx
(the 146-row sheet of tests/api/test_tasks.py: lead 发改局 or 交通局, co-unit 交通局 on odd
rows, numeric or milestone targets, quarterly nodes on every 4th row), and N supervision
cases by POST /api/supervision/cases (supervisor the office, same titles, lead and co-units,
leader, deadline). Writes a shell fragment (TOKEN, LIST_ID, TASKS, CASES) to --out."""
import argparse
import http.client
import io
import json
import sys
import zipfile
from xml.sax.saxutils import escape

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ["条款", "任务内容", "目标", "计量单位", "牵头单位", "责任单位", "责任领导", "节点", "完成时限", "报告周期"]
NS = "http://schemas.openxmlformats.org/"


def xlsx(rows):
    """A minimal .xlsx (inline strings), as tests/api/test_lua_services.py builds it."""
    cells = []
    for r, row in enumerate(rows, 1):
        cs = "".join('<c r="%s%d" t="inlineStr"><is><t>%s</t></is></c>' % (chr(65 + i), r, escape(v))
                     for i, v in enumerate(row))
        cells.append('<row r="%d">%s</row>' % (r, cs))
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    rel = NS + "officeDocument/2006/relationships"
    files = {
        "[Content_Types].xml": head +
            '<Types xmlns="%spackage/2006/content-types">' % NS +
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '</Types>',
        "_rels/.rels": head +
            '<Relationships xmlns="%spackage/2006/relationships">' % NS +
            '<Relationship Id="rId1" Type="%s/officeDocument" Target="xl/workbook.xml"/></Relationships>' % rel,
        "xl/workbook.xml": head +
            '<workbook xmlns="%sspreadsheetml/2006/main" xmlns:r="%s">' % (NS, rel) +
            '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": head +
            '<Relationships xmlns="%spackage/2006/relationships">' % NS +
            '<Relationship Id="rId1" Type="%s/worksheet" Target="worksheets/sheet1.xml"/></Relationships>' % rel,
        "xl/worksheets/sheet1.xml": head +
            '<worksheet xmlns="%sspreadsheetml/2006/main"><sheetData>%s</sheetData></worksheet>' % (NS, "".join(cells)),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


class Api:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.token = None

    def call(self, method, path, body=None, raw=None, ctype="application/json"):
        headers = {"Content-Type": ctype}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        text = r.read()
        return r.status, (json.loads(text) if text else None)

    def ok(self, want, method, path, body=None, **kw):
        st, b = self.call(method, path, body, **kw)
        if st != want:
            sys.exit("tasks_bench: %s %s answered %d: %s" % (method, path, st, json.dumps(b, ensure_ascii=False)[:400]))
        return b


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--yport", type=int, required=True)
    p.add_argument("--admin-password", required=True)
    p.add_argument("--n", type=int, default=146)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    api = Api(a.yport)
    api.token = api.ok(200, "POST", "/api/auth/login", {"username": "admin", "password": a.admin_password})["token"]
    tag = "甲"
    unit = {}
    for key, name in (("O", "县政府办"), ("A", "发改局"), ("B", "交通局")):
        unit[key] = api.ok(201, "POST", "/api/units", {"kind": "department", "name": name + tag})["id"]
    api.ok(201, "POST", "/api/roles", {"key": "bench_tasks", "name": "bench_tasks", "permissions": [
        "tasks.read", "tasks.handle", "tasks.manage", "supervision.read", "supervision.handle", "supervision.manage"]})
    pw0, pw1 = "Initial-Bench-5820!", "Changed-Bench-5820!"
    u = api.ok(201, "POST", "/api/users", {"username": "bench.office", "display_name": "督查员", "unit_id": unit["O"],
                                          "password": pw0})
    api.ok(201, "POST", "/api/grants", {"user_id": u["id"], "role": "bench_tasks", "unit_id": unit["O"],
                                       "include_descendants": True})
    me = Api(a.yport)
    me.token = me.ok(200, "POST", "/api/auth/login", {"username": "bench.office", "password": pw0})["token"]
    me.ok(204, "POST", "/api/me/password", {"old_password": pw0, "new_password": pw1})
    me.token = me.ok(200, "POST", "/api/auth/login", {"username": "bench.office", "password": pw1})["token"]

    lst = me.ok(201, "POST", "/api/tasks/lists", {"title": "2026年政府工作报告任务清单", "source_doc": "2026年县政府工作报告",
                                                  "year": 2026})
    rows = [HEADER]
    for i in range(1, a.n + 1):
        lead = ("发改局" if i % 2 else "交通局") + tag
        co = "交通局" + tag if i % 2 else ""
        target = str(10 + i) if i % 3 else "完成项目竣工验收"
        unit_s = "亿元" if i % 3 else ""
        rows.append(["%d" % i, "任务%d：推进重点工作落实" % i, target, unit_s, lead, co, "李县长",
                     "季度" if i % 4 == 0 else "", "2026-12-31", "每月28日"])
    imp = me.ok(201, "POST", "/api/tasks/lists/%d/import" % lst["id"], raw=xlsx(rows), ctype=XLSX)
    for i in range(1, a.n + 1):
        body = {"source_kind": "instruction", "text": "请抓紧推进重点工作%d，月底前报结果。" % i,
                "title": "任务%d：推进重点工作落实" % i, "leader": "李县长",
                "lead_unit": unit["A"] if i % 2 else unit["B"], "deadline": "2026-12-31",
                "report_cycle": "monthly 28", "supervisor_unit": unit["O"]}
        if i % 2:
            body["co_units"] = [unit["B"]]
        me.ok(201, "POST", "/api/supervision/cases", body)
    with open(a.out, "w") as f:
        f.write("TOKEN=%s\nLIST_ID=%d\nTASKS=%d\nCASES=%d\n" % (me.token, lst["id"], imp["imported"], a.n))


if __name__ == "__main__":
    main()
