"""POST /api/auth/login from the plain HTML form (application/x-www-form-urlencoded):
303 to "/" with the session cookie, 303 to "/#login-failed" when refused, and 403 for a
form posted from another site (login CSRF)."""
import tempfile

import pytest
import requests

from conftest import ADMIN_PASSWORD, Server

AUTH = ('auth = { argon2 = { memory = "1MiB", iterations = 1 }, '
        'rate_limit = { per_ip = 1000, per_account = 1000 } }\n')


@pytest.fixture(scope="module")
def srv():
    with tempfile.TemporaryDirectory(prefix="yimen-form-") as tmp:
        s = Server(tmp, AUTH, workers=1).start()
        try:
            yield s
        finally:
            assert s.stop() == 0, s.log_text()[-3000:]


def post_form(s, fields, headers=None):
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    h.update(headers or {})
    return requests.post(s.url + "/api/auth/login", data=fields or "", headers=h, allow_redirects=False, timeout=20)


def test_form_login_success(srv):
    r = post_form(srv, {"username": "admin", "password": ADMIN_PASSWORD},
                  {"Origin": srv.url, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/"
    cookie = r.cookies.get("yimen_session")
    assert cookie and cookie.startswith("ys_")
    sc = r.headers["set-cookie"]
    assert "HttpOnly" in sc and "SameSite=Strict" in sc and "Path=/" in sc
    me = requests.get(srv.url + "/api/me", cookies={"yimen_session": cookie}, timeout=10)
    assert me.status_code == 200, me.text
    assert me.json()["user"]["username"] == "admin"


def test_form_login_without_origin_headers(srv):
    # an old browser sends neither Origin nor Sec-Fetch-Site: nothing to check against
    r = post_form(srv, {"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert r.cookies.get("yimen_session")


def test_form_login_failure(srv):
    for fields in ({"username": "admin", "password": "wrong"}, {"username": "nobody", "password": "x"},
                   {"username": "admin"}, {"password": "x"}, {}):
        r = post_form(srv, fields)
        assert r.status_code == 303, (fields, r.text)
        assert r.headers["location"] == "/#login-failed"
        assert "yimen_session" not in r.headers.get("set-cookie", "")
    # the failures are audited like JSON ones
    log = requests.get(srv.url + "/api/audit?action=auth.login&limit=50",
                       headers={"Authorization": "Bearer " + srv.token()}, timeout=10)
    if log.status_code == 200:
        assert any(e.get("result") == "failed" for e in log.json().get("items", [])), log.text


def test_form_login_plus_and_percent_decoding(srv):
    r = post_form(srv, "username=adm%69n&password=" + requests.utils.quote(ADMIN_PASSWORD, safe=""),
                  {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"})
    assert r.status_code == 303 and r.headers["location"] == "/"


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
])
def test_cross_site_form_refused(srv, headers):
    r = post_form(srv, {"username": "admin", "password": ADMIN_PASSWORD}, headers)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "cross_site"
    assert "yimen_session" not in r.headers.get("set-cookie", "")


def test_json_login_unchanged(srv):
    r = requests.post(srv.url + "/api/auth/login", json={"username": "admin", "password": "wrong"}, timeout=20)
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_credentials"
    r = requests.post(srv.url + "/api/auth/login", data="username=admin", timeout=20,
                      headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
