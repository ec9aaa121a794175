"""JSON request handling, exercised through the test clock (POST /api/test/clock):
happy path across workers, every kind of bad body, and the offset's persistence."""
import datetime
import json
import re
import socket

import pytest

from conftest import connect, get, post_json, running_server, worker_pid_of

CLOCK = "/api/test/clock"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+08:00$")


def advance(server, seconds, close=True):
    r = post_json(server, CLOCK, {"advance": seconds}, close=close)
    assert r.status == 200, r
    j = r.json()
    assert set(j) == {"now", "offset"}, j
    assert RFC3339.match(j["now"]), j
    return j, r


def parse_now(s):
    return datetime.datetime.fromisoformat(s)


def assert_error(r, status, code, field=None):
    assert r.status == status, r
    assert r.header("content-type") == "application/json"
    err = r.json()["error"]
    assert err["code"] == code, r
    assert isinstance(err["message"], str) and err["message"]
    if field is not None:
        assert err.get("field") == field, r
    return err


# ---------------------------------------------------------------- happy path

def test_advance_moves_now(server):
    base, _ = advance(server, 0)
    t0 = parse_now(base["now"])
    moved, _ = advance(server, 3600)
    assert moved["offset"] == pytest.approx(base["offset"] + 3600, abs=1e-3)
    delta = (parse_now(moved["now"]) - t0).total_seconds()
    assert 3600 <= delta < 3605, delta
    assert parse_now(moved["now"]).utcoffset() == datetime.timedelta(hours=8)
    # back again, and fractional seconds are kept to the millisecond
    back, _ = advance(server, -3600.25)
    assert back["offset"] == pytest.approx(base["offset"] - 0.25, abs=1e-3)


def test_now_is_real_time_plus_offset(server):
    j, _ = advance(server, 0)
    real = datetime.datetime.now(datetime.timezone.utc)
    server_now = parse_now(j["now"])
    assert abs((server_now - real).total_seconds() - j["offset"]) < 5


def test_every_worker_sees_the_same_clock(server):
    j, _ = advance(server, 7200)
    want = j["offset"]
    pids = set()
    for _ in range(24):
        k, r = advance(server, 0)          # a new connection each time
        pids.add(worker_pid_of(r))
        assert k["offset"] == pytest.approx(want, abs=1e-3), (k, r.header("x-request-id"))
        assert abs((parse_now(k["now"]) - parse_now(j["now"])).total_seconds()) < 30
    assert len(pids) >= 2, "all 24 connections went to one worker: %s" % pids
    assert set(pids) <= set(server.worker_pids()), (pids, server.worker_pids())
    advance(server, -7200)


def test_charset_parameter_accepted(server):
    r = post_json(server, CLOCK, {"advance": 0}, ctype="application/json; charset=utf-8")
    assert r.status == 200, r
    r = post_json(server, CLOCK, {"advance": 0}, ctype="Application/JSON")
    assert r.status == 200, r


def test_whitespace_around_json_ok(server):
    r = post_json(server, CLOCK, raw_body=b'\n\t {"advance" : 0 }  \r\n')
    assert r.status == 200, r


# ---------------------------------------------------------------- bad JSON

@pytest.mark.parametrize("body,line", [
    (b'{"advance": 1', 1),
    (b'{"advance": }', 1),
    (b'{advance: 1}', 1),
    (b"{'advance': 1}", 1),
    (b'{"advance": 1,}', 1),
    (b'{"advance": 1}}', 1),
    (b'{"advance": 1} x', 1),
    (b'{\n  "advance": 1,\n  oops\n}', 3),
    (b'{\n\n\n\n  "advance": NaN\n}', 5),
    (b'{"advance": 1\n\n,, }', 3),
    (b'\xff\xfe{"advance": 1}', 1),
    (b'{"advance": "\xc3\x28"}', 1),
])
def test_malformed_json_400_with_position(server, body, line):
    r = post_json(server, CLOCK, raw_body=body)
    err = assert_error(r, 400, "bad_json")
    m = re.search(r"line (\d+), column (\d+)", err["message"])
    assert m, err
    assert int(m.group(1)) == line, err


def test_duplicate_keys_rejected(server):
    r = post_json(server, CLOCK, raw_body=b'{"advance": 1, "advance": 100000}')
    assert_error(r, 400, "bad_json")
    assert "line" in r.json()["error"]["message"]


def test_empty_body_400(server):
    r = post_json(server, CLOCK, raw_body=b"")
    err = assert_error(r, 400, "bad_json")
    assert "line" in err["message"] and "column" in err["message"]


def test_empty_body_without_content_length_400(server):
    with connect(server) as c:
        c.send(b"POST /api/test/clock HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
               b"Authorization: Bearer " + server.token().encode() + b"\r\nConnection: close\r\n\r\n")
        assert_error(c.read_response(), 400, "bad_json")


# ---------------------------------------------------------------- wrong shape

@pytest.mark.parametrize("body", [
    {"advance": "10"}, {"advance": True}, {"advance": None}, {"advance": [1]},
    {"advance": {"s": 1}}, {"advance": 1e10}, {"advance": -1e10}, {},
])
def test_wrong_types_invalid_advance(server, body):
    before, _ = advance(server, 0)
    r = post_json(server, CLOCK, body)
    assert_error(r, 400, "invalid", field="advance")
    after, _ = advance(server, 0)
    assert after["offset"] == before["offset"], "a refused request moved the clock"


@pytest.mark.parametrize("body", [b"[]", b"[1]", b"5", b'"advance"', b"null", b"true"])
def test_non_object_body_400(server, body):
    r = post_json(server, CLOCK, raw_body=body)
    assert r.status == 400, r
    assert r.json()["error"]["code"] in ("invalid", "bad_json")


def test_unknown_field_400(server):
    before, _ = advance(server, 0)
    r = post_json(server, CLOCK, {"advance": 5, "speed": 2})
    assert_error(r, 400, "invalid", field="speed")
    r = post_json(server, CLOCK, {"Advance": 5})
    assert_error(r, 400, "invalid", field="Advance")
    after, _ = advance(server, 0)
    assert after["offset"] == before["offset"]


def test_brackets_inside_strings_do_not_count_as_depth(server):
    deep_string = "[" * 200 + "{" * 200
    r = post_json(server, CLOCK, {"advance": 0, "note": deep_string})
    assert_error(r, 400, "invalid", field="note")


def nested(depth_total):
    """An object whose "advance" holds arrays: total nesting = depth_total."""
    inner = depth_total - 1
    return ('{"advance": ' + "[" * inner + "]" * inner + "}").encode()


def test_nesting_at_json_depth_parses(server):
    # json_depth = 64 by default: 64 levels parse (then fail validation) ...
    r = post_json(server, CLOCK, raw_body=nested(64))
    assert_error(r, 400, "invalid", field="advance")


def test_nesting_over_json_depth_bad_json(server):
    # ... 65 do not parse
    r = post_json(server, CLOCK, raw_body=nested(65))
    err = assert_error(r, 400, "bad_json")
    assert "deep" in err["message"] or "nest" in err["message"], err
    r = post_json(server, CLOCK, raw_body=b"[" * 100000 + b"]" * 100000)
    assert_error(r, 400, "bad_json")
    assert server.healthy()


def test_json_depth_setting_applies():
    with running_server('limits = { json_depth = 3 }\n', workers=1) as s:
        r = post_json(s, CLOCK, raw_body=b'{"advance": [[1]]}')       # depth 3
        assert_error(r, 400, "invalid", field="advance")
        r = post_json(s, CLOCK, raw_body=b'{"advance": [[[1]]]}')     # depth 4
        assert_error(r, 400, "bad_json")


# ---------------------------------------------------------------- size, type

def test_oversized_body_413(server):
    with connect(server) as c:
        c.send(b"POST /api/test/clock HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % (8 * 1024 * 1024 + 1))
        r = c.read_response()
        assert_error(r, 413, "body_too_large")


def test_body_limit_setting_applies():
    with running_server('limits = { body = "100" }\n', workers=1) as s:
        body = b'{"advance": 0}'
        ok = body + b" " * (100 - len(body))
        assert post_json(s, CLOCK, raw_body=ok).status == 200
        r = post_json(s, CLOCK, raw_body=ok + b" ")
        assert_error(r, 413, "body_too_large")


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/jsonx", "application/x-www-form-urlencoded",
                                   "multipart/form-data; boundary=x", "json", "text/json"])
def test_wrong_content_type_415(server, ctype):
    r = post_json(server, CLOCK, {"advance": 0}, ctype=ctype)
    assert_error(r, 415, "unsupported_media_type")


def test_415_checked_before_body_is_parsed(server):
    r = post_json(server, CLOCK, raw_body=b"{not json", ctype="text/plain")
    assert_error(r, 415, "unsupported_media_type")


# ---------------------------------------------------------------- availability

def test_clock_needs_a_signed_in_administrator(server):
    before, _ = advance(server, 0)
    r = post_json(server, CLOCK, {"advance": 999}, auth=False)
    assert_error(r, 401, "unauthenticated")
    with connect(server) as c:
        r = c.request("POST", CLOCK, {"Content-Type": "application/json", "Authorization": "Bearer ys_bogus",
                                      "Connection": "close"}, b'{"advance": 999}')
        assert_error(r, 401, "unauthenticated")
    after, _ = advance(server, 0)
    assert after["offset"] == before["offset"]


def test_clock_route_absent_without_env():
    with running_server(env={"YIMEN_TEST_CLOCK": "0"}) as s:
        for method in ("POST", "GET"):
            with connect(s) as c:
                r = c.request(method, CLOCK, {"Content-Type": "application/json", "Connection": "close"},
                              b'{"advance": 10}' if method == "POST" else b"")
                assert_error(r, 404, "not_found")
        assert s.healthy()


def test_offset_persists_across_restart(fresh_server):
    s = fresh_server.start()
    j, _ = advance(s, 86400)
    assert j["offset"] == pytest.approx(86400, abs=1e-3)
    assert s.stop() == 0
    s.start()
    k, _ = advance(s, 0)
    assert k["offset"] == pytest.approx(86400, abs=1e-3)
    delta = (parse_now(k["now"]) - parse_now(j["now"])).total_seconds()
    assert 0 <= delta < 30
    assert s.stop() == 0
    # without the test clock the offset does not apply
    s.configure(env={"YIMEN_TEST_CLOCK": "0"})
    s.start()
    assert s.healthy()


def test_timezone_setting_changes_offset():
    with running_server('timezone = "UTC"\n', workers=1) as s:
        r = post_json(s, CLOCK, {"advance": 0})
        assert r.status == 200
        now = r.json()["now"]
        assert now.endswith("+00:00") or now.endswith("Z"), now


def test_client_gone_before_the_answer_write_still_applies(server):
    """A client that leaves while its write waits for the COMMIT: the write stands
    and the worker stays healthy."""
    before, _ = advance(server, 0)
    body = b'{"advance": 5}'
    for _ in range(5):
        c = connect(server)
        c.send(b"POST /api/test/clock HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
               b"Authorization: Bearer " + server.token().encode() + b"\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body) + body)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()                                 # reset at once
    import time
    time.sleep(0.3)                               # commits take milliseconds
    after, _ = advance(server, 0)
    # each request either ran completely or not at all (a reset may beat the read)
    moved = after["offset"] - before["offset"]
    assert moved == pytest.approx(round(moved / 5) * 5, abs=1e-3), moved
    assert 0 <= moved <= 25
    assert server.healthy()
    advance(server, -moved)
