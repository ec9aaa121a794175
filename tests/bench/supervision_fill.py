"""tests/bench/supervision_fill.py DB N: prints SQL (one transaction) for the sqlite3 CLI
that adds N supervision cases, each with its tracked item (source 'supervision'), the
item's units (lead, sometimes a co-unit) in core_item_units and supervision_case_units,
a progress report on about half, a lag reason on about 5 %. Lead and co-units are the
demo county's; seeded, so every run writes the same rows. Colours are written 'green'
for open items: the first recolour then recomputes them all (a mass change)."""
import random, sqlite3, sys, time, datetime
db, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(20261127)
con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
units = [r[0] for r in con.execute("SELECT id FROM core_units ORDER BY id")]
sup = con.execute("SELECT id FROM core_units WHERE name LIKE '%督查%' ORDER BY id LIMIT 1").fetchone()
sup = sup[0] if sup else units[0]
admin = con.execute("SELECT id FROM core_users ORDER BY id LIMIT 1").fetchone()[0]
con.close()
leaders = ["王县长", "李副县长", "张副县长", "刘书记", "陈副书记", "杨主任", "赵部长", "黄副县长"]
kinds = [("instruction", "documents"), ("minutes", "meetings"), ("task_list", "tasks"), ("project", "hand"),
         ("proposal", "hand"), ("other", "hand")]
topics = ["农贸市场改造", "县道修缮", "人居环境整治", "防汛物资储备", "春耕备耕", "茶叶产业园建设", "学校校舍维修",
          "饮水安全工程", "招商引资签约项目", "安全生产隐患整改", "森林防火", "乡村振兴示范村"]
states = ["assigned"] * 15 + ["accepted"] * 25 + ["in_progress"] * 45 + ["completed"] * 8 + ["closed"] * 7
now = int(time.time() * 1000)
today = datetime.date.today()
def q(s):
    return "NULL" if s is None else "'" + str(s).replace("'", "''") + "'"
o = sys.stdout
o.write("PRAGMA journal_mode=WAL;\nBEGIN IMMEDIATE;\n")
o.write("CREATE TEMP TABLE b AS SELECT (SELECT coalesce(max(id), 0) FROM core_items) AS i, "
        "(SELECT coalesce(max(id), 0) FROM supervision_cases) AS c;\n")
for k in range(1, n + 1):
    sk, origin = rnd.choice(kinds)
    lead = rnd.choice(units)
    co = rnd.choice(units) if rnd.random() < 0.3 else None
    if co == lead:
        co = None
    leader = rnd.choice(leaders)
    title = "%s%s" % (rnd.choice(["关于", "推进", "落实", "督办："]), rnd.choice(topics))
    state = rnd.choice(states)
    dl = (today + datetime.timedelta(days=rnd.randint(-120, 240))).isoformat()
    created = now - rnd.randint(1, 300) * 86400000
    assigned = created + 3600000
    accepted = assigned + 86400000 if state != "assigned" else None
    completed = assigned + 20 * 86400000 if state in ("completed", "closed") else None
    closed = completed + 86400000 if state == "closed" else None
    restricted = 1 if rnd.random() < 0.01 else 0
    report = state != "assigned" and rnd.random() < 0.5
    cycle = rnd.choice([None, None, "weekly", "monthly 28"])
    colour = "green"
    item = "(SELECT i FROM b) + %d" % k
    case = "(SELECT c FROM b) + %d" % k
    src_ref = None if origin == "hand" else "bench-%s:%d" % (origin, k)
    o.write("INSERT INTO core_items (id, source, source_kind, record, title, content, supervisor_unit, lead_unit, "
            "leader, deadline, report_cycle, state, colour, worst_colour, created_by, created_at, assigned_at, "
            "accepted_at, completed_at, closed_at, last_report_at, updated_at, restricted) VALUES "
            "(%s, 'supervision', %s, 'supervision_cases:' || (%s), %s, %s, %d, %d, %s, %s, %s, %s, %s, %s, %d, %d, "
            "%d, %s, %s, %s, %s, %d, %d);\n" % (
                item, q(sk), case, q(title), q("请%s抓紧%s，按期报送进展。" % ("各单位", title)), sup, lead, q(leader),
                q(dl), q(cycle), q(state), q(colour), q(colour), admin, created, assigned, q(accepted), q(completed),
                q(closed), q(now - 86400000 if report else None), now, restricted))
    o.write("INSERT INTO core_item_units (item_id, unit_id, role, percent, last_report_at, reports) VALUES "
            "(%s, %d, 'lead', %s, %s, %d);\n" % (item, lead, q(rnd.randint(10, 90) if report else None),
                                                q(now - 86400000 if report else None), 1 if report else 0))
    if co:
        o.write("INSERT INTO core_item_units (item_id, unit_id, role) VALUES (%s, %d, 'co');\n" % (item, co))
    o.write("INSERT INTO supervision_cases (id, item_id, origin, source_kind, source_ref, source_record, title, "
            "original_text, leader, supervisor_unit, lead_unit, restricted, created_by, created_at) VALUES "
            "(%s, %s, %s, %s, %s, NULL, %s, %s, %s, %d, %d, %d, %d, %d);\n" % (
                case, item, q(origin), q(sk), q(src_ref), q(title), q("请抓紧%s，月底前报结果。" % title),
                q(leader), sup, lead, restricted, admin, created))
    o.write("INSERT INTO supervision_case_units (case_id, unit_id, role) VALUES (%s, %d, 'lead');\n" % (case, lead))
    if co:
        o.write("INSERT INTO supervision_case_units (case_id, unit_id, role) VALUES (%s, %d, 'co');\n" % (case, co))
    if report:
        o.write("INSERT INTO core_item_reports (item_id, unit_id, user_id, kind, percent, text, created_at) VALUES "
                "(%s, %d, %d, 'progress', %d, %s, %d);\n" % (item, lead, admin, rnd.randint(10, 90),
                                                            q("%s已完成阶段性工作" % title), now - 86400000))
    if rnd.random() < 0.05:
        o.write("INSERT INTO core_item_reasons (item_id, unit_id, user_id, category, text, late_kind, created_at) "
                "VALUES (%s, %d, %d, 'funding', '资金未到位', 2, %d);\n" % (item, lead, admin, now - 3600000))
o.write("COMMIT;\n")
