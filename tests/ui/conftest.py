"""Fixtures of the browser tests: a real yimen server (master + 2 workers, fast
argon2, the hello and hello_lua plugins) started once per session with the API
tests' Server class, and Chromium through Selenium (headless, a fresh profile per
test) at PC (1366x768) or phone (375x667) size. A failing test leaves a screenshot,
the page's HTML and the browser console under tests/ui/artifacts/.

Chromium missing is an error, never a skip: `make deps` installs chromium,
chromium-driver and python3-selenium."""
import importlib.util
import os
import re
import shutil
import sys
import tempfile
from types import SimpleNamespace

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
API_DIR = os.path.join(HERE, "..", "api")
sys.path.insert(0, os.path.abspath(API_DIR))

# tests/api/conftest.py under its own name (this file is `conftest` already)
_spec = importlib.util.spec_from_file_location("yimen_api_conftest", os.path.join(API_DIR, "conftest.py"))
api_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(api_conftest)
Server = api_conftest.Server
ROOT = api_conftest.ROOT

from helpers import ADMIN_PW, Api, Page, api_login, make_unit  # noqa: E402

CHROMIUM = os.environ.get("YIMEN_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("YIMEN_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = os.path.join(HERE, "artifacts")
BUILT = os.path.join(ROOT, "build", "plugins")
LUA = os.path.join(ROOT, "lua")
SIZES = {"pc": (1366, 768), "phone": (375, 667)}

# as tests/api/directory_helpers.EXTRA, with sessions that outlive the suite
AUTH = ('auth = { argon2 = { memory = "1MiB", iterations = 1 }, '
        'rate_limit = { per_ip = 100000, per_account = 100000 }, '
        'idle_timeout = 1000000000, absolute_timeout = 1000000000 }\n')


def plugin_conf(enabled=("hello", "hello_lua")):
    return ('plugin_paths = { "%s", "%s" }\n' % (BUILT, LUA)
            + "plugins = { %s }\n" % ", ".join('"%s"' % n for n in enabled) + AUTH)


def _check_browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail("the UI tests need Chromium: %s missing (run `make deps`: chromium chromium-driver "
                    "python3-selenium)" % ", ".join(missing), pytrace=False)


def start_server(tmp, enabled=("hello", "hello_lua"), extra=""):
    s = Server(tmp, plugin_conf(enabled) + extra, workers=2, env={"YIMEN_ADMIN_PASSWORD": ADMIN_PW})
    s.start()
    return s


@pytest.fixture(scope="session")
def srv():
    """The shared server, with the administrator signed in (srv.admin, an Api) and a
    township (srv.town) for the users the tests make."""
    _check_browser()
    with tempfile.TemporaryDirectory(prefix="yimen-ui-") as tmp:
        s = start_server(tmp)
        try:
            s.admin = api_login(s.url, "admin", ADMIN_PW)
            s.root = s.admin.ok("GET", "/api/units?kind=county")["items"][0]["id"]
            s.town = make_unit(s.admin, "township", "界面测试镇", s.root)
            yield s
        finally:
            rc = s.stop()
        log = s.log_text()
        assert rc == 0 and "restarting worker" not in log, log[-4000:]


# ---------------------------------------------------------------- Chromium

def chrome(size="pc", profile=None):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
              "--disable-extensions", "--disable-sync", "--lang=zh-CN",
              "--user-data-dir=" + profile):
        o.add_argument(a)
    w, h = SIZES[size]
    o.add_argument("--window-size=%d,%d" % (w, h))
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=o)
    d.set_window_size(w, h)
    # --window-size is the outer window: make the viewport exactly w x h
    vw, vh = d.execute_script("return [innerWidth, innerHeight]")
    if (vw, vh) != (w, h):
        d.set_window_size(w + (w - vw), h + (h - vh))
    d.set_page_load_timeout(30)
    d.set_script_timeout(30)
    return d


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    out = yield
    rep = out.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _save_artifacts(item, drivers):
    os.makedirs(ARTIFACTS, exist_ok=True)
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid.split("::", 1)[-1])
    for i, d in enumerate(drivers):
        stem = os.path.join(ARTIFACTS, base + ("" if i == 0 else "-%d" % i))
        try:
            d.save_screenshot(stem + ".png")
            with open(stem + ".html", "w") as f:
                f.write(d.page_source)
            with open(stem + ".console.txt", "w") as f:
                f.write("url: %s\n" % d.current_url)
                for e in d.get_log("browser"):
                    f.write("%s %s %s\n" % (e.get("timestamp"), e.get("level"), e.get("message")))
        except Exception as e:  # the browser may be the thing that broke
            with open(stem + ".error.txt", "w") as f:
                f.write(repr(e))


@pytest.fixture
def browser(request):
    """browser(size="pc"|"phone", server=srv) -> Page; any number per test, each with
    a fresh profile; all closed (after the failure artifacts) at the end."""
    _check_browser()
    made = []

    def make(server, size="pc"):
        profile = tempfile.mkdtemp(prefix="yimen-ui-chrome-")
        d = chrome(size, profile)
        made.append((d, profile))
        return Page(d, server.url)

    yield make
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        _save_artifacts(request.node, [d for d, _ in made])
    for d, profile in made:
        try:
            d.quit()
        finally:
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def pc(browser, srv):
    return browser(srv, "pc")


@pytest.fixture
def phone(browser, srv):
    return browser(srv, "phone")


__all__ = ["SimpleNamespace", "Api", "plugin_conf", "start_server", "chrome"]
