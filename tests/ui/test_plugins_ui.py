"""The teaching plugins' pages in a real browser (hello in C, hello_lua in Lua): list,
create, the API's field error shown next to the field; a plugin disabled by a config
reload loses its navigation entry and its /ui/<name>/ files; the navigation follows
the user's permissions."""
import tempfile
import time

import pytest
import requests

from conftest import plugin_conf, start_server
from helpers import ADMIN_PW, NEW_PW, api_login, form_login, make_unit, open_nav, ready_user, uniq

NEAR_PX = 80  # "next to the field": the error within this many pixels of the input


def _near(p, field_sel, err):
    f = p.wait(field_sel)
    a = p.js("const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]", f)
    b = p.js("const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]", err)
    dy = max(0, b[1] - a[3], a[1] - b[3])
    dx = max(0, b[0] - a[2], a[0] - b[2])
    return dy <= NEAR_PX and dx <= NEAR_PX, (a, b)


@pytest.mark.parametrize("plugin,nav,table,new,field,save,name,limit_text", [
    ("hello", "hello", "hello-table", "hello-new", "#hello-name", "hello-save", "name", "长" * 70),
    ("hello_lua", "hello_lua", "greeting-table", "greeting-new", "#greeting-text", "greeting-save", "text",
     "长" * 201),
])
def test_teaching_page_create_and_field_error(srv, pc, plugin, nav, table, new, field, save, name, limit_text):
    form_login(pc, "admin", ADMIN_PW)
    open_nav(pc, nav)
    pc.wait_until(lambda: "#/p/%s/%s" % (plugin, nav) in pc.d.current_url, 5, "the plugin's route")
    pc.wait("[data-testid=%s]" % table, 10, what="the plugin's table")
    text = uniq("界面条目")
    pc.click("button[data-testid=%s]" % new)
    pc.type(field, text)
    pc.click("button[data-testid=%s]" % save)
    pc.wait_until(lambda: any(text in t for t in pc.texts("[data-testid=%s]" % table)), 10,
                  "the new row in the table")
    # too long: the API's field error next to the field
    if pc.find(field) is None:
        pc.click("button[data-testid=%s]" % new)
    f = pc.wait(field)
    pc.js("arguments[0].removeAttribute('maxlength')", f)  # the server's check, not the browser's
    pc.type(field, limit_text)
    pc.click("button[data-testid=%s]" % save)
    err = pc.wait("[data-error-for=%s]" % name, 10, what="the field error")
    assert err.text.strip(), "empty field error"
    near, boxes = _near(pc, field, err)
    assert near, "the error is not next to the field: %r" % (boxes,)
    assert not any(limit_text in t for t in pc.texts("[data-testid=%s]" % table))


def test_plugin_nav_follows_permissions(srv, pc):
    unit = make_unit(srv.admin, "village", uniq("村"), srv.town)
    role = uniq("hello_reader")
    r = srv.admin.post("/api/roles", {"key": role, "name": role, "permissions": ["hello.read"]})
    assert r.status_code == 201, r.text
    u = ready_user(srv.url, srv.admin, unit, roles=[(role, unit)])
    form_login(pc, u["username"], NEW_PW)
    pc.wait("a[data-nav=hello]", 10, visible=False)
    assert not pc.all("a[data-nav=hello_lua]"), "hello_lua shown without hello_lua.read"
    m = u["api"].ok("GET", "/api/ui/manifest")
    names = {p["name"] for p in m["plugins"] if p.get("nav")}
    assert names == {"hello"}, m


def test_disabled_plugin_loses_nav_and_files(browser):
    with tempfile.TemporaryDirectory(prefix="yimen-ui-reload-") as tmp:
        # the old generation keeps the browser's idle keep-alive connections until the end of
        # timeouts.drain (a request may be on the wire): a short drain, then wait it out
        s = start_server(tmp, extra='timeouts = { drain = "1s" }\n')
        try:
            p = browser(s, "pc")
            form_login(p, "admin", ADMIN_PW)
            p.wait("a[data-nav=hello]", 10, visible=False)
            p.wait("a[data-nav=hello_lua]", 10, visible=False)
            assert requests.get(s.url + "/ui/hello/manifest.json", timeout=5).status_code == 200
            html = requests.get(s.url + "/", timeout=5).text
            assert "/ui/hello/" in html, "hello's modules not in the import map"
            gen = s.generation()
            s.write_config(plugin_conf(("hello_lua",)))
            s.reload_and_wait(gen + 1)
            time.sleep(1.5)
            p.d.refresh()
            p.wait("a[data-nav=hello_lua]", 15, visible=False, what="hello_lua still there")
            assert not p.all("a[data-nav=hello]"), "hello's nav entry after it was disabled"
            for path in ("/ui/hello/manifest.json", "/ui/hello/page.js"):
                st = p.js("return fetch(arguments[0], {cache: 'no-store'}).then(r => r.status)", path)
                assert st == 404, (path, st)
            assert "/ui/hello/" not in requests.get(s.url + "/", timeout=5).text
            # its route shows no page of hello's
            p.open("/#/p/hello/hello")
            p.wait("[data-testid=nav]", 10, visible=False)
            assert p.find("[data-testid=hello-table]") is None
            admin = api_login(s.url, "admin", ADMIN_PW)
            assert {x["name"] for x in admin.ok("GET", "/api/ui/manifest")["plugins"]} == {"hello_lua"}
        finally:
            s.stop()
