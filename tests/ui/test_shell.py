"""The shell in a real browser: sign-in through the plain HTML form (password, then
TOTP, then the forced password change), the home page's to-dos and notifications, the
bell updated live over SSE, the same on a phone, the language switch, and no request
to another host."""
import os
import re
import time
from urllib.parse import urlsplit

import requests

from helpers import (MENU_BUTTON, INIT_PW, NEW_PW, api_login, bell_count, console_errors, form_login, make_user,
                     open_nav, ready_user, server_step, signed_in, totp, uniq)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def notify(srv, unit, title):
    r = srv.admin.post("/api/admin/notify", {"title": title, "unit_id": unit, "subtree": False,
                                             "channels": []})
    assert r.status_code == 201, r.text
    return r.json()


def own_unit(srv, name=None):
    """A unit of one's own, so a broadcast reaches exactly the test's user."""
    from helpers import make_unit
    return make_unit(srv.admin, "village", name or uniq("村"), srv.town)


# ---------------------------------------------------------------- sign-in

def test_login_form_wrong_password_then_right_and_logout(srv, pc):
    u = ready_user(srv.url, srv.admin, srv.town)
    pc.open("/")
    pc.wait("form#login", 15)
    # password managers need real, named, labelled fields
    assert pc.js("return document.querySelector('#login-username').autocomplete") == "username"
    assert pc.js("return document.querySelector('#login-password').type") == "password"
    form_login(pc, u["username"], "wrong-password-1!", expect=False)
    err = pc.wait("#login-error", 10, what="login error")
    assert err.text.strip(), "the error element is empty"
    assert pc.find("[data-testid=nav]") is None
    form_login(pc, u["username"], NEW_PW)
    pc.wait("[data-testid=bell]", 10)
    pc.wait("[data-testid=logout]", 10, visible=False)
    # the session is a cookie: a reload keeps it
    pc.d.refresh()
    signed_in(pc)
    assert pc.find("form#login") is None, "login form still shown after a reload while signed in"
    logout = pc.find("[data-testid=logout]")
    if logout is None:  # inside a user menu
        pc.click("[data-testid=user-menu], [data-testid=user]")
    pc.click("[data-testid=logout]")
    pc.wait("form#login", 10, what="login form after logout")
    pc.d.refresh()
    pc.wait("form#login", 10, what="login form after logout and reload")
    assert "yimen_session" not in {c["name"] for c in pc.d.get_cookies() if c.get("value")}


def test_login_totp(srv, pc):
    u = ready_user(srv.url, srv.admin, srv.town)
    api = u["api"]
    r = api.post("/api/me/totp")
    assert r.status_code == 200, r.text
    secret = r.json()["secret"]
    # confirm with the previous step's code (accepted: ±1 step), so the current
    # step's code is still unused for the sign-in
    r = api.post("/api/me/totp/confirm", {"code": totp(secret, server_step(srv.url) - 1)})
    assert r.status_code == 200, r.text
    assert r.json()["totp_enabled"] is True
    form_login(pc, u["username"], NEW_PW, totp_fn=lambda: totp(secret, server_step(srv.url)))
    pc.wait("[data-testid=bell]", 10)
    me = pc.js("""return fetch('/api/me', {credentials: 'same-origin'}).then(r => r.json())""")
    assert (me.get("user") or me).get("username") == u["username"], me


def test_login_totp_wrong_code_shows_error(srv, pc):
    u = ready_user(srv.url, srv.admin, srv.town)
    secret = u["api"].post("/api/me/totp").json()["secret"]
    assert u["api"].post("/api/me/totp/confirm",
                         {"code": totp(secret, server_step(srv.url) - 1)}).status_code == 200
    step = server_step(srv.url)
    wrong = next(c for c in ("000000", "111111", "222222")
                 if c not in {totp(secret, s) for s in (step - 1, step, step + 1)})
    form_login(pc, u["username"], NEW_PW, totp_fn=lambda: wrong, expect=False)
    pc.wait_until(lambda: (pc.text("#login-error") or ""), 10, "an error for a wrong code")
    assert pc.find("[data-testid=nav]") is None


def test_forced_password_change(srv, pc):
    u = make_user(srv.admin, srv.town)  # an admin-set password must be changed
    form_login(pc, u["username"], INIT_PW, expect=False)
    pc.wait("form#password-change", 15, what="forced password change")
    assert pc.find("[data-testid=notifications]") is None, "home shown before the password change"
    old = pc.wait("#pc-old")
    if not old.get_attribute("value"):
        old.send_keys(INIT_PW)
    pc.type("#pc-new", NEW_PW)
    confirm = pc.find("#pc-confirm")  # not in the contract; filled when the page has it
    if confirm is not None:
        confirm.send_keys(NEW_PW)
    pc.click("#pc-submit")
    signed_in(pc)
    pc.wait("[data-testid=bell]", 10)
    assert pc.find("form#password-change") is None
    # the new password is the password now
    api_login(srv.url, u["username"], NEW_PW)


def test_plain_form_works_without_scripts(srv, browser):
    """index.html's form posts to the server before (or without) any script."""
    u = ready_user(srv.url, srv.admin, srv.town)
    p = browser(srv)
    d = p.d
    d.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    d.get(srv.url + "/")
    d.find_element("css selector", "#login-username").send_keys(u["username"])
    d.find_element("css selector", "#login-password").send_keys(NEW_PW)
    d.find_element("css selector", "#login-submit").click()
    end = time.time() + 10
    while time.time() < end and not any(c["name"] == "yimen_session" for c in d.get_cookies()):
        time.sleep(0.1)
    names = {c["name"]: c for c in d.get_cookies()}
    assert "yimen_session" in names, (d.current_url, d.page_source[:500])
    assert names["yimen_session"].get("httpOnly"), names["yimen_session"]
    assert urlsplit(d.current_url).path == "/", d.current_url
    # a wrong password: back to the form, flagged
    d.delete_all_cookies()
    d.get(srv.url + "/")
    d.find_element("css selector", "#login-username").send_keys(u["username"])
    d.find_element("css selector", "#login-password").send_keys("not-the-password")
    d.find_element("css selector", "#login-submit").click()
    end = time.time() + 10
    while time.time() < end and not d.current_url.endswith("#login-failed"):
        time.sleep(0.1)
    assert d.current_url.endswith("/#login-failed"), d.current_url


# ---------------------------------------------------------------- home, bell, phone

def _home_flow(srv, p, phone=False):
    unit = own_unit(srv)
    u = ready_user(srv.url, srv.admin, unit, roles=[("staff", unit)])
    now_ms = int(time.time() * 1000)
    late = uniq("逾期待办")
    soon = uniq("明日待办")
    for key, title, due in (("k-soon", soon, now_ms + 86400000), ("k-late", late, now_ms - 3600000)):
        r = srv.admin.post("/api/test/todos", {"owner": "core", "key": uniq(key), "user_id": u["id"],
                                              "title": title, "link": "#/home", "due_at": due, "kind": "sign"})
        assert r.status_code == 201, r.text
    first = uniq("第一条通知")
    notify(srv, unit, first)

    form_login(p, u["username"], NEW_PW)
    todos = p.wait("[data-testid=todos]", 10, what="to-do list")
    assert todos is not None
    p.wait_until(lambda: len(p.all("[data-testid=todo]")) >= 2, 10, "two to-dos")
    items = p.all("[data-testid=todo]")
    texts = [p.js("return arguments[0].textContent", e) for e in items]
    i_late = next(i for i, t in enumerate(texts) if late in t)
    i_soon = next(i for i, t in enumerate(texts) if soon in t)
    assert i_late < i_soon, "soonest due first: %r" % texts
    cls = lambda e: (e.get_attribute("class") or "").split()  # noqa: E731
    assert "overdue" in cls(items[i_late]), texts[i_late]
    assert "overdue" not in cls(items[i_soon]), texts[i_soon]

    p.wait("[data-testid=notifications]", 10)
    p.wait_until(lambda: any(first in t for t in p.texts("[data-testid=notification]")), 10,
                 "the notification on the home page")
    p.wait_until(lambda: bell_count(p) == 1, 10, "bell count 1")

    # live: a new notification reaches the bell without a reload
    p.js("window.__yimenNoReload = 1")
    second = uniq("实时通知")
    notify(srv, unit, second)
    p.wait_until(lambda: bell_count(p) == 2, 5, "bell count 2 within 5 s, live")
    assert p.js("return window.__yimenNoReload") == 1, "the page reloaded"
    p.wait_until(lambda: any(second in t for t in p.texts("[data-testid=notification]")), 5,
                 "the live notification in the home list")

    # all read: the count hides
    r = u["api"].post("/api/notifications/read-all")
    assert r.status_code in (200, 204), r.text
    notify(srv, unit, uniq("第三条"))  # a live event that makes the page re-count
    p.wait_until(lambda: bell_count(p) == 1, 5, "bell count 1 after read-all and one more")

    if phone:
        # nothing wider than the screen; the nav folded behind a menu button
        assert p.js("return document.documentElement.scrollWidth") <= 375 + 1, "horizontal scroll on a phone"
        assert p.find("a[data-nav=contacts]") is None, "nav not folded on a phone"
        assert p.find(MENU_BUTTON) is not None, "no visible menu button on a phone"
    # the navigation works (through the menu button on a phone)
    open_nav(p, "contacts")
    p.wait_until(lambda: "contacts" in p.d.current_url, 5, "contacts route")
    open_nav(p, "home")
    p.wait("[data-testid=todos]", 10)
    assert not [m for m in console_errors(p) if "favicon" not in m], console_errors(p)


def test_home_todos_notifications_and_live_bell_pc(srv, pc):
    _home_flow(srv, pc)


def test_home_todos_notifications_and_live_bell_phone(srv, phone):
    _home_flow(srv, phone, phone=True)


def test_language_switch(srv, pc):
    u = ready_user(srv.url, srv.admin, srv.town)
    form_login(pc, u["username"], NEW_PW)
    home = lambda: pc.js("return document.querySelector('html').lang")  # noqa: E731
    assert home().lower().startswith("zh"), home()
    pc.wait("a[data-nav=home]", 10, visible=False)  # the nav is drawn after sign-in
    # the labels come from the message table, which loads with the shell
    label_zh = pc.wait_until(lambda: re.search(r"[\u4e00-\u9fff]", pc.text("a[data-nav=home]") or "")
                             and pc.text("a[data-nav=home]"), 10, "nav label in Chinese")
    sw = pc.find("[data-testid=lang-switch]")
    if sw is None:  # inside a user menu
        pc.click("[data-testid=user-menu], [data-testid=user]")
    sw = pc.wait("[data-testid=lang-switch]")
    if sw.tag_name.lower() == "select":
        pc.set_value("[data-testid=lang-switch]", "en")
    else:
        pc.click("[data-testid=lang-switch]")
    pc.wait_until(lambda: (pc.text("a[data-nav=home]") or "") != label_zh, 5, "nav relabelled in English")
    assert re.search(r"[A-Za-z]", pc.text("a[data-nav=home]")), pc.text("a[data-nav=home]")


# ---------------------------------------------------------------- no other host

def test_shell_loads_nothing_from_another_host(srv, pc):
    u = ready_user(srv.url, srv.admin, srv.town, roles=[("staff", srv.town)])
    pc.open("/")
    pc.wait("form#login", 15)
    origin = srv.url
    before = pc.js("return performance.getEntriesByType('resource').map(e => e.name)")
    form_login(pc, u["username"], NEW_PW)
    open_nav(pc, "contacts")
    time.sleep(0.5)
    after = pc.js("return performance.getEntriesByType('resource').map(e => e.name)")
    nav = pc.js("return performance.getEntriesByType('navigation').map(e => e.name)")
    urls = set(before) | set(after) | set(nav)
    assert any("/kit/" in x for x in urls), "no kit module loaded: %r" % sorted(urls)
    foreign = [x for x in urls if not x.startswith(origin + "/")]
    assert not foreign, foreign


def test_every_module_and_style_is_fetched_by_its_hash(srv, pc):
    """Long cache: every script, style sheet and core message table the shell fetches has
    ?v=<hash>."""
    u = ready_user(srv.url, srv.admin, srv.town, roles=[("staff", srv.town)])
    form_login(pc, u["username"], NEW_PW)
    pc.wait("[data-testid=todos]", 10)
    urls = pc.js("return performance.getEntriesByType('resource').map(e => e.name)")
    mods = [x for x in urls if re.search(r"\.(js|css)(\?|$)", x) or "/i18n/" in x]
    assert mods, urls
    assert any("/i18n/zh-CN.json?v=" in x for x in mods), mods
    unversioned = [x for x in mods if "?v=" not in x]
    assert not unversioned, "fetched without ?v= (not long-cached): %r" % unversioned


FOREIGN = re.compile(r"(?:https?:)?//[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
ALLOWED = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xhtml", "http://www.w3.org/1999/xlink"}


def test_no_url_to_another_host_in_the_shipped_files():
    """core/www and every plugin's www/: no URL to another host, comments included
    (XML namespace names, which are never fetched, excepted)."""
    roots = [os.path.join(ROOT, "core", "www")]
    for base in ("plugins", "lua"):
        for n in sorted(os.listdir(os.path.join(ROOT, base))):
            d = os.path.join(ROOT, base, n, "www")
            if os.path.isdir(d):
                roots.append(d)
    bad = []
    for r in roots:
        for dirpath, _, files in os.walk(r):
            for f in files:
                path = os.path.join(dirpath, f)
                try:
                    text = open(path, encoding="utf-8").read()
                except UnicodeDecodeError:
                    continue
                for m in FOREIGN.finditer(text):
                    s = m.group(0)
                    if s.startswith("//") and not re.match(r"//[a-z0-9-]+\.[a-z]{2,}", s):
                        continue  # a // comment
                    if s in ALLOWED or any(a.startswith(s) for a in ALLOWED):
                        continue
                    line = text.count("\n", 0, m.start()) + 1
                    bad.append("%s:%d: %s" % (os.path.relpath(path, ROOT), line, s))
    assert not bad, "\n".join(bad)


def test_cache_headers(srv):
    r = requests.get(srv.url + "/", headers={"Accept-Encoding": "gzip"}, timeout=5)
    assert r.status_code == 200
    assert "no-cache" in r.headers.get("Cache-Control", ""), r.headers
    m = re.search(r'<script type="importmap">(.*?)</script>', r.text, re.S)
    assert m, "no import map in the shell page"
    import json
    imports = json.loads(m.group(1))["imports"]
    assert "/kit/api.js" in imports and "?v=" in imports["/kit/api.js"], imports
    js = requests.get(srv.url + imports["/kit/api.js"], headers={"Accept-Encoding": "gzip"}, timeout=5)
    assert js.status_code == 200
    assert "immutable" in js.headers.get("Cache-Control", ""), js.headers
    assert js.headers.get("Content-Encoding") == "gzip", js.headers
    assert "<!--yimen:" not in r.text, "a marker left unreplaced"
