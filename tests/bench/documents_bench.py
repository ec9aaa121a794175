"""tests/bench/documents_bench.py: the client of tests/bench/documents.sh (127.0.0.1 only).

  units CSV                      the county's units for `yimen unit import`: the office
                                 (县政府办公室), 22 townships with 20 villages each and 111
                                 departments (573 recipient units)
  setup URL ADMINPW OUT.json     roles and users over HTTP (first-sign-in password change
                                 done): office (drafts, reviews, signs off, sends on the
                                 office), desk (receives, instructs, handles: the county with
                                 its subtree), t1clerk (one township), 8 readers; tokens to OUT
  dispatch URL USERS N           N documents signed off, then each dispatched to all 573 units
                                 (one request each, timed); prints JSON with the latencies
  fsync DIR N                    N one-row commits with SQLite WAL synchronous=FULL in DIR
                                 (the disk's fsync'd-commit ceiling); prints commits/s
  (the replay of part 2 is tests/bench/documents_replay.c)
  fill DB N OFFICE_USER DESK_USER READERS
                                 prints SQL (one transaction) adding N documents with their
                                 recipients, incoming records, circulation rows and search
                                 entries, spread over every box and every unit (seeded)
"""
import http.client
import json
import os
import random
import sqlite3
import sys
import time
import datetime

TOWNS, VILLAGES, DEPTS = 22, 20, 111
YEAR = time.localtime().tm_year


def units_csv():
    rows = ["name,kind,parent,short_name,credit_code,sort", "县政府办公室,部门,,,,1"]
    for t in range(1, TOWNS + 1):
        rows.append("第%d镇,乡镇,,,,%d" % (t, t))
        rows += ["第%d镇第%d村,村,第%d镇,,,%d" % (t, v, t, v) for v in range(1, VILLAGES + 1)]
    rows += ["县直第%d局,部门,,,,%d" % (k, 100 + k) for k in range(1, DEPTS + 1)]
    return "\r\n".join(rows) + "\r\n"


class Client:
    """One keep-alive connection with a bearer token."""

    def __init__(self, url, token=None):
        host, port = url.split("//")[1].split(":")
        self.host, self.port, self.token = host, int(port), token
        self.conn = None

    def call(self, method, path, body=None, token=None):
        headers = {"Authorization": "Bearer " + (token or self.token)} if (token or self.token) else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                text = r.read()
                return r.status, (json.loads(text) if text else None)
            except (ConnectionError, http.client.HTTPException, OSError):
                if self.conn:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        return 0, None

    def ok(self, method, path, body=None, token=None, want=(200, 201, 204)):
        status, j = self.call(method, path, body, token)
        if status not in want:
            raise RuntimeError("%s %s -> %d %s" % (method, path, status, json.dumps(j, ensure_ascii=False)[:300]))
        return j


# ---------------------------------------------------------------- setup

def setup(url, admin_pw, out):
    c = Client(url)
    tok = c.ok("POST", "/api/auth/login", {"username": "admin", "password": admin_pw})["token"]
    c.token = tok
    units = {}
    after = None
    while True:
        page = c.ok("GET", "/api/units?limit=500" + ("&after=%d" % after if after else ""))
        units.update({u["name"]: u["id"] for u in page["items"]})
        after = page.get("next")
        if not after:
            break
    root = c.ok("GET", "/api/units?kind=county")["items"][0]["id"]
    office = units["县政府办公室"]
    towns = [units["第%d镇" % t] for t in range(1, TOWNS + 1)]
    villages = {str(tn): [units["第%d镇第%d村" % (k + 1, v)] for v in range(1, VILLAGES + 1)] for k, tn in enumerate(towns)}
    depts = [units["县直第%d局" % k] for k in range(1, DEPTS + 1)]
    for key, perms in (("b_office", ["documents.read", "documents.draft", "documents.review", "documents.signoff",
                                     "documents.send"]),
                       ("b_desk", ["documents.read", "documents.receive", "documents.instruct", "documents.handle"])):
        c.ok("POST", "/api/roles", {"key": key, "name": key, "permissions": perms})
    init_pw, new_pw = "Init-Pass-2026!x", "Bench-Pass-2026!y"

    def person(name, unit, grants):
        u = c.ok("POST", "/api/users", {"username": name, "display_name": "用户" + name, "unit_id": unit,
                                         "password": init_pw})
        for role, on, desc in grants:
            c.ok("POST", "/api/grants", {"user_id": u["id"], "role": role, "unit_id": on, "include_descendants": desc})
        t = c.ok("POST", "/api/auth/login", {"username": name, "password": init_pw})["token"]
        c.ok("POST", "/api/me/password", {"old_password": init_pw, "new_password": new_pw}, token=t)
        return {"id": u["id"], "token": t}

    users = {"office": person("b.office", office, [("b_office", office, False)]),
             "desk": person("b.desk", root, [("b_desk", root, True)]),
             "t1clerk": person("b.t1", towns[0], [("b_desk", towns[0], False)]),
             "readers": [person("b.r%d" % k, towns[k % TOWNS], []) for k in range(8)]}
    json.dump({"root": root, "office": office, "towns": towns, "villages": villages, "depts": depts,
               "all": towns + [v for vs in villages.values() for v in vs] + depts, "users": users}, open(out, "w"))


# ---------------------------------------------------------------- documents

def elements(rnd, n):
    topics = ["森林防火", "安全生产", "防汛抗旱", "春耕备耕", "人居环境整治", "乡村振兴", "疫情防控", "信访维稳",
              "冬季取暖", "道路交通安全"]
    topic = rnd.choice(topics)
    return {"doc_type": "通知", "title": "关于做好%s工作的通知（%d）" % (topic, n), "issuer_organ": "某县人民政府办公室",
            "org_code": "县政办发", "main_to": ["各乡镇人民政府", "县直各单位"],
            "body": "各乡镇人民政府，县直各单位：\n为切实做好%s工作，现将有关事项通知如下。一、提高认识，加强领导。"
                    "二、突出重点，狠抓落实。三、强化督查，严肃问责。" % topic,
            "signature_organ": "某县人民政府办公室", "doc_date": "%d-11-20" % YEAR,
            "urgency": rnd.choice(["", "", "", "加急", "特急"])}


# ---------------------------------------------------------------- dispatch to 573

def dispatch(url, cfg_path, n):
    cfg = json.load(open(cfg_path))
    c = Client(url, cfg["users"]["office"]["token"])
    rnd = random.Random(573)
    ids = []
    for k in range(n):
        d = c.ok("POST", "/api/documents", elements(rnd, k))
        p = "/api/documents/%d" % d["id"]
        c.ok("POST", p + "/submit")
        c.ok("POST", p + "/review", {"decision": "pass"})
        c.ok("POST", p + "/signoff", {"decision": "approve"})
        ids.append(d["id"])
    towns = cfg["towns"]
    rest = [u for u in cfg["all"] if u not in set(towns)]
    ms = []
    for i in ids:
        t0 = time.perf_counter()
        j = c.ok("POST", "/api/documents/%d/dispatch" % i, {"main": towns, "copy": rest})
        ms.append((time.perf_counter() - t0) * 1000)
        assert j["state"] == "dispatched"
    ms.sort()
    pick = lambda p: ms[min(len(ms) - 1, int(round(p / 100 * len(ms) + 0.5)) - 1)]
    print(json.dumps({"n": n, "units": len(towns) + len(rest), "p50": round(pick(50), 1), "p99": round(pick(99), 1),
                      "max": round(ms[-1], 1), "mean": round(sum(ms) / len(ms), 1)}))


# ---------------------------------------------------------------- the disk's ceiling

def fsync(d, n):
    path = os.path.join(d, "fsync-probe.db")
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
    t0 = time.monotonic()
    for k in range(n):
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO t (v) VALUES (?)", ("x" * 200,))
        con.execute("COMMIT")
    secs = time.monotonic() - t0
    con.close()
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(path + suffix)
        except FileNotFoundError:
            pass
    print(json.dumps({"commits": n, "seconds": round(secs, 3), "per_s": round(n / secs, 1),
                      "ms_each": round(secs * 1000 / n, 3)}))


# ---------------------------------------------------------------- 1M documents

def fill(db, n, office_user, desk_user, readers):
    rnd = random.Random(20261127)
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    units = [r[0] for r in con.execute("SELECT id FROM core_units WHERE kind != 'county' ORDER BY id")]
    office = con.execute("SELECT unit_id FROM core_users WHERE id = ?", (office_user,)).fetchone()[0]
    base = con.execute("SELECT coalesce(max(id), 0) FROM documents_docs").fetchone()[0]
    ibase = con.execute("SELECT coalesce(max(id), 0) FROM documents_incoming").fetchone()[0]
    sbase = con.execute("SELECT coalesce(max(id), 0) FROM core_search_docs").fetchone()[0]
    con.close()
    readers = [int(x) for x in readers.split(",")]
    states = ["archived"] * 80 + ["dispatched"] * 10 + ["draft"] * 3 + ["reviewing"] * 2 + ["signing"] * 2 + \
        ["signed"] * 1 + ["countersigning"] * 2
    istates = ["archived"] * 80 + ["registered"] * 3 + ["proposed"] * 3 + ["instructed"] * 2 + ["completed"] * 7 + \
        ["handling"] * 5
    types = ["通知"] * 40 + ["通报"] * 10 + ["报告"] * 10 + ["请示"] * 10 + ["函"] * 15 + ["意见"] * 5 + ["纪要"] * 5 + \
        ["决定"] * 5
    topics = ["森林防火", "安全生产", "防汛抗旱", "春耕备耕", "人居环境整治", "乡村振兴", "疫情防控", "信访维稳", "冬季取暖",
              "道路交通安全", "农村饮水安全", "义务教育", "医疗保障", "营商环境", "耕地保护"]
    now = int(time.time() * 1000)
    day0 = datetime.date(YEAR - 6, 1, 1)
    q = lambda s: "'" + s.replace("'", "''") + "'"
    o = sys.stdout
    o.write("PRAGMA journal_mode=WAL;\nBEGIN IMMEDIATE;\n")
    iid, sid = ibase, sbase
    for k in range(1, n + 1):
        i = base + k
        unit = office if rnd.random() < 0.05 else rnd.choice(units)
        state = rnd.choice(states)
        who = office_user if unit == office else desk_user
        dt = day0 + datetime.timedelta(days=int(k * 7 * 365 / n))
        typ, topic = rnd.choice(types), rnd.choice(topics)
        urg = rnd.choice(["", "", "", "", "", "", "", "", "加急", "特急"])
        title = "关于%s工作的%s（%d）" % (topic, typ, i)
        numbered = state in ("signed", "dispatched", "archived")
        number = "县政办发〔%d〕%d号" % (dt.year, k) if numbered else None
        el = json.dumps({"doc_type": typ, "title": title, "issuer_organ": "某县人民政府", "org_code": "县政办发",
                         "main_to": ["各乡镇人民政府"], "body": "为做好%s工作，现将有关事项通知如下。" % topic,
                         "signature_organ": "某县人民政府", "doc_date": dt.isoformat(), "urgency": urg},
                        ensure_ascii=False)
        ms = now - (n - k) * 200
        o.write("INSERT INTO documents_docs (id, unit_id, state, doc_type, title, urgency, secrecy, org_code, doc_date, "
                "elements, version, year, serial, number, created_by, created_at, updated_at) VALUES "
                "(%d,%d,'%s','%s',%s,'%s','非密','县政办发','%s',%s,1,%s,%s,%s,%d,%d,%d);\n"
                % (i, unit, state, typ, q(title), urg, dt.isoformat(), q(el), dt.year if numbered else "NULL",
                   k if numbered else "NULL", q(number) if number else "NULL", who, ms, ms))
        if state == "countersigning":
            o.write("INSERT INTO documents_countersigns (doc_id, unit_id, state) VALUES (%d,%d,'pending');\n"
                    % (i, rnd.choice(units)))
        if state in ("dispatched", "archived"):
            for u in rnd.sample(units, 1 if rnd.random() < 0.8 else 3):
                if u == unit:
                    continue
                registered = rnd.random() < (0.97 if state == "archived" else 0.85)
                o.write("INSERT INTO documents_recipients (doc_id, unit_id, kind, received) VALUES (%d,%d,'main',%d);\n"
                        % (i, u, 1 if registered else 0))
                if not registered:
                    continue
                iid += 1
                ist = rnd.choice(istates)
                o.write("INSERT INTO documents_incoming (id, doc_id, unit_id, dispatch_id, state, year, serial, "
                        "handler_unit, registered_by, created_at, updated_at) VALUES "
                        "(%d,%d,%d,0,'%s',%d,%d,%s,%d,%d,%d);\n"
                        % (iid, i, u, ist, dt.year, iid, str(rnd.choice(units)) if ist == "handling" else "NULL",
                           desk_user, ms, ms))
                if rnd.random() < 0.3:
                    for seq, r in enumerate(rnd.sample(readers, 2)):
                        cst = "read" if ist == "archived" or rnd.random() < 0.9 else "pending"
                        o.write("INSERT INTO documents_circulation (incoming_id, user_id, seq, mode, state) VALUES "
                                "(%d,%d,%d,'parallel','%s');\n" % (iid, r, seq + 1, cst))
        if numbered:
            sid += 1
            o.write("INSERT INTO core_search_docs (id, kind, ref, title, body, unit_id, permission, updated_at) VALUES "
                    "(%d,'documents','doc:%d',%s,%s,%d,'documents.read',%d);\n"
                    % (sid, i, q(title), q("%s\n为做好%s工作，现将有关事项通知如下。" % (number, topic)), unit, ms))
    o.write("INSERT INTO core_search_fts (rowid, title, body) SELECT id, title, body FROM core_search_docs "
            "WHERE id > %d;\n" % sbase)
    o.write("COMMIT;\nANALYZE;\n")


if __name__ == "__main__":
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "units":
        sys.stdout.write(units_csv())
    elif cmd == "setup":
        setup(a[0], a[1], a[2])
    elif cmd == "dispatch":
        dispatch(a[0], a[1], int(a[2]))
    elif cmd == "fsync":
        fsync(a[0], int(a[1]))
    elif cmd == "fill":
        fill(a[0], int(a[1]), int(a[2]), int(a[3]), a[4])
    else:
        sys.exit("unknown command " + cmd)
