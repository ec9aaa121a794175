"""HTTP/1.1 behaviour of the server, checked on the wire with raw sockets:
keep-alive, pipelining, HEAD, HTTP/1.0, Expect, limits, malformed and smuggling
requests, error shapes, request ids and the slowloris / idle / connection-cap
defences."""
import json
import re
import select
import socket
import threading
import time

import pytest

from conftest import Conn, connect, get, running_server, status_of

# Small limits and timeouts so that limit and timeout tests stay fast.
TIGHT = """
limits = { uri = "1KiB", headers = "2KiB", header_count = 10, body = "1KiB" }
timeouts = { header = "1s", body = "1s", idle = "1s", drain = "2s" }
"""


@pytest.fixture(scope="module")
def tight():
    with running_server(TIGHT) as s:
        s.token()
        yield s


def clock_head(server):
    """Request line, Host and the administrator's bearer token for the test clock."""
    return (b"POST /api/test/clock HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer "
            + server.token().encode() + b"\r\n")


def healthz_req(extra=b""):
    return b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + extra + b"\r\n"


def assert_error_shape(resp, status, code=None):
    assert resp is not None, "no response at all"
    assert resp.status == status, resp
    assert resp.header("content-type", ) == "application/json", resp
    err = resp.json()["error"]
    assert isinstance(err["message"], str) and err["message"], resp
    if code:
        assert err["code"] == code, resp
    assert resp.header("x-request-id"), resp
    return err


def refused_and_closed(server, data, status, code=None):
    """Sends data plus a pipelined valid request; expects exactly one error answer
    with Connection: close and no second answer (nothing smuggled through)."""
    with connect(server) as c:
        c.send(data + b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        r = c.read_response()
        err = assert_error_shape(r, status, code)
        assert r.header("connection") == "close", r
        nxt = c.read_response()
        assert nxt is None, "a second response came after a refused request: %r" % nxt
    assert server.healthy(), "server stopped answering after %r" % data
    return err


# ---------------------------------------------------------------- keep-alive

def test_keep_alive_several_requests_one_socket(server):
    with connect(server) as c:
        ids = []
        for i in range(5):
            r = c.request("GET", "/healthz")
            assert r.status == 200
            assert r.json()["status"] == "ok"
            assert r.header("connection") is None or r.header("connection").lower() != "close"
            ids.append(r.header("x-request-id"))
        # a 404 does not end the connection either
        r = c.request("GET", "/no-such-thing")
        assert r.status == 404
        r = c.request("GET", "/healthz")
        assert r.status == 200
        # every answer came from the same worker (one connection, one process)
        assert len({i.split("-")[0] for i in ids}) == 1, ids
        assert len(set(ids)) == 5


def test_body_on_get_does_not_leak_into_next_request(server):
    with connect(server) as c:
        hidden = b"GET /hidden HTTP/1.1\r\nHost: t\r\n\r\n"
        c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(hidden) + hidden
               + b"GET /visible HTTP/1.1\r\nHost: t\r\n\r\n")
        r1 = c.read_response()
        assert r1.status == 200
        r2 = c.read_response()
        assert r2.status == 404
        c.send(healthz_req(b"Connection: close\r\n"))
        assert c.read_response().status == 200
        assert c.read_response() is None


def test_chunked_with_extension_and_trailer(server):
    with connect(server) as c:
        c.send(clock_head(server) + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5;note=x\r\n{\"adv\r\n9\r\nance\": 0}\r\n0\r\nX-Trailer: v\r\n\r\n")
        r = c.read_response()
        assert r.status == 200, r
        assert c.request("GET", "/healthz").status == 200


def test_204_has_no_content_length(server):
    """RFC 9110 8.6: no Content-Length on a 204 (sign-out is a 204)."""
    import json as _json
    body = _json.dumps({"username": "admin", "password": __import__("conftest").ADMIN_PASSWORD}).encode()
    with connect(server) as c:
        r = c.request("POST", "/api/auth/login", {"Content-Type": "application/json"}, body)
        assert r.status == 200, r
        tok = r.json()["token"]
        r = c.request("POST", "/api/auth/logout", {"Authorization": "Bearer " + tok, "Content-Length": "0"})
        assert r.status == 204, r
        assert r.body == b""
        assert r.header("content-length") is None, r
        assert c.request("GET", "/healthz").status == 200


def test_nothing_answered_after_connection_close(server):
    with connect(server) as c:
        c.send(healthz_req(b"Connection: close\r\n") + b"GET /after-close HTTP/1.1\r\nHost: t\r\n\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        r = c.read_response()
        assert r.status == 200 and r.header("connection") == "close"
        assert c.read_response() is None


def test_absolute_form_target_accepted(server):
    """RFC 9112 3.2.2: a server MUST accept the absolute-form of a request target."""
    with connect(server) as c:
        c.send(b"GET http://t/healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        r = c.read_response()
        assert r is not None and r.status == 200, r
        assert r.json()["status"] == "ok"


def test_connection_close_request_header_closes(server):
    with connect(server) as c:
        r = c.request("GET", "/healthz", {"Connection": "close"})
        assert r.status == 200
        assert r.header("connection") == "close"
        assert c.closed_by_server(3)


# ---------------------------------------------------------------- pipelining

def test_pipelining_answers_in_order(server):
    reqs = (healthz_req()
            + b"GET /pipelined-missing HTTP/1.1\r\nHost: t\r\n\r\n"
            # a database write: its answer waits for the group COMMIT
            + clock_head(server) + b'Content-Type: application/json\r\n'
              b'Content-Length: 14\r\n\r\n{"advance": 0}'
            + b"HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
            + b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
            + b"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n"
            + healthz_req(b"Connection: close\r\n"))
    with connect(server) as c:
        c.send(reqs)
        r1 = c.read_response()
        assert r1.status == 200 and r1.json()["status"] == "ok"
        r2 = c.read_response()
        assert r2.status == 404 and r2.json()["error"]["code"] == "not_found"
        r3 = c.read_response()
        assert r3.status == 200 and "now" in r3.json() and "offset" in r3.json(), r3
        r4 = c.read_response(head=True)
        assert r4.status == 200 and r4.body == b""
        assert int(r4.header("content-length")) == len(r1.body)
        r5 = c.read_response()
        assert r5.status == 405
        r6 = c.read_response()
        assert r6.status == 200 and r6.header("content-type").startswith("text/html")
        assert b"<html" in r6.body.lower()
        r7 = c.read_response()
        assert r7.status == 200 and r7.header("connection") == "close"
        assert c.read_response() is None
        ids = [r.header("x-request-id") for r in (r1, r2, r3, r4, r5, r6, r7)]
        seqs = [int(i.split("-")[1], 16) for i in ids]
        assert seqs == sorted(seqs) and len(set(seqs)) == 7, ids


def test_pipelining_large_burst(server):
    """More pipelined bytes than the server buffers at once (64 KiB): every
    request is still answered, once, in order."""
    n = 2500
    paths = [b"/healthz" if i % 5 else b"/burst-%d" % i for i in range(n)]
    data = b"".join(b"GET " + p + b" HTTP/1.1\r\nHost: t\r\n\r\n" for p in paths)
    assert len(data) > 64 * 1024
    with connect(server, timeout=10) as c:
        t = threading.Thread(target=c.send, args=(data,))
        t.start()
        for i, p in enumerate(paths):
            r = c.read_response()
            assert r is not None, "connection closed after %d answers" % i
            want = 200 if p == b"/healthz" else 404
            assert r.status == want, (i, r)
        t.join()
        c.send(healthz_req(b"Connection: close\r\n"))
        assert c.read_response().status == 200


def test_pipelined_bad_request_after_good_ones(server):
    with connect(server) as c:
        c.send(healthz_req() + healthz_req() + b"GET /healthz HTTP/1.1\r\n\r\n" + healthz_req())
        c.sock.shutdown(socket.SHUT_WR)
        assert c.read_response().status == 200
        assert c.read_response().status == 200
        r = c.read_response()
        assert_error_shape(r, 400, "bad_request")
        assert "Host" in r.json()["error"]["message"]
        assert c.read_response() is None


# ---------------------------------------------------------------- HEAD, 1.0

def test_head_sends_headers_only(server):
    with connect(server) as c:
        g = c.request("GET", "/healthz")
        h = c.request("HEAD", "/healthz")
        assert h.status == 200
        assert h.body == b""
        assert h.header("content-type") == "application/json"
        assert int(h.header("content-length")) == len(g.body)
        # no stray body bytes: the next answer on the socket parses cleanly
        h404 = c.request("HEAD", "/no-such-file")
        assert h404.status == 404 and h404.body == b""
        assert int(h404.header("content-length")) > 0
        g2 = c.request("GET", "/healthz")
        assert g2.status == 200 and g2.json()["status"] == "ok"


def test_http10_closes_by_default(server):
    with connect(server) as c:
        c.send(b"GET /healthz HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.json()["status"] == "ok"
        assert r.header("connection") == "close"
        assert c.closed_by_server(3)


def test_http10_keep_alive_when_asked(server):
    with connect(server) as c:
        for _ in range(3):
            c.send(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            r = c.read_response()
            assert r.status == 200
            assert r.header("connection").lower() == "keep-alive", r
        c.send(b"GET /healthz HTTP/1.0\r\n\r\n")
        assert c.read_response().status == 200
        assert c.closed_by_server(3)


@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/3.0"])
def test_unsupported_http_version_refused(server, version):
    """RFC 9110 15.6.6: a major version the server does not speak is refused
    (505, or 400), never answered as if it were HTTP/1.1."""
    with connect(server) as c:
        c.send(b"GET /healthz " + version + b"\r\nHost: t\r\n\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        r = c.read_response()
        assert r is not None
        assert r.status in (400, 505), r
    assert server.healthy()


# ---------------------------------------------------------------- Expect

def test_expect_100_continue(server):
    body = b'{"advance": 0}'
    with connect(server) as c:
        c.send(clock_head(server) + b"Content-Type: application/json\r\n"
               b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        interim = c.read_response()
        assert interim.status == 100, interim
        assert interim.version == "HTTP/1.1"
        c.send(body)
        r = c.read_response()
        assert r.status == 200, r
        assert "now" in r.json()
        # still keep-alive afterwards
        assert c.request("GET", "/healthz").status == 200


def test_expect_100_continue_body_sent_at_once(server):
    """A client that does not wait for the 100 gets the 100 and then the answer."""
    body = b'{"advance": 0}'
    with connect(server) as c:
        c.send(clock_head(server) + b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body) + body)
        assert c.read_response().status == 100
        r = c.read_response()
        assert r.status == 200, r
        assert c.request("GET", "/healthz").status == 200


def test_expect_100_continue_ignored_for_http10(server):
    """RFC 9110 10.1.1: a 100-continue expectation in an HTTP/1.0 request MUST be
    ignored: no interim 100 to a 1.0 client."""
    body = b'{"advance": 0}'
    with connect(server) as c:
        c.send(b"POST /api/test/clock HTTP/1.0\r\nAuthorization: Bearer " + server.token().encode()
               + b"\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body) + body)
        r = c.read_response()
        assert r.status == 200, r


def test_expect_100_continue_over_limit_gets_413_not_100(tight):
    with connect(tight) as c:
        c.send(clock_head(tight) + b"Content-Type: application/json\r\n"
               b"Expect: 100-continue\r\nContent-Length: 5000\r\n\r\n")
        r = c.read_response()
        assert_error_shape(r, 413, "body_too_large")
        assert r.header("connection") == "close"


def test_expect_other_is_417(server):
    err = refused_and_closed(
        server, clock_head(server) + b"Expect: 200-ok\r\n"
                b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", 417)
    assert err["code"] == "expectation_failed"


# ---------------------------------------------------------------- limits

def test_uri_at_limit_ok_over_limit_414(tight):
    at = b"/" + b"a" * 1023          # exactly limits.uri = 1 KiB
    with connect(tight) as c:
        r = c.request("GET", at.decode())
        assert r.status == 404, r     # not a file, but not too long either
    refused_and_closed(tight, b"GET /" + b"a" * 1024 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414, "uri_too_long")
    # the limit counts the query string too
    refused_and_closed(tight, b"GET /healthz?" + b"q" * 1100 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414)


def header_block(total):
    """Host plus one X-Pad header: exactly `total` header bytes (name: value CRLF)."""
    host = b"Host: t\r\n"
    pad = total - len(host) - len(b"X-Pad: \r\n")
    return host + b"X-Pad: " + b"p" * pad + b"\r\n"


def test_header_bytes_at_limit_ok_over_limit_431(tight):
    with connect(tight) as c:
        c.send(b"GET /healthz HTTP/1.1\r\n" + header_block(2048) + b"\r\n")
        r = c.read_response()
        assert r.status == 200, r
    err = refused_and_closed(tight, b"GET /healthz HTTP/1.1\r\n" + header_block(2049) + b"\r\n", 431)
    assert err["code"] == "headers_too_large"
    refused_and_closed(tight, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"x" * 5000 + b"\r\n\r\n", 431)


def test_header_bytes_counted_once_when_split_across_packets():
    """The header byte limit is on bytes received, however TCP splits them: a
    header name arriving in pieces must not be counted as larger than it is."""
    with running_server('limits = { headers = "1KiB" }\n', workers=1) as s:
        name = b"X-" + b"n" * 300          # 1 header of ~320 bytes: far under 1 KiB
        with connect(s) as c:
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
            time.sleep(0.05)
            for i in range(len(name)):        # one byte per segment
                c.send(name[i:i + 1])
                time.sleep(0.002)
            c.send(b": v\r\n\r\n")
            r = c.read_response()
            assert r.status == 200, r


def test_header_count_at_limit_ok_over_limit_431(tight):
    ten = b"Host: t\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(9))
    with connect(tight) as c:
        c.send(b"GET /healthz HTTP/1.1\r\n" + ten + b"\r\n")
        assert c.read_response().status == 200
    err = refused_and_closed(tight, b"GET /healthz HTTP/1.1\r\n" + ten + b"X-H9: v\r\n\r\n", 431)
    assert err["code"] == "headers_too_large"
    assert "many" in err["message"]


def clock_post(server, body, extra=b""):
    return (clock_head(server) + b"Content-Type: application/json\r\n" + extra
            + b"Content-Length: %d\r\n\r\n" % len(body) + body)


def test_body_at_limit_ok(tight):
    body = b'{"advance": 0}'
    body = body + b" " * (1024 - len(body))
    with connect(tight) as c:
        c.send(clock_post(tight, body))
        r = c.read_response()
        assert r.status == 200, r


def test_413_by_content_length_before_the_body_is_sent(tight):
    with connect(tight, timeout=3) as c:
        t0 = time.time()
        # headers only: the body is never sent, the answer must come anyway
        c.send(clock_head(tight) + b"Content-Type: application/json\r\n"
               b"Content-Length: 1025\r\n\r\n")
        r = c.read_response()
        assert time.time() - t0 < 0.9, "413 waited for the body (or a timeout)"
        assert_error_shape(r, 413, "body_too_large")
        assert r.header("connection") == "close"
    assert tight.healthy()


def chunked(body, size):
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


def test_chunked_body_within_limit_ok(tight):
    body = b'{"advance": 0}' + b" " * 500
    with connect(tight) as c:
        c.send(clock_head(tight) + b"Content-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body, 100))
        r = c.read_response()
        assert r.status == 200, r
        assert "now" in r.json()


def test_413_chunked_over_limit(tight):
    body = b'{"advance": 0}' + b" " * 2000
    err = refused_and_closed(tight, clock_head(tight) + b""
                                    b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    + chunked(body, 300), 413)
    assert err["code"] == "body_too_large"


def test_413_chunked_sent_without_the_rest(tight):
    """The 413 comes as soon as the limit is crossed, not at the end of the body."""
    with connect(tight, timeout=3) as c:
        c.send(clock_head(tight) + b"Content-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + b"800\r\n" + b" " * 0x800 + b"\r\n")
        r = c.read_response()
        assert_error_shape(r, 413, "body_too_large")


# ---------------------------------------------------------------- malformed

MALFORMED = {
    "space_before_colon": b"GET /healthz HTTP/1.1\r\nHost : t\r\n\r\n",
    "obs_fold": b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n b\r\n\r\n",
    "obs_fold_tab": b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n\tb\r\n\r\n",
    "missing_host": b"GET /healthz HTTP/1.1\r\n\r\n",
    "duplicate_host": b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "duplicate_host_same": b"GET /healthz HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
    "cl_and_te": b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te_and_cl": b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                 b"Content-Length: 5\r\n\r\n0\r\n\r\n",
    "double_cl_same": b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                      b"Content-Length: 5\r\n\r\nhello",
    "double_cl_diff": b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                      b"Content-Length: 6\r\n\r\nhello!",
    "cl_list": b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\n\r\nhello",
    "te_chunked_identity": b"POST /healthz HTTP/1.1\r\nHost: t\r\n"
                           b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "te_space_before_colon": b"POST /healthz HTTP/1.1\r\nHost: t\r\n"
                             b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "te_gzip": b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
    "te_xchunked": b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n",
    "bare_lf_everywhere": b"GET /healthz HTTP/1.1\nHost: t\n\n",
    "bare_lf_in_headers": b"GET /healthz HTTP/1.1\r\nHost: t\nX-A: b\r\n\r\n",
    "cl_12a": b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 12a\r\n\r\n",
    "cl_negative": b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
    "cl_overflow": b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    "invalid_method_token": b"G@T /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
    "lowercase_method": b"get /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
    "nul_in_header": b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n",
    "percent_00_in_path": b"GET /index.html%00.png HTTP/1.1\r\nHost: t\r\n\r\n",
    "bad_percent_in_path": b"GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n",
    "relative_target": b"GET healthz HTTP/1.1\r\nHost: t\r\n\r\n",
    "empty_header_name": b"GET /healthz HTTP/1.1\r\nHost: t\r\n: v\r\n\r\n",
    "bare_cr_in_value": b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n",
    "space_in_target": b"GET /a b HTTP/1.1\r\nHost: t\r\n\r\n",
    "space_after_version": b"GET /healthz HTTP/1.1 \r\nHost: t\r\n\r\n",
    "bad_chunk_size": b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"zz\r\nhello\r\n0\r\n\r\n",
    "chunk_size_overflow": b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    # RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 request is faulty framing
    "te_in_http10": b"POST /healthz HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    # RFC 9112 3.2: a Host with an invalid value is a 400
    "host_with_space": b"GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n",
    "host_with_slash": b"GET /healthz HTTP/1.1\r\nHost: t/x\r\n\r\n",
    "host_with_userinfo": b"GET /healthz HTTP/1.1\r\nHost: user@t\r\n\r\n",
    "host_bad_port": b"GET /healthz HTTP/1.1\r\nHost: t:http\r\n\r\n",
    "chunk_missing_crlf": b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"5\r\nhelloX0\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_request_400_and_close(server, name):
    err = refused_and_closed(server, MALFORMED[name], 400)
    assert err["code"] == "bad_request"


def test_huge_content_length_413(server):
    """A Content-Length that parses but exceeds limits.body: 413 at once."""
    err = refused_and_closed(server, clock_head(server) + b""
                                     b"Content-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n", 413)
    assert err["code"] == "body_too_large"


def test_smuggled_request_in_body_is_not_executed(server):
    """CL+TE with a second request hidden in the body: whatever the server picks,
    the hidden request never gets an answer."""
    smuggle = b"GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n"
    data = (b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" % (5 + len(smuggle))) + smuggle
    with connect(server) as c:
        c.send(data)
        c.sock.shutdown(socket.SHUT_WR)
        r = c.read_response()
        assert r.status == 400
        assert c.read_response() is None


# ---------------------------------------------------------------- methods, 404

def test_unknown_method_501(server):
    with connect(server) as c:
        for m in ("PROPFIND", "MKCOL", "TRACE", "LOCK", "PURGE"):
            c2 = connect(server)
            c2.send(("%s /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % m).encode())
            r = c2.read_response()
            c2.close()
            assert r is not None, m
            assert_error_shape(r, 501, "not_implemented")
            assert m in r.json()["error"]["message"]
        # a 501 does not end a keep-alive connection
        r = c.request("PROPFIND", "/healthz")
        assert r.status == 501
        assert c.request("GET", "/healthz").status == 200


@pytest.mark.parametrize("method,path,allow", [
    ("POST", "/healthz", {"GET", "HEAD"}),
    ("DELETE", "/metrics", {"GET", "HEAD"}),
    ("PUT", "/healthz", {"GET", "HEAD"}),
    ("GET", "/api/test/clock", {"POST"}),
    ("DELETE", "/api/test/clock", {"POST"}),
])
def test_405_with_allow(server, method, path, allow):
    with connect(server) as c:
        r = c.request(method, path, {"Content-Length": "0"} if method in ("POST", "PUT") else None)
        assert_error_shape(r, 405, "method_not_allowed")
        got = {m.strip() for m in r.header("allow").split(",")}
        assert got == allow, r
        # keep-alive continues
        assert c.request("GET", "/healthz").status == 200


@pytest.mark.parametrize("path", ["/nope", "/api/nope", "/api/test/clock/extra", "/healthz/x",
                                  "/index.html/", "/%E4%B8%80%E9%97%A8"])
def test_json_404_shape(server, path):
    r = get(server, path)
    assert r.status == 404, r
    assert r.header("content-type") == "application/json"
    j = r.json()
    assert set(j) == {"error"}
    assert j["error"]["code"] == "not_found"
    assert isinstance(j["error"]["message"], str) and j["error"]["message"]
    assert int(r.header("content-length")) == len(r.body)


def test_x_request_id_present_and_distinct(server):
    ids = []
    for path in ["/healthz", "/nope", "/", "/metrics"] * 5:
        r = get(server, path)
        rid = r.header("x-request-id")
        assert rid and re.fullmatch(r"[0-9a-f]+-[0-9a-f]+", rid), r
        ids.append(rid)
    with connect(server) as c:
        for _ in range(5):
            ids.append(c.request("GET", "/healthz").header("x-request-id"))
        r = c.request("GET", "/healthz", {"Host": "a", "X-Dup": "1"})
        ids.append(r.header("x-request-id"))
    # and on a refused request
    with connect(server) as c:
        c.send(b"GET /healthz HTTP/1.1\r\n\r\n")
        r = c.read_response()
        assert r.status == 400
        ids.append(r.header("x-request-id"))
    assert all(ids)
    assert len(set(ids)) == len(ids), ids


def test_response_basics(server):
    r = get(server, "/healthz")
    assert r.version == "HTTP/1.1"
    assert r.header("date") and r.header("date").endswith("GMT")
    assert int(r.header("content-length")) == len(r.body)
    j = r.json()
    assert j["status"] == "ok" and isinstance(j["version"], str) and j["generation"] >= 1


# ---------------------------------------------------------------- timeouts

def test_slowloris_header_timeout_408_others_served(tight):
    slow = connect(tight, timeout=5)
    slow.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t0 = time.time()
    slow.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
    served = []
    got = b""
    i = 0
    while time.time() - t0 < 4:
        r, _, _ = select.select([slow.sock], [], [], 0.15)
        if r:
            got = slow.sock.recv(65536)
            break
        try:
            slow.send(b"X-Trickle-%d: y\r\n" % i)   # each byte batch is a fresh header
        except OSError:
            break
        i += 1
        if i % 2 == 0:
            t1 = time.time()
            served.append((get(tight, "/healthz").status, time.time() - t1))
    elapsed = time.time() - t0
    assert got, "no answer to the trickling client within 4 s"
    assert status_of(got) == 408, got
    assert 0.8 <= elapsed <= 2.5, "408 after %.2f s with timeouts.header = 1s" % elapsed
    slow.buf = got
    r = slow.read_response()
    assert_error_shape(r, 408, "timeout")
    assert r.header("connection") == "close"
    assert slow.closed_by_server(4), "server kept the slow connection open after 408"
    slow.close()
    assert len(served) >= 2
    assert all(st == 200 and dt < 0.5 for st, dt in served), served


def test_header_timeout_runs_from_first_byte_not_reset_by_bytes(tight):
    """A byte every 0.3 s for a header line that never ends: still 408 in ~1 s."""
    with connect(tight, timeout=5) as c:
        t0 = time.time()
        c.send(b"G")
        for ch in b"ET /healthz":
            time.sleep(0.3)
            try:
                c.send(bytes([ch]))
            except OSError:
                break
            r, _, _ = select.select([c.sock], [], [], 0)
            if r:
                break
        r = c.read_response()
        assert r is not None and r.status == 408, r
        assert time.time() - t0 < 2.5


def test_body_stall_408(tight):
    with connect(tight, timeout=5) as c:
        c.send(clock_head(tight) + b"Content-Type: application/json\r\n"
               b"Content-Length: 20\r\n\r\n{\"adv")
        t0 = time.time()
        r = c.read_response()
        dt = time.time() - t0
        assert_error_shape(r, 408, "timeout")
        assert "body" in r.json()["error"]["message"]
        assert 0.8 <= dt <= 2.5, dt
        assert r.header("connection") == "close"
    assert tight.healthy()


def test_chunked_body_stall_408(tight):
    with connect(tight, timeout=5) as c:
        c.send(clock_head(tight) + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\n{\"adv\r\n")
        t0 = time.time()
        r = c.read_response()
        assert_error_shape(r, 408, "timeout")
        assert 0.8 <= time.time() - t0 <= 2.5


def test_body_timeout_is_silence_not_total(tight):
    """timeouts.body is the longest silence: a body trickling every 0.3 s for
    ~2 s in all still completes."""
    body = b'{"advance": 0}' + b" " * 10
    with connect(tight, timeout=5) as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.send(clock_head(tight) + b"Content-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body))
        t0 = time.time()
        gaps = []
        for i in range(0, len(body), 4):
            t = time.time()
            time.sleep(0.3)
            c.send(body[i:i + 4])
            gaps.append(round(time.time() - t, 3))
        r = c.read_response()
        assert time.time() - t0 > 1.2
        assert r.status == 200, (r, gaps)


def test_idle_keep_alive_closed_silently(tight):
    with connect(tight, timeout=5) as c:
        assert c.request("GET", "/healthz").status == 200
        t0 = time.time()
        assert c.closed_by_server(4), "idle connection not closed"
        dt = time.time() - t0
        assert 0.8 <= dt <= 2.5, dt
        assert c.buf == b""        # silently: no 408 or other bytes


def test_idle_connection_without_any_request_closed(tight):
    with connect(tight, timeout=5) as c:
        t0 = time.time()
        assert c.closed_by_server(4)
        assert 0.8 <= time.time() - t0 <= 2.5


def test_idle_timer_reset_by_each_request(tight):
    """Requests every 0.6 s keep a connection alive past timeouts.idle."""
    with connect(tight, timeout=5) as c:
        for _ in range(3):
            assert c.request("GET", "/healthz").status == 200
            time.sleep(0.6)
        assert c.request("GET", "/healthz").status == 200


# ---------------------------------------------------------------- connection cap

def test_connection_cap_waits_not_refused():
    extra = 'limits = { connections = 2 }\ntimeouts = { idle = "30s" }\n'
    with running_server(extra, workers=1) as s:
        time.sleep(0.2)       # let the readiness probe's connection close
        a, b = connect(s), connect(s)
        try:
            assert a.request("GET", "/healthz").status == 200
            assert b.request("GET", "/healthz").status == 200
            c = Conn(s.port, timeout=1.0)   # the TCP handshake succeeds (backlog) ...
            c.send(healthz_req())
            with pytest.raises(socket.timeout):
                c.read_response()          # ... but nobody serves it while 2 are open
            # both held connections still work
            assert a.request("GET", "/healthz").status == 200
            a.close()
            c.sock.settimeout(3)
            t0 = time.time()
            r = c.read_response()
            assert r is not None and r.status == 200, r
            assert time.time() - t0 < 2
            assert b.request("GET", "/healthz").status == 200
            # still at the cap (b and c): a fourth waits again
            d = Conn(s.port, timeout=0.7)
            d.send(healthz_req())
            with pytest.raises(socket.timeout):
                d.read_response()
            c.close()
            d.sock.settimeout(3)
            assert d.read_response().status == 200
            d.close()
        finally:
            a.close()
            b.close()


def test_idle_close_after_a_database_write(tight):
    """Same as the idle test, with a request whose answer waits for a COMMIT."""
    with connect(tight, timeout=5) as c:
        c.send(clock_post(tight, b'{"advance": 0}'))
        assert c.read_response().status == 200
        t0 = time.time()
        assert c.closed_by_server(4), "idle connection not closed"
        assert 0.8 <= time.time() - t0 <= 2.5


def test_write_buffer_backpressure_loses_nothing():
    """A client that pipelines a lot and does not read for a while: the server
    stops reading at limits.write_buffer, and everything is answered, in order,
    once the client reads."""
    with running_server('limits = { write_buffer = "64KiB" }\n', workers=1) as s:
        n = 3000
        data = b"".join(b"GET /index.html?n=%d HTTP/1.1\r\nHost: t\r\n\r\n" % i if i % 3 else
                        b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n" for i in range(n))
        with connect(s, timeout=10) as c:
            t = threading.Thread(target=c.send, args=(data,))
            t.start()
            time.sleep(1.0)                      # not reading
            assert s.healthy(), "a stalled client blocked the worker"
            for i in range(n):
                r = c.read_response()
                assert r is not None, "closed after %d answers" % i
                assert r.status == 200
                if i % 3 == 0:
                    assert r.header("content-type") == "application/json", (i, r)
                else:
                    assert r.header("content-type").startswith("text/html"), (i, r)
            t.join()
