"""Helpers of the UI tests: an API client (bearer token) for setting up and checking
data, a small county made through the API, RFC 6238 codes, and a Selenium page
wrapper whose queries also look inside open shadow roots (the kit's custom elements
may keep their parts there)."""
import base64
import hashlib
import hmac
import json
import struct
import time

import requests
from selenium.common.exceptions import (ElementClickInterceptedException, ElementNotInteractableException,
                                        JavascriptException, StaleElementReferenceException,
                                        WebDriverException)
from selenium.webdriver.common.keys import Keys

ADMIN_PW = "Admin-Pass-2026!"
INIT_PW = "Initial-Pass-9731!"
NEW_PW = "Changed-Pass-9731!"

_seq = [0]


def uniq(prefix):
    _seq[0] += 1
    return "%s%d%d" % (prefix, int(time.time() * 1000) % 100000, _seq[0])


# ---------------------------------------------------------------- API

class Api:
    def __init__(self, url, token=None):
        self.url = url
        self.token = token

    def call(self, method, path, body=None):
        headers = {"Authorization": "Bearer " + self.token} if self.token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return requests.request(method, self.url + path, data=data, headers=headers, timeout=20)

    def get(self, path):
        return self.call("GET", path)

    def post(self, path, body=None):
        return self.call("POST", path, body)

    def patch(self, path, body=None):
        return self.call("PATCH", path, body)

    def ok(self, method, path, body=None, status=(200, 201, 204)):
        r = self.call(method, path, body)
        assert r.status_code in status, "%s %s -> %s %s" % (method, path, r.status_code, r.text[:500])
        return r.json() if r.content else None


def login_resp(url, username, password, totp=None):
    body = {"username": username, "password": password}
    if totp:
        body["totp"] = totp
    return requests.post(url + "/api/auth/login", json=body, timeout=20)


def api_login(url, username, password, totp=None):
    r = login_resp(url, username, password, totp)
    assert r.status_code == 200, r.text
    return Api(url, r.json()["token"])


def make_unit(admin, kind, name, parent=None):
    body = {"kind": kind, "name": name}
    if parent:
        body["parent_id"] = parent
    return admin.ok("POST", "/api/units", body)["id"]


def make_user(admin, unit, username=None, display_name="测试用户", password=INIT_PW):
    return admin.ok("POST", "/api/users", {"username": username or uniq("u"), "display_name": display_name,
                                          "unit_id": unit, "password": password})


def grant(admin, user_id, role, unit, descendants=True):
    return admin.ok("POST", "/api/grants", {"user_id": user_id, "role": role, "unit_id": unit,
                                            "include_descendants": descendants})


def ready_user(url, admin, unit, roles=(), display_name="测试用户"):
    """A user with grants whose first-login password change is done (password NEW_PW)."""
    u = make_user(admin, unit, display_name=display_name)
    for role, on in roles:
        grant(admin, u["id"], role, on)
    api = api_login(url, u["username"], INIT_PW)
    r = api.post("/api/me/password", {"old_password": INIT_PW, "new_password": NEW_PW})
    assert r.status_code == 204, r.text
    u["api"] = api
    return u


# ---------------------------------------------------------------- TOTP (RFC 6238)

def totp(secret_b32, step):
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000
    return "%06d" % code


def server_step(url):
    """The server's TOTP step (the UI tests never move the test clock)."""
    return int(time.time() // 30)


# ---------------------------------------------------------------- the browser

# querySelectorAll across the document and every open shadow root, in document order
DEEP_ALL = """
const sel = arguments[0], root = arguments[1] || document, out = [];
function walk(n) {
  if (n.querySelectorAll) for (const e of n.querySelectorAll(sel)) out.push(e);
  const all = n.querySelectorAll ? n.querySelectorAll('*') : [];
  for (const e of all) if (e.shadowRoot) walk(e.shadowRoot);
}
walk(root);
return out;
"""

VISIBLE = """
const e = arguments[0];
if (!e || !e.isConnected) return false;
const r = e.getBoundingClientRect(), s = getComputedStyle(e);
return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'
       && !e.closest('[hidden]');
"""


class Timeout(AssertionError):
    pass


class Page:
    """A Selenium driver with deep (shadow-piercing) queries and patient waits."""

    def __init__(self, driver, base):
        self.d = driver
        self.base = base

    def open(self, path="/"):
        self.d.get(self.base + path)

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def all(self, sel):
        try:
            return self.js(DEEP_ALL, sel) or []
        except (JavascriptException, StaleElementReferenceException):
            return []

    def visible(self, el):
        try:
            return bool(self.js(VISIBLE, el))
        except (StaleElementReferenceException, WebDriverException):
            return False

    def find(self, sel, visible=True):
        for e in self.all(sel):
            if not visible or self.visible(e):
                return e
        return None

    def wait(self, sel, timeout=10, visible=True, what=None):
        end = time.time() + timeout
        while True:
            e = self.find(sel, visible)
            if e is not None:
                return e
            if time.time() > end:
                raise Timeout("%s: no %s element %r after %ss (url %s)" % (
                    what or "wait", "visible" if visible else "", sel, timeout, self.d.current_url))
            time.sleep(0.1)

    def wait_until(self, pred, timeout=10, what="condition"):
        end = time.time() + timeout
        while True:
            try:
                v = pred()
            except (StaleElementReferenceException, JavascriptException):
                v = None
            if v:
                return v
            if time.time() > end:
                raise Timeout("%s not met after %ss (url %s)" % (what, timeout, self.d.current_url))
            time.sleep(0.1)

    def gone(self, sel, timeout=10):
        self.wait_until(lambda: self.find(sel) is None, timeout, "%r gone" % sel)

    def click(self, sel, timeout=10):
        e = self.wait(sel, timeout)
        end = time.time() + timeout
        while True:
            try:
                self.js("arguments[0].scrollIntoView({block: 'center'})", e)
                e.click()
                return e
            except (ElementClickInterceptedException, ElementNotInteractableException,
                    StaleElementReferenceException):
                if time.time() > end:
                    raise
                time.sleep(0.2)
                e = self.wait(sel, timeout)

    def type(self, sel, text, clear=True, timeout=10):
        e = self.wait(sel, timeout)
        if clear:
            e.clear()
        e.send_keys(text)
        return e

    def text(self, sel):
        e = self.find(sel, visible=False)
        return self.js("return arguments[0].textContent", e).strip() if e is not None else None

    def texts(self, sel):
        return [self.js("return arguments[0].textContent", e).strip() for e in self.all(sel)]

    def set_value(self, sel, value, timeout=10):
        """A form control that is not a plain input (a select, or a picker element):
        select the option by value or visible text, else set .value and fire the events."""
        e = self.wait(sel, timeout, visible=False)
        tag = e.tag_name.lower()
        if tag == "select":
            ok = self.js("""
                const s = arguments[0], v = String(arguments[1]);
                for (const o of s.options) if (o.value === v || o.textContent.trim() === v) {
                    s.value = o.value; s.dispatchEvent(new Event('input', {bubbles: true}));
                    s.dispatchEvent(new Event('change', {bubbles: true})); return true; }
                return false;""", e, value)
            assert ok, "%s has no option %r" % (sel, value)
        elif tag == "input" and e.get_attribute("type") not in ("hidden",):
            e.clear()
            e.send_keys(str(value))
        else:
            self.js("""const e = arguments[0]; e.value = arguments[1];
                e.dispatchEvent(new Event('input', {bubbles: true}));
                e.dispatchEvent(new Event('change', {bubbles: true}));""", e, value)
        return e


# ---------------------------------------------------------------- the login flow

def signed_in(p, timeout=15):
    """The shell after sign-in: the navigation exists (it may be folded on a phone)."""
    return p.wait("[data-testid=nav]", timeout, visible=False, what="signed in")


def form_login(p, username, password, totp_fn=None, expect=True):
    p.open("/")
    p.wait("form#login", 15, what="login form")
    # the form must be usable: wait until its scripts have enabled it
    p.wait_until(lambda: p.js("const b = document.querySelector('#login-submit'); return b && !b.disabled"),
                 10, "login button enabled")
    p.type("#login-username", username)
    p.type("#login-password", password)
    p.click("#login-submit")
    if totp_fn:
        e = p.wait("#login-totp", 10, what="TOTP step")
        e.clear()
        e.send_keys(totp_fn() + Keys.ENTER)
    if expect:
        return signed_in(p)
    return None


def bell_count(p):
    """The bell's number: 0 when the count element is hidden or empty."""
    e = p.find("[data-testid=bell-count]", visible=True)
    if e is None:
        return 0
    t = p.js("return arguments[0].textContent", e).strip()
    return int(t) if t.isdigit() else (100 if t.endswith("+") else 0)


def open_nav(p, nav_id, timeout=10):
    """Follow a nav link; on a narrow screen open the menu first."""
    sel = "a[data-nav=%s]" % nav_id
    p.wait(sel, timeout, visible=False, what="nav entry")
    if p.find(sel) is None:
        p.click(MENU_BUTTON, 5)
        p.wait(sel, 5, what="nav entry after opening the menu")
    p.click(sel)


# the phone's menu button: not named by the contract; the first of these that shows
MENU_BUTTON = ("[data-testid=menu], [data-testid=menu-button], [data-testid=nav-toggle], "
               "button[aria-controls][aria-expanded]")


def console_errors(p):
    """SEVERE console entries (uncaught errors, failed loads) since the last call."""
    try:
        return [e["message"] for e in p.d.get_log("browser") if e.get("level") == "SEVERE"
                # the shell asks /api/me before sign-in: a 401 is the expected answer
                and "status of 401" not in e["message"] and "favicon" not in e["message"]]
    except WebDriverException:
        return []
