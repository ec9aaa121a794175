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


@pytest.fixture(scope="module")
def pine(t):
    """Under township A: units whose name holds 松涛林 and users whose job title holds it
    (the body of a user's document), created in this order (ids ascend); one unit has it
    in both its name and its short name. Readers with directory read on A and on B."""
    t.p_unit1 = make_unit(t.admin, "village", "松涛林场一队", parent=t.A)
    t.p_user1 = person(t.srv, t.admin, t.A, display_name="李护林", title="松涛林场护林员").id
    t.p_unit2 = make_unit(t.admin, "village", "松涛林场二队", parent=t.A, short_name="松涛林二")
    t.p_user2 = person(t.srv, t.admin, t.A, display_name="王护林", title="松涛林场管护员").id
    r = t.admin.post("/api/roles", {"key": "dirread", "name": "查阅名录", "permissions": ["units.read", "users.read"]})
    assert r.status_code == 201, r.text
    t.readA = person(t.srv, t.admin, t.A, roles=[("dirread", t.A, True)], display_name="甲镇查阅")
    t.readB = person(t.srv, t.admin, t.B, roles=[("dirread", t.B, True)], display_name="乙镇查阅")
    return t


def pine_refs(t):
    return ["unit:%d" % t.p_unit2, "unit:%d" % t.p_unit1, "user:%d" % t.p_user2, "user:%d" % t.p_user1]


def test_title_matches_first_then_the_rest_newest_first(pine):
    t = pine
    body = search(t.admin, "松涛林")
    assert [i["ref"] for i in body["items"]] == pine_refs(t)
    assert body["next"] is None
    by_ref = {i["ref"]: i for i in body["items"]}
    assert by_ref["unit:%d" % t.p_unit2]["snippet"] == "【松涛林】场二队"
    assert "【松涛林】场管护员" in by_ref["user:%d" % t.p_user2]["snippet"]
    # a title match whose body matches too is listed once, in the title stream
    assert len(body["items"]) == len(set(by_ref))


def test_paging_walks_both_streams_once(pine):
    t = pine
    for limit in (1, 2, 3):
        seen, after, pages = [], None, 0
        while True:
            page = search(t.admin, "松涛林", limit=limit, **({"after": after} if after else {}))
            pages += 1
            assert len(page["items"]) <= limit
            seen += [i["ref"] for i in page["items"]]
            if page["next"] is None:
                break
            after = page["next"]
            assert isinstance(after, int) and after > 0
        assert seen == pine_refs(t), limit
        assert pages == -(-4 // limit)


def test_kind_filter_in_both_streams(pine):
    t = pine
    assert [i["ref"] for i in search(t.admin, "松涛林", kind="unit")["items"]] == pine_refs(t)[:2]
    assert [i["ref"] for i in search(t.admin, "松涛林", kind="user")["items"]] == pine_refs(t)[2:]
    page = search(t.admin, "松涛林", kind="user", limit=1)
    assert [i["ref"] for i in page["items"]] == pine_refs(t)[2:3]
    page = search(t.admin, "松涛林", kind="user", limit=1, after=page["next"])
    assert [i["ref"] for i in page["items"]] == pine_refs(t)[3:] and page["next"] is None
    assert search(t.admin, "松涛林", kind="documents")["items"] == []
    error(t.admin.get("/api/search?q=abc&kind=" + "k" * 65), 400, "invalid", "kind")


def test_unit_scope_in_both_streams(pine):
    t = pine
    assert [i["ref"] for i in search(t.readA.api, "松涛林")["items"]] == pine_refs(t)
    body = search(t.readB.api, "松涛林")
    assert body["items"] == [] and body["next"] is None
    # the reader of B sees B's own people through a body match
    me = search(t.readB.api, "乙镇查阅")["items"]
    assert [i["ref"] for i in me] == ["user:%d" % t.readB.id]


def test_bad_cursor(pine):
    t = pine
    for bad in ("abc", "-1", "0", "1.5", "", "99999999999999999999"):
        if bad == "":
            assert t.admin.get("/api/search?q=松涛林&after=").status_code == 200
            continue
        error(t.admin.get("/api/search?q=松涛林&after=" + bad), 400, "invalid", "after")
    # a cursor below every id: the title stream is done, the rest follows
    assert [i["ref"] for i in search(t.admin, "松涛林", after=1)["items"]] == pine_refs(t)[2:]


def test_updates_move_a_document_between_streams(pine):
    t = pine
    r = t.admin.patch("/api/units/%d" % t.p_unit1, {"name": "柏树坪一队", "short_name": "松涛林一"})
    assert r.status_code == 200, r.text
    refs = [i["ref"] for i in search(t.admin, "松涛林")["items"]]
    # no longer in the title: among the rest, by id (the unit is the oldest)
    assert refs == ["unit:%d" % t.p_unit2, "user:%d" % t.p_user2, "user:%d" % t.p_user1, "unit:%d" % t.p_unit1]
    assert [i["ref"] for i in search(t.admin, "柏树坪")["items"]] == ["unit:%d" % t.p_unit1]
