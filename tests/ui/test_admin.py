"""The admin pages in a real browser: the administrator creates a unit and a user
through the forms, the new user signs in; the plugins page lists the plugins; a user
without admin rights sees no admin navigation."""
import time

from helpers import (ADMIN_PW, NEW_PW, api_login, form_login, open_nav, ready_user, uniq)


def _admin_in(srv, p):
    form_login(p, "admin", ADMIN_PW)


def test_admin_creates_a_unit(srv, pc):
    _admin_in(srv, pc)
    open_nav(pc, "admin-units")
    pc.wait("[data-testid=unit-tree]", 10, what="unit tree")
    name = uniq("新建测试村")
    pc.click("button[data-testid=unit-new]")
    pc.type("#unit-name", name)
    pc.set_value("#unit-kind", "village")
    pc.set_value("#unit-parent", str(srv.town))
    pc.click("button[data-testid=unit-save]")
    pc.wait_until(lambda: any(name in t for t in pc.texts("[data-testid=unit-tree]")), 10,
                  "the new unit in the tree")
    items = srv.admin.ok("GET", "/api/units?q=" + name)["items"]
    assert len(items) == 1 and items[0]["parent_id"] == srv.town and items[0]["kind"] == "village", items


def test_admin_unit_field_error(srv, pc):
    _admin_in(srv, pc)
    open_nav(pc, "admin-units")
    pc.click("button[data-testid=unit-new]")
    pc.type("#unit-name", "长" * 70)  # 210 bytes: over the server's 200
    pc.set_value("#unit-kind", "village")
    pc.set_value("#unit-parent", str(srv.town))
    pc.click("button[data-testid=unit-save]")
    err = pc.wait("[data-error-for=name]", 10, what="field error next to the unit name")
    assert err.text.strip()


def test_admin_creates_a_user_who_then_signs_in(srv, pc, browser):
    _admin_in(srv, pc)
    open_nav(pc, "admin-users")
    pc.wait("[data-testid=user-table]", 10, what="user table")
    username = uniq("newclerk")
    pc.click("button[data-testid=user-new]")
    pc.type("#user-username", username)
    pc.type("#user-display-name", "新办事员")
    pc.set_value("#user-unit", str(srv.town))
    pc.type("#user-password", "Initial-Pass-9731!")
    pc.click("button[data-testid=user-save]")
    pc.wait_until(lambda: any(username in t for t in pc.texts("[data-testid=user-table]")), 10,
                  "the new user in the table")
    users = srv.admin.ok("GET", "/api/users?q=" + username)["items"]
    assert len(users) == 1 and users[0]["unit_id"] == srv.town, users
    # the new user signs in (and must change the admin-set password first)
    p2 = browser(srv, "pc")
    from helpers import INIT_PW
    form_login(p2, username, INIT_PW, expect=False)
    p2.wait("form#password-change", 15)


def test_admin_plugins_page(srv, pc):
    _admin_in(srv, pc)
    open_nav(pc, "admin-plugins")
    for name in ("hello", "hello_lua"):
        row = pc.wait("[data-testid=plugin-row][data-name=%s]" % name, 10, what="plugin row")
        assert row.text.strip()
    pc.wait("button[data-testid=reload]", 10)


def test_no_admin_navigation_for_staff(srv, pc):
    u = ready_user(srv.url, srv.admin, srv.town, roles=[("staff", srv.town)])
    form_login(pc, u["username"], NEW_PW)
    time.sleep(0.5)
    for nav in ("home", "search", "contacts", "account"):
        assert pc.all("a[data-nav=%s]" % nav), "no nav entry %s" % nav
    for nav in ("admin-units", "admin-users", "admin-roles", "admin-plugins", "admin-audit", "hello",
                "hello_lua"):
        assert not pc.all("a[data-nav=%s]" % nav), "a staff member without grants sees %s" % nav
    api_login(srv.url, u["username"], NEW_PW)


def test_admin_creates_a_role_and_sees_the_duplicate_key_error(srv, pc):
    _admin_in(srv, pc)
    open_nav(pc, "admin-roles")
    pc.wait("[data-testid=role-table] tr[data-key=system_admin]", 10, what="role table")
    key = uniq("archivist").lower().replace("-", "_")
    pc.click("button[data-testid=role-new]")
    pc.type("#role-key", key)
    pc.type("#role-name", "档案员")
    pc.type("#role-description", "管档案")
    for perm in ("units.read", "contacts.read"):
        box = pc.wait('input[data-perm="%s"]' % perm, 10, what="permission checkbox")
        label = pc.js("return document.querySelector('label[for=\"' + arguments[0].id + '\"]').textContent", box)
        assert perm in label and len(label.strip()) > len(perm), label  # the name and its label
        pc.click('input[data-perm="%s"]' % perm)
    pc.click("button[data-testid=role-save]")
    pc.wait("[data-testid=role-table] tr[data-key=%s]" % key, 10, what="the new role in the table")
    role = next(r for r in srv.admin.ok("GET", "/api/roles?limit=500")["items"] if r["key"] == key)
    assert role["permissions"] == ["contacts.read", "units.read"] and role["name"] == "档案员", role
    # the same key again: the server's 409 shows next to the key field, localized, its message as title
    pc.click("button[data-testid=role-new]")
    pc.type("#role-key", key)
    pc.type("#role-name", "另一个档案员")
    pc.click('input[data-perm="units.read"]')
    pc.click("button[data-testid=role-save]")
    err = pc.wait("[data-error-for=key]", 10, what="field error next to the role key")
    title = err.get_attribute("title") or ""
    assert err.text.strip() and err.text.strip() != title, err.text  # zh-CN by default: not the English
    assert "exists" in title, title
