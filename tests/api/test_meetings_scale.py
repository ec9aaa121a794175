"""The meetings plugin at the size of the reference county: a notice to 188 units and 1,452
staff, signed and answered concurrently (one session per clerk and per staff member), and
the organiser's board, its attendance and the statistics exact to the receipt. The directory
comes from the CSV imports (`yimen unit import`, `yimen user import`)."""
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

import test_plugins as tp
from directory_helpers import error, login

CONF = ('plugin_paths = { "%s" }\nplugins = { "meetings" }\n' % tp.BUILT
        + 'auth = { argon2 = { memory = "1MiB", iterations = 1 },\n'
        '         rate_limit = { per_ip = 1000000, per_account = 1000000 } }\n')
NUNITS, NSTAFF = 188, 1452
THREADS = 24


def cli_ok(s, *args):
    r = s.cli(*args)
    assert r.returncode == 0, "exit %d\nstdout: %s\nstderr: %s" % (r.returncode, r.stdout, r.stderr)
    return r


def signed_in(s, username):
    """A session of an imported user, past the first-sign-in password change."""
    api = tp.Api(s, login(s, username, tp.INIT_PW))
    r = api.post("/api/me/password", {"old_password": tp.INIT_PW, "new_password": tp.NEW_PW})
    assert r.status_code == 204, r.text
    return api


@pytest.fixture(scope="module")
def big():
    with tempfile.TemporaryDirectory(prefix="yimen-meetings-scale-") as tmp:
        s = tp.new_server(tmp, CONF).start()
        try:
            admin = tp.admin_api(s)
            t = SimpleNamespace(s=s, admin=admin)
            t.O = tp.make_unit(admin, "department", "县委办公室")
            tp.make_role(admin, "mt_org", ["meetings.read", "meetings.send"])
            tp.make_role(admin, "mt_recv", ["meetings.receive"])
            t.org = tp.person(s, admin, t.O, [("mt_org", t.O, False)])
            names = ["规模测试镇%03d" % i for i in range(NUNITS)]
            units_csv = os.path.join(tmp, "units.csv")
            with open(units_csv, "w", encoding="utf-8") as f:
                f.write("name,kind,parent\n" + "".join("%s,township,\n" % n for n in names))
            cli_ok(s, "unit", "import", units_csv)
            ids = dict(tp.db_rows(s, "SELECT name, id FROM core_units WHERE name LIKE '规模测试镇%'"))
            t.units = [ids[n] for n in names]
            # a clerk (meetings.receive) per unit; the staff spread over the units, no role
            t.clerk_names = ["mtclerk%03d" % i for i in range(NUNITS)]
            t.staff_names = ["mtstaff%04d" % j for j in range(NSTAFF)]
            users_csv = os.path.join(tmp, "users.csv")
            with open(users_csv, "w", encoding="utf-8") as f:
                f.write("username,display_name,unit,title,phone,role,password\n")
                for i, u in enumerate(t.clerk_names):
                    f.write("%s,收发员%d,%s,收发员,,mt_recv,%s\n" % (u, i, names[i], tp.INIT_PW))
                for j, u in enumerate(t.staff_names):
                    f.write("%s,干部%d,%s,干部,,,%s\n" % (u, j, names[j % NUNITS], tp.INIT_PW))
            cli_ok(s, "user", "import", users_csv)
            uids = dict(tp.db_rows(s, "SELECT username, id FROM core_users WHERE username LIKE 'mtstaff%'"))
            t.staff_ids = [uids[u] for u in t.staff_names]
            with ThreadPoolExecutor(THREADS) as ex:
                t.clerks = list(ex.map(lambda u: signed_in(s, u), t.clerk_names))
                t.staff = list(ex.map(lambda u: signed_in(s, u), t.staff_names))
            yield t
        finally:
            tp.stop_clean(s)


# what each recipient does: a unit signs only (i % 10 == 9), asks for leave (i % 5 == 0)
# or attends with i % 3 + 1 people; a staff member does nothing (j % 7 == 3), signs only
# (j % 7 == 5) or replies that they attend
def unit_action(i):
    return "sign" if i % 10 == 9 else "leave" if i % 5 == 0 else "attend"


def staff_action(j):
    return "none" if j % 7 == 3 else "sign" if j % 7 == 5 else "attend"


def test_188_units_1452_staff_concurrent_sign_and_reply(big):
    now = datetime.fromisoformat(big.admin.post("/api/test/clock", {"advance": 0}).json()["now"])
    r = big.org.post("/api/meetings", {"title": "全县防汛抗旱工作会议", "start_at": (now + timedelta(days=1)).isoformat(),
                                       "place": "县政府三楼会议室", "attendance": "主要负责人"})
    assert r.status_code == 201, r.text
    mid = r.json()["id"]
    r = big.org.post("/api/meetings/%d/send" % mid, {"unit_ids": big.units, "user_ids": big.staff_ids})
    assert r.status_code == 200, r.text
    did = r.json()["dispatch_id"]
    bd = big.org.get("/api/meetings/%d/board" % mid).json()
    assert bd["counts"]["total"] == NUNITS + NSTAFF and bd["counts"]["delivered"] == NUNITS + NSTAFF

    def unit_work(i):
        c, a = big.clerks[i], unit_action(i)
        if a == "sign":
            return c.post("/api/dispatches/%d/sign" % did).status_code
        answers = ({"attending": False, "leave_reason": "防汛值班%d" % i} if a == "leave" else
                   {"attending": True, "attendees": [{"name": "参会%d-%d" % (i, k), "post": "镇长"}
                                                     for k in range(i % 3 + 1)]})
        return c.post("/api/dispatches/%d/reply" % did, {"answers": answers}).status_code

    def staff_work(j):
        c, a = big.staff[j], staff_action(j)
        if a == "sign":
            return c.post("/api/dispatches/%d/sign" % did).status_code
        return c.post("/api/dispatches/%d/reply" % did, {"answers": {"attending": True}}).status_code

    # units and staff interleaved, all at once
    work = [(unit_work, i) for i in range(NUNITS)] + [(staff_work, j) for j in range(NSTAFF)
                                                        if staff_action(j) != "none"]
    work.sort(key=lambda w: (w[1] * 7919) % 1009)
    with ThreadPoolExecutor(THREADS) as ex:
        codes = list(ex.map(lambda w: w[0](w[1]), work))
    assert codes == [200] * len(work), sorted(set(codes))

    # nobody acts for a unit or a person that is not theirs
    error(big.staff[0].post("/api/dispatches/%d/reply" % did, {"answers": {"attending": False},
                                                               "unit_id": big.units[0]}), 403)
    error(big.clerks[1].post("/api/dispatches/%d/sign" % did, {"unit_id": big.units[2]}), 403)

    units = {a: sum(1 for i in range(NUNITS) if unit_action(i) == a) for a in ("sign", "leave", "attend")}
    staff = {a: sum(1 for j in range(NSTAFF) if staff_action(j) == a) for a in ("none", "sign", "attend")}
    people = sum(i % 3 + 1 for i in range(NUNITS) if unit_action(i) == "attend")
    bd = big.org.get("/api/meetings/%d/board" % mid).json()
    c = bd["counts"]
    assert c["total"] == NUNITS + NSTAFF
    assert c["replied"] == units["leave"] + units["attend"] + staff["attend"]
    assert c["signed"] == units["sign"] + staff["sign"]
    assert c["delivered"] + c["read"] == staff["none"]
    assert c["signed_or_replied"] == NUNITS + NSTAFF - staff["none"]
    assert c["replies"] == c["replied"] and c["reply_owed"] == NUNITS + NSTAFF
    assert c["missing"] == units["sign"] + staff["sign"] + staff["none"] == len(bd["missing"])
    att = bd["attendance"]
    assert att["attending_units"] == units["attend"] + staff["attend"]
    assert att["absent_units"] == units["leave"] and len(att["leave"]) == units["leave"]
    assert att["attendees"] == people == len(att["names"])
    assert att["no_reply"] == units["sign"] + staff["sign"] + staff["none"]
    missing_units = {x["unit"]["id"] for x in bd["missing"] if x["unit"]}
    assert missing_units == {big.units[i] for i in range(NUNITS) if unit_action(i) == "sign"}
    missing_staff = {x["user"]["id"] for x in bd["missing"] if x["user"]}
    assert missing_staff == {big.staff_ids[j] for j in range(NSTAFF) if staff_action(j) != "attend"}
    st = big.org.get("/api/meetings/%d/stats" % mid).json()
    assert st["recipients"] == NUNITS + NSTAFF and st["signed"] == NUNITS + NSTAFF - staff["none"]
    assert st["replies"] == c["replied"] and st["attending_units"] == att["attending_units"]
    # every clerk finds it among "my meetings"; a staff member who owes nothing more still sees it
    for api in (big.clerks[0], big.clerks[-1], big.staff[3], big.staff[-1]):
        r = api.get("/api/meetings?box=invited")
        assert r.status_code == 200 and [x["id"] for x in r.json()["items"]] == [mid], r.text
    # the receipts the engine wrote are the board's
    assert tp.db_rows(big.s, "SELECT count(*) FROM core_dispatch_receipts WHERE dispatch_id = ? AND state = 'replied'",
                      did)[0][0] == c["replied"]
