"""The web UI's server side for plugins: each enabled plugin's www/ served at
/ui/<name>/ (and gone once the plugin is disabled and the server reloaded), its
modules in the shell's import map, and GET /api/ui/manifest: checked manifests,
module URLs with the content hash, nav entries filtered by the caller's permissions.

The plugins are small Lua plugins written into a temporary plugin directory, so these
tests do not depend on the teaching plugins' real pages."""
import json
import os
import re
import tempfile
import textwrap
import time

import pytest
import requests

from conftest import ADMIN_PASSWORD, Server
from directory_helpers import login, uniq

AUTH = ('auth = { argon2 = { memory = "1MiB", iterations = 1 }, '
        'rate_limit = { per_ip = 1000, per_account = 1000 } }\n')
INIT_PW = "Initial-Pass-7731!"
NEW_PW = "Changed-Pass-7731!"
PAGE_JS = b"export default async function render(el) { el.textContent = 'uitest'; }\n"
BIG_JS = b"// a module large enough to be worth gzipping\n" + b"export const rows = [\n" + \
    b"".join(b"  {id: %d, name: 'row %d'},\n" % (i, i) for i in range(200)) + b"];\n"


def plugin(base, name, perms, www):
    d = os.path.join(base, name)
    os.makedirs(d, exist_ok=True)
    lines = "\n".join('  yimen.permission("%s", "权限", "permission")' % p for p in perms)
    with open(os.path.join(d, "init.lua"), "w") as f:
        f.write(textwrap.dedent("""\
            local yimen = require "yimen"
            local M = { name = "%s", version = "1.0.0", core_min = "0.1" }
            function M.init()
            %s
            end
            return M
            """) % (name, lines))
    for rel, data in www.items():
        p = os.path.join(d, "www", rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data if isinstance(data, bytes) else json.dumps(data, ensure_ascii=False).encode())
    return d


UITEST_MANIFEST = {
    "nav": [
        {"id": "items", "label": {"zh-CN": "示例条目", "en": "Items"}, "permission": "uitest.read",
         "module": "page.js"},
        {"id": "about-1", "label": {"zh-CN": "关于"}, "permission": "user", "module": "sub/about.js"},
    ],
    "messages": {"zh-CN": {"uitest.title": "示例"}, "en": {"uitest.title": "Sample"}},
}


def conf(plugins_dir, enabled):
    return ('plugin_paths = { "%s" }\nplugins = { %s }\n' % (plugins_dir, ", ".join('"%s"' % n for n in enabled))
            + AUTH)


class Who:
    def __init__(self, server, token):
        self.server, self.token = server, token

    def get(self, path):
        return requests.get(self.server.url + path, headers={"Authorization": "Bearer " + self.token}, timeout=10)

    def post(self, path, body):
        return requests.post(self.server.url + path, json=body,
                             headers={"Authorization": "Bearer " + self.token}, timeout=10)


@pytest.fixture(scope="module")
def U():
    with tempfile.TemporaryDirectory(prefix="yimen-ui-") as tmp:
        plugins = os.path.join(tmp, "plugins")
        outside = os.path.join(tmp, "outside.js")
        with open(outside, "wb") as f:
            f.write(b"OUTSIDE-SECRET-e41")
        d = plugin(plugins, "uitest", ["uitest.read"], {
            "manifest.json": UITEST_MANIFEST, "page.js": PAGE_JS, "sub/about.js": BIG_JS,
            "style.css": b"p{color:red}", ".hidden.js": b"HIDDEN"})
        os.symlink(outside, os.path.join(d, "www", "leak.js"))
        plugin(plugins, "uibad", ["uibad.read"], {
            "manifest.json": {"nav": [{"id": "x", "label": {"zh-CN": "坏"}, "permission": "no.such.perm",
                                       "module": "page.js"}],
                              "messages": {"zh-CN": {"uibad.t": "坏"}}},
            "page.js": PAGE_JS})
        plugin(plugins, "uinone", [], {"page.js": PAGE_JS})      # pages but no manifest
        lk = plugin(plugins, "uilink", [], {})                 # www/ is a link out of its directory
        os.makedirs(os.path.join(tmp, "elsewhere"))
        with open(os.path.join(tmp, "elsewhere", "page.js"), "wb") as f:
            f.write(b"OUTSIDE-SECRET-www")
        os.symlink(os.path.join(tmp, "elsewhere"), os.path.join(lk, "www"))
        plugin(plugins, "uioff", [], {"manifest.json": {"nav": []}, "page.js": PAGE_JS})  # never enabled
        www = os.path.join(tmp, "www")
        os.makedirs(www)
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write("<!doctype html><head><!--yimen:importmap--></head><body>shell</body>\n")
        s = Server(tmp, workers=1)
        s.www_root = www
        s.write_config(conf(plugins, ["uitest", "uibad", "uinone", "uilink"]))
        s.start()
        try:
            admin = Who(s, login(s, "admin", ADMIN_PASSWORD))
            root = admin.get("/api/units?kind=county").json()["items"][0]["id"]
            r = admin.post("/api/roles", {"key": "uitest_reader", "name": "读", "permissions": ["uitest.read"]})
            assert r.status_code == 201, r.text

            def person(role):
                r = admin.post("/api/users", {"username": uniq("ui"), "display_name": "测试", "unit_id": root,
                                              "password": INIT_PW})
                assert r.status_code == 201, r.text
                g = admin.post("/api/grants", {"user_id": r.json()["id"], "role": role, "unit_id": root,
                                               "include_descendants": True})
                assert g.status_code == 201, g.text
                who = Who(s, login(s, r.json()["username"], INIT_PW))
                assert who.post("/api/me/password", {"old_password": INIT_PW, "new_password": NEW_PW}).status_code == 204
                return who
            yield type("U", (), {"s": s, "tmp": tmp, "plugins": plugins, "admin": admin,
                                 "reader": person("uitest_reader"), "staff": person("staff")})
        finally:
            rc = s.stop()
            assert rc == 0, s.log_text()[-4000:]


def by_name(resp):
    assert resp.status_code == 200, resp.text
    return {p["name"]: p for p in resp.json()["plugins"]}


def version(server, path):
    m = re.search(r'<script type="importmap">(.*?)</script>', requests.get(server.url + "/", timeout=10).text, re.S)
    return json.loads(m.group(1))["imports"].get(path) if m else None


def test_plugin_files_served_while_enabled(U):
    r = requests.get(U.s.url + "/ui/uitest/page.js", timeout=10)
    assert r.status_code == 200 and r.content == PAGE_JS
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    r = requests.get(U.s.url + "/ui/uitest/sub/about.js", timeout=10)
    assert r.status_code == 200 and r.content == BIG_JS
    assert requests.get(U.s.url + "/ui/uinone/page.js", timeout=10).status_code == 200


def test_plugin_files_never_leak(U):
    for path in ("/ui/uitest/leak.js", "/ui/uitest/.hidden.js", "/ui/uitest/%2e%2e/uitest/page.js",
                 "/ui/uitest/%2e%2e/init.lua", "/ui/uitest/init.lua", "/ui/uioff/page.js", "/ui/nosuch/page.js", "/ui/uilink/page.js"):
        r = requests.get(U.s.url + path, timeout=10)
        assert r.status_code in (400, 404), (path, r.status_code)
        assert b"OUTSIDE-SECRET" not in r.content and b"HIDDEN" not in r.content


def test_manifest_needs_sign_in(U):
    assert requests.get(U.s.url + "/api/ui/manifest", timeout=10).status_code == 401


def test_manifest_for_reader(U):
    ps = by_name(U.reader.get("/api/ui/manifest"))
    assert set(ps) == {"uitest", "uibad"}, ps          # enabled plugins with a manifest only
    t = ps["uitest"]
    assert t["base"] == "/ui/uitest/"
    assert t["messages"] == UITEST_MANIFEST["messages"]
    assert [n["id"] for n in t["nav"]] == ["items", "about-1"]
    items = t["nav"][0]
    assert set(items) == {"id", "label", "permission", "module", "route"}
    assert items["label"] == {"zh-CN": "示例条目", "en": "Items"}
    assert items["permission"] == "uitest.read"
    assert items["route"] == "#/p/uitest/items"
    assert re.fullmatch(r"/ui/uitest/page\.js\?v=[0-9a-f]{8}", items["module"]), items
    assert t["nav"][1]["module"].startswith("/ui/uitest/sub/about.js?v=")
    # the module URL is the one of the import map, and it is cached for a year
    assert version(U.s, "/ui/uitest/page.js") == items["module"]
    r = requests.get(U.s.url + items["module"], timeout=10)
    assert r.status_code == 200 and r.content == PAGE_JS
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_manifest_filtered_by_permission(U):
    t = by_name(U.staff.get("/api/ui/manifest"))["uitest"]
    assert [n["id"] for n in t["nav"]] == ["about-1"]    # no uitest.read: no "items"
    assert t["messages"] == UITEST_MANIFEST["messages"]
    a = by_name(U.admin.get("/api/ui/manifest"))["uitest"]
    assert [n["id"] for n in a["nav"]] == ["items", "about-1"]


def test_bad_manifest_gives_no_nav(U):
    bad = by_name(U.reader.get("/api/ui/manifest"))["uibad"]
    assert bad["nav"] == [] and bad["messages"] == {}
    assert "plugin manifest refused" in U.s.log_text() and "plugin=uibad" in U.s.log_text()
    assert U.s.healthy()


def test_disabled_plugin_pages_gone_after_reload(U):
    assert requests.get(U.s.url + "/ui/uitest/page.js", timeout=10).status_code == 200
    U.s.write_config(conf(U.plugins, ["uibad", "uinone"]))
    U.s.reload_and_wait(2)
    deadline = time.time() + 15
    while time.time() < deadline:
        r = requests.get(U.s.url + "/ui/uitest/page.js", headers={"Connection": "close"}, timeout=10)
        if r.status_code == 404:
            break
        time.sleep(0.1)
    assert r.status_code == 404
    assert requests.get(U.s.url + "/ui/uibad/page.js", timeout=10).status_code == 200
    assert "uitest" not in by_name(U.reader.get("/api/ui/manifest"))
    assert version(U.s, "/ui/uitest/page.js") is None
