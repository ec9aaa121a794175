"""GET /api/search: the directory feed at start (the root unit 本县 and the admin 系统管理员),
the LIKE path (1-2 characters) and the trigram path (3+), permission filtering, paging and
the errors of ?q=."""
import pytest

from directory_helpers import Api, county, error, make_unit, person, serve


@pytest.fixture(scope="module")
def srv():
    yield from serve("yimen-search-")


@pytest.fixture(scope="module")
def t(srv):
    return county(srv)


def search(api, q, **params):
    from urllib.parse import urlencode
    r = api.get("/api/search?" + urlencode(dict(q=q, **params)))
    assert r.status_code == 200, r.text
    return r.json()


def test_root_unit_two_characters(t):
    body = search(t.admin, "本县")
    refs = [i["ref"] for i in body["items"]]
    assert "unit:%d" % t.root in refs
    item = next(i for i in body["items"] if i["ref"] == "unit:%d" % t.root)
    assert item["kind"] == "unit" and item["title"] == "本县" and item["unit_id"] == t.root
    assert "【本县】" in item["snippet"]
    assert body["next"] is None


def test_admin_display_name_fts(t):
    body = search(t.admin, "系统管理员")
    users = [i for i in body["items"] if i["kind"] == "user"]
    assert len(users) == 1 and users[0]["title"] == "系统管理员"
    assert "【" in users[0]["snippet"] and "】" in users[0]["snippet"]
    # the body holds "username title phone": the username is found too
    assert any(i["kind"] == "user" for i in search(t.admin, "admin")["items"])
    # kind filter
    assert search(t.admin, "系统管理员", kind="unit")["items"] == []
    # a quote in q is part of the phrase, not syntax
    assert search(t.admin, 'adm"in')["items"] == []


def test_paging(t):
    # "本县" is in the root unit's name only
    first = search(t.admin, "本县", limit=1)
    assert len(first["items"]) == 1 and first["next"] is None
    # FTS: the cursor is an offset; LIKE: an id. Walk both with limit=1.
    for q in ("admin", "系统"):
        seen, after = [], ""
        for _ in range(5):
            page = search(t.admin, q, limit=1, **({"after": after} if after else {}))
            seen += [i["ref"] for i in page["items"]]
            if page["next"] is None:
                break
            after = str(page["next"])
        assert len(seen) == len(set(seen)) >= 1
    error(t.admin.get("/api/search?q=abc&after=x"), 400, "invalid", "after")


def test_permission_filtering(t):
    other = person(t.srv, t.admin, t.A, display_name="甲镇干部")
    assert search(other.api, "系统管理员")["items"] == []
    assert search(other.api, "admin")["items"] == []
    assert not any(i["kind"] == "user" for i in search(other.api, "本县")["items"])
    # the admin still sees it
    assert search(t.admin, "系统管理员")["items"]


def test_errors(srv, t):
    error(t.admin.get("/api/search"), 400, "invalid", "q")
    error(t.admin.get("/api/search?q="), 400, "invalid", "q")
    error(t.admin.get("/api/search?q=" + "县" * 201), 400, "invalid", "q")
    assert t.admin.get("/api/search?q=" + "县" * 200).status_code == 200
    error(t.admin.get("/api/search?q=abc&limit=0"), 400, "invalid", "limit")
    error(Api(srv).get("/api/search?q=本县"), 401)


def test_directory_changes_reach_the_index(t):
    """Every write to a unit or user updates the index in the same transaction."""
    uid = make_unit(t.admin, "village", "青石岭村", parent=t.A)
    assert [i["ref"] for i in search(t.admin, "青石岭")["items"]] == ["unit:%d" % uid]
    r = t.admin.patch("/api/units/%d" % uid, {"name": "白云岭村"})
    assert r.status_code == 200, r.text
    assert search(t.admin, "青石岭")["items"] == []
    assert [i["ref"] for i in search(t.admin, "白云岭")["items"]] == ["unit:%d" % uid]
    p = person(t.srv, t.admin, t.A, display_name="欧阳明远")
    assert [i["ref"] for i in search(t.admin, "欧阳明远")["items"]] == ["user:%d" % p.id]
    r = t.admin.post("/api/users/%d/disable" % p.id)
    assert r.status_code in (200, 204), r.text
    assert search(t.admin, "欧阳明远")["items"] == []
