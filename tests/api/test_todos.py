"""GET /api/me/todos and /api/me/todos/count (我的待办): items are created and resolved
through the test-only routes POST /api/test/todos[/resolve] (YIMEN_TEST_CLOCK=1,
permission test.clock) until plugins put them through the plugin API. Checks: sign-in,
ordering by due time, overdue flags after moving the test clock, role items for exactly
the unit of the grant, resolution for everyone, ?source / ?overdue / ?limit and their
errors, and the count route."""
import pytest
import requests

from directory_helpers import Api, county, error, person, serve


@pytest.fixture(scope="module")
def srv():
    yield from serve("yimen-todos-")


@pytest.fixture(scope="module")
def t(srv):
    t = county(srv)
    t.clerk_a = person(srv, t.admin, t.A, roles=[("clerk", t.A, False)], display_name="甲镇收发员")
    t.clerk_a2 = person(srv, t.admin, t.B, roles=[("clerk", t.A, False)], display_name="甲镇收发员二")
    t.clerk_b = person(srv, t.admin, t.B, roles=[("clerk", t.B, False)], display_name="乙镇收发员")
    t.plain_a = person(srv, t.admin, t.A, display_name="甲镇职员")
    # the role on the county with descendants: not "the clerk of 甲镇"
    t.upper = person(srv, t.admin, t.root, roles=[("clerk", t.root, True)], display_name="县收发员")
    return t


def put(t, **body):
    body.setdefault("owner", "documents")
    r = t.admin.post("/api/test/todos", body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def resolve(t, **body):
    body.setdefault("owner", "documents")
    r = t.admin.post("/api/test/todos/resolve", body)
    assert r.status_code == 200, r.text
    return r.json()["resolved"]


def todos(api, query=""):
    r = api.get("/api/me/todos" + query)
    assert r.status_code == 200, r.text
    return r.json()


def count(api):
    r = api.get("/api/me/todos/count")
    assert r.status_code == 200, r.text
    return r.json()


def server_now(t):
    """The server's clock in ms (the test clock may have moved): from a probe item's created_at."""
    from datetime import datetime
    iid = put(t, key="probe", user_id=t.plain_a.id, title="probe")
    item = next(i for i in todos(t.plain_a.api)["items"] if i["id"] == iid)
    resolve(t, key="probe")
    return int(datetime.fromisoformat(item["created_at"].replace("Z", "+00:00")).timestamp() * 1000)


def test_auth_required(srv, t):
    for path in ("/api/me/todos", "/api/me/todos/count"):
        error(requests.get(srv.url + path, timeout=10), 401)
    # the test routes need test.clock (the admin has it; a clerk does not)
    error(t.clerk_a.api.post("/api/test/todos", {"owner": "x", "key": "k", "user_id": t.clerk_a.id,
                                                 "title": "t"}), 403)
    error(Api(srv).post("/api/test/todos", {}), 401)


def test_empty(t):
    body = todos(t.clerk_b.api)
    assert body == {"items": [], "total": 0, "overdue": 0}
    assert count(t.clerk_b.api) == {"total": 0, "overdue": 0}


def test_order_and_overdue(t):
    now = server_now(t)
    minute = 60 * 1000
    late = put(t, key="o:late", user_id=t.clerk_b.id, title="十分钟后", due_at=now + 10 * minute, kind="reply")
    soon = put(t, key="o:soon", user_id=t.clerk_b.id, title="两分钟后", due_at=now + 2 * minute, kind="sign",
               link="#/documents/17")
    none1 = put(t, key="o:none1", user_id=t.clerk_b.id, title="无期限一")
    none2 = put(t, key="o:none2", owner="meetings", user_id=t.clerk_b.id, title="无期限二")
    body = todos(t.clerk_b.api)
    assert [i["id"] for i in body["items"]] == [soon, late, none1, none2]
    assert body["total"] == 4 and body["overdue"] == 0
    first = body["items"][0]
    assert first["source"] == "documents" and first["key"] == "o:soon" and first["kind"] == "sign"
    assert first["title"] == "两分钟后" and first["link"] == "#/documents/17" and first["overdue"] is False
    assert first["due_at"].endswith("Z") or "+" in first["due_at"]
    assert first["unit_id"] is None and first["role"] is None
    nodue = body["items"][2]
    assert nodue["due_at"] is None and nodue["overdue"] is False and nodue["kind"] is None and nodue["link"] is None
    assert body["items"][3]["source"] == "meetings"

    # five minutes later (sessions stay alive): the first is overdue
    r = t.admin.post("/api/test/clock", {"advance": 5 * 60})
    assert r.status_code == 200, r.text
    body = todos(t.clerk_b.api)
    assert [i["overdue"] for i in body["items"]] == [True, False, False, False]
    assert body["total"] == 4 and body["overdue"] == 1
    assert count(t.clerk_b.api) == {"total": 4, "overdue": 1}
    only = todos(t.clerk_b.api, "?overdue=true")
    assert [i["id"] for i in only["items"]] == [soon]
    assert only["total"] == 4 and only["overdue"] == 1  # the counts ignore the filters
    assert [i["id"] for i in todos(t.clerk_b.api, "?overdue=false")["items"]] == [soon, late, none1, none2]

    # ?source and ?limit
    assert [i["id"] for i in todos(t.clerk_b.api, "?source=meetings")["items"]] == [none2]
    assert todos(t.clerk_b.api, "?source=nothing")["items"] == []
    lim = todos(t.clerk_b.api, "?limit=2")
    assert [i["id"] for i in lim["items"]] == [soon, late] and lim["total"] == 4

    # an update keeps the id and moves it in the order
    assert put(t, key="o:late", user_id=t.clerk_b.id, title="已提前", due_at=now) == late
    body = todos(t.clerk_b.api)
    assert [i["id"] for i in body["items"]][:2] == [late, soon]
    assert body["items"][0]["title"] == "已提前" and body["overdue"] == 2

    for k in ("o:late", "o:soon", "o:none1"):
        assert resolve(t, key=k) == 1
    assert resolve(t, key="o:none2", owner="meetings") == 1
    assert count(t.clerk_b.api) == {"total": 0, "overdue": 0}


def test_role_items(t):
    iid = put(t, key="doc:9:unit:%d" % t.A, unit_id=t.A, role="clerk", title="签收：甲镇", kind="sign")
    for who in (t.clerk_a, t.clerk_a2):
        items = todos(who.api)["items"]
        assert [i["id"] for i in items] == [iid]
        assert items[0]["unit_id"] == t.A and items[0]["role"] == "clerk"
    for who in (t.clerk_b, t.plain_a, t.upper):
        assert all(i["id"] != iid for i in todos(who.api)["items"])
        assert count(who.api)["total"] == 0
    # resolved (by anyone, or the subsystem): gone for everyone
    assert resolve(t, key="doc:9:unit:%d" % t.A, by_user=t.clerk_a2.id) == 1
    assert resolve(t, key="doc:9:unit:%d" % t.A) == 0
    for who in (t.clerk_a, t.clerk_a2):
        assert todos(who.api)["items"] == []
    # put again: re-opened, same id
    assert put(t, key="doc:9:unit:%d" % t.A, unit_id=t.A, role="clerk", title="再次签收") == iid
    assert [i["title"] for i in todos(t.clerk_a.api)["items"]] == ["再次签收"]
    # resolve by prefix
    put(t, key="doc:9:unit:%d" % t.B, unit_id=t.B, role="clerk", title="签收：乙镇")
    assert count(t.clerk_b.api)["total"] == 1
    assert resolve(t, prefix="doc:9:") == 2
    assert count(t.clerk_a.api)["total"] == 0 and count(t.clerk_b.api)["total"] == 0


def test_bad_parameters(t):
    for q in ("?limit=0", "?limit=501", "?limit=x", "?limit="):
        error(t.clerk_a.api.get("/api/me/todos" + q), 400, "invalid", "limit")
    for q in ("?overdue=yes", "?overdue="):
        error(t.clerk_a.api.get("/api/me/todos" + q), 400, "invalid", "overdue")
    error(t.clerk_a.api.get("/api/me/todos?source=" + "x" * 65), 400, "invalid", "source")
    assert todos(t.clerk_a.api, "?limit=500&overdue=1&source=documents")["items"] == []


def test_test_route_validation(t):
    bad = [
        {"key": "k", "user_id": t.clerk_a.id},                                        # no title
        {"key": "k", "title": "t"},                                                   # no target
        {"key": "k", "title": "t", "user_id": t.clerk_a.id, "unit_id": t.A, "role": "clerk"},  # both
        {"key": "k", "title": "t", "unit_id": t.A},                                   # no role
        {"key": "k", "title": "t", "unit_id": t.A, "role": "no_such_role"},
        {"key": "k", "title": "t", "unit_id": 999999, "role": "clerk"},
        {"key": "k", "title": "t", "user_id": 999999},
        {"key": "k", "title": "t", "user_id": t.clerk_a.id, "link": "https://example.com/"},
        {"key": "k", "title": "t", "user_id": t.clerk_a.id, "link": "//example.com/"},
        {"key": "k", "title": "x" * 201, "user_id": t.clerk_a.id},
        {"key": "", "title": "t", "user_id": t.clerk_a.id},
    ]
    for body in bad:
        body["owner"] = "documents"
        error(t.admin.post("/api/test/todos", body), 400, "invalid")
    error(t.admin.post("/api/test/todos", {"owner": "d", "key": "k", "title": "t", "user_id": 1, "x": 1}), 400,
          "invalid", "x")
    assert count(t.clerk_a.api)["total"] == 0
