#!/usr/bin/env python3
"""tests/ui/screenshots.py: PNG screenshots of the main pages for docs/screenshots/,
at PC (1366x768) and phone (375x667) size, from a real server with the demo county
(`yimen demo`) and the teaching plugins, signed in as the administrator.

  /usr/bin/python3 tests/ui/screenshots.py [OUT_DIR]     (default docs/screenshots)

Writes {login,home,admin-units,admin-users,hello}-{pc,phone}.png. Each is the
viewport only (not the full page), which keeps the files small. Chinese text needs
a CJK font in the machine running Chromium (Debian: fonts-wqy-microhei), or it
renders as boxes."""
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import conftest  # noqa: E402  (the server and the browser of the UI tests)
from helpers import ADMIN_PW, Page, api_login, form_login, open_nav  # noqa: E402

OUT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(conftest.ROOT, "docs", "screenshots"))


def settle(p, sel, timeout=10):
    p.wait(sel, timeout, visible=False)
    time.sleep(0.6)  # fonts, the live count, transitions


def shoot(p, name, size):
    path = os.path.join(OUT, "%s-%s.png" % (name, size))
    p.js("window.scrollTo(0, 0); document.activeElement && document.activeElement.blur()")
    p.d.save_screenshot(path)
    print("  %s (%d bytes)" % (os.path.relpath(path, conftest.ROOT), os.path.getsize(path)))


def seed(s):
    admin = api_login(s.url, "admin", ADMIN_PW)
    me = admin.ok("GET", "/api/me")
    uid = (me.get("user") or me)["id"]
    now = int(time.time() * 1000)
    for i, (title, due) in enumerate((("签收《关于做好防汛工作的通知》", now - 3 * 3600e3),
                                      ("回执：第三季度安全生产检查", now + 20 * 3600e3),
                                      ("审核问候：早上好", now + 3 * 86400e3))):
        admin.ok("POST", "/api/test/todos", {"owner": "core", "key": "shot:%d" % i, "user_id": uid,
                                            "title": title, "link": "#/home", "due_at": int(due), "kind": "sign"})
    for title in ("系统维护通知：今晚 22:00–23:00 暂停服务", "关于开展防汛演练的通知"):
        admin.ok("POST", "/api/admin/notify", {"title": title, "unit_id": me.get("user", me)["unit_id"],
                                               "subtree": False, "channels": []})
    for name in ("第一条示例", "第二条示例", "青石镇的条目"):
        admin.ok("POST", "/api/hello/items", {"name": name})


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="yimen-shots-") as tmp:
        s = conftest.Server(tmp, conftest.plugin_conf(), workers=2, env={"YIMEN_ADMIN_PASSWORD": ADMIN_PW})
        r = s.cli("demo")
        assert r.returncode == 0, r.stderr
        s.start()
        try:
            seed(s)
            for size in ("pc", "phone"):
                profile = tempfile.mkdtemp(prefix="yimen-shots-chrome-")
                d = conftest.chrome(size, profile)
                try:
                    p = Page(d, s.url)
                    p.open("/")
                    settle(p, "form#login")
                    shoot(p, "login", size)
                    form_login(p, "admin", ADMIN_PW)
                    settle(p, "[data-testid=todos]")
                    shoot(p, "home", size)
                    for nav, sel, name in (("admin-units", "[data-testid=unit-tree]", "admin-units"),
                                           ("admin-users", "[data-testid=user-table]", "admin-users"),
                                           ("hello", "[data-testid=hello-table]", "hello")):
                        open_nav(p, nav)
                        settle(p, sel)
                        shoot(p, name, size)
                finally:
                    d.quit()
                    shutil.rmtree(profile, ignore_errors=True)
        finally:
            s.stop()


if __name__ == "__main__":
    main()
