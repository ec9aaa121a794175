"""Static files from www_root: the right bytes and headers, ETag revalidation,
and nothing outside the root or hidden ever served, however the path is encoded."""
import os
import re
import socket
import tempfile

import pytest

from conftest import connect, get, running_server

SECRETS = [b"OUTSIDE-SECRET-7f3a", b"SIBLING-SECRET-91c2", b"HIDDEN-SECRET-2b8e",
           b"GIT-SECRET-c4d1", b"ENV-SECRET-55aa", b"root:x:0:0"]
INDEX = b"<!doctype html><html><body>STATIC-INDEX-MARKER</body></html>\n"
SUB_INDEX = b"<html>SUB-INDEX-MARKER</html>"
BIG_JS = b"".join(b"export const v%d = 'value number %d';\n" % (i, i) for i in range(100))
SHELL = (b'<!doctype html><head><!--yimen:importmap--><link rel="stylesheet" href="/style.css?v=<!--yimen:v:/style.css-->">'
         b'<!-- an ordinary comment --></head><body>' + b"x" * 600 + b"</body>\n")


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


@pytest.fixture(scope="module")
def www():
    with tempfile.TemporaryDirectory(prefix="yimen-www-") as tmp:
        root = os.path.join(tmp, "www")
        write(os.path.join(root, "index.html"), INDEX)
        write(os.path.join(root, "style.css"), b"body{color:red}")
        write(os.path.join(root, "app.js"), b"console.log(1)")
        write(os.path.join(root, "data.json"), b'{"a":1}')
        write(os.path.join(root, "img.png"), b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
        write(os.path.join(root, "notes.txt"), b"plain notes")
        write(os.path.join(root, "blob.xyz"), b"opaque")
        write(os.path.join(root, "space name.txt"), b"SPACE-NAME")
        write(os.path.join(root, "一门.txt"), "一门-UTF8".encode())
        write(os.path.join(root, "big.js"), BIG_JS)
        write(os.path.join(root, "kit", "api.js"), b"export const api = 1;\n")
        write(os.path.join(root, "big.png"), bytes(range(256)) * 8)
        write(os.path.join(root, "shell.html"), SHELL)
        write(os.path.join(root, "sub", "index.html"), SUB_INDEX)
        write(os.path.join(root, "sub", "page.html"), b"<p>SUB-PAGE</p>")
        write(os.path.join(root, "sub", ".env"), b"ENV-SECRET-55aa")
        write(os.path.join(root, "nodir", "file.txt"), b"NODIR-FILE")
        write(os.path.join(root, ".hidden"), b"HIDDEN-SECRET-2b8e")
        write(os.path.join(root, ".git", "config"), b"[core] GIT-SECRET-c4d1")
        write(os.path.join(root, ".well-hidden", "x.txt"), b"HIDDEN-SECRET-2b8e")
        # outside the root
        write(os.path.join(tmp, "outside", "secret.txt"), b"OUTSIDE-SECRET-7f3a")
        write(os.path.join(tmp, "secret.txt"), b"OUTSIDE-SECRET-7f3a")
        # a sibling whose name starts with the root's name
        write(os.path.join(tmp, "www-evil", "secret.txt"), b"SIBLING-SECRET-91c2")
        os.symlink(os.path.join(tmp, "outside", "secret.txt"), os.path.join(root, "link.txt"))
        os.symlink(os.path.join(tmp, "outside"), os.path.join(root, "linkdir"))
        os.symlink("../www-evil", os.path.join(root, "evil"))
        os.symlink("/etc/passwd", os.path.join(root, "passwd"))
        os.symlink("index.html", os.path.join(root, "inside-link.html"))
        yield root


@pytest.fixture(scope="module")
def srv(www):
    with running_server(www_root=www) as s:
        yield s


def raw_get(server, target, headers=b""):
    with connect(server) as c:
        c.send(b"GET " + target + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + headers + b"\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        r = c.read_response()
        assert r is not None, target
        return r


def no_secret(r):
    for s in SECRETS:
        assert s not in r.body, (s, r)


# ---------------------------------------------------------------- serving

def test_root_serves_index(srv):
    r = raw_get(srv, b"/")
    assert r.status == 200
    assert r.body == INDEX
    assert r.header("content-type") == "text/html; charset=utf-8"
    assert r.header("etag").startswith('"') and r.header("etag").endswith('"')
    assert r.header("x-content-type-options") == "nosniff"
    assert r.header("cache-control") == "no-cache"
    assert int(r.header("content-length")) == len(INDEX)
    r2 = raw_get(srv, b"/index.html")
    assert r2.status == 200 and r2.body == INDEX
    assert r2.header("etag") == r.header("etag")


def test_query_string_ignored_for_files(srv):
    r = raw_get(srv, b"/index.html?v=123&x")
    assert r.status == 200 and r.body == INDEX


def test_subdir_index_and_page(srv):
    assert raw_get(srv, b"/sub/").body == SUB_INDEX
    r = raw_get(srv, b"/sub/page.html")
    assert r.status == 200 and r.body == b"<p>SUB-PAGE</p>"
    assert raw_get(srv, b"/nodir/file.txt").body == b"NODIR-FILE"


def test_percent_encoded_names(srv):
    assert raw_get(srv, b"/space%20name.txt").body == b"SPACE-NAME"
    assert raw_get(srv, b"/%E4%B8%80%E9%97%A8.txt").body == "一门-UTF8".encode()
    assert raw_get(srv, b"/%69ndex.html").body == INDEX


def test_symlink_inside_root_served(srv):
    r = raw_get(srv, b"/inside-link.html")
    assert r.status == 200 and r.body == INDEX


@pytest.mark.parametrize("name,ctype", [
    ("index.html", "text/html; charset=utf-8"),
    ("style.css", "text/css; charset=utf-8"),
    ("app.js", "text/javascript; charset=utf-8"),
    ("data.json", "application/json"),
    ("img.png", "image/png"),
    ("notes.txt", "text/plain; charset=utf-8"),
    ("blob.xyz", "application/octet-stream"),
])
def test_content_types(srv, www, name, ctype):
    r = raw_get(srv, b"/" + name.encode())
    assert r.status == 200
    assert r.header("content-type") == ctype
    with open(os.path.join(www, name), "rb") as f:
        assert r.body == f.read()


def test_no_directory_listing(srv):
    for target in (b"/nodir/", b"/nodir", b"/sub", b"/linkdir/", b"/.git/"):
        r = raw_get(srv, target)
        assert r.status == 404, (target, r)
        assert r.json()["error"]["code"] == "not_found"
        assert b"file.txt" not in r.body
        no_secret(r)


def test_head_static(srv):
    with connect(srv) as c:
        r = c.request("HEAD", "/index.html")
        assert r.status == 200 and r.body == b""
        assert int(r.header("content-length")) == len(INDEX)
        assert r.header("etag")
        r = c.request("GET", "/style.css")
        assert r.body == b"body{color:red}"


# ---------------------------------------------------------------- ETag

def test_etag_304(srv):
    etag = raw_get(srv, b"/index.html").header("etag")
    for inm in (etag, "W/" + etag, '"nope", ' + etag, etag + ', "nope"', "*"):
        r = raw_get(srv, b"/index.html", b"If-None-Match: " + inm.encode() + b"\r\n")
        assert r.status == 304, (inm, r)
        assert r.body == b""
        assert r.header("etag") == etag
        # RFC 9110 8.6: a 304 carries no Content-Length, or the 200's one
        assert r.header("content-length") in (None, str(len(INDEX))), r
        assert r.header("x-request-id")
    # the same tag on another path (/) works too: / is index.html
    assert raw_get(srv, b"/", b"If-None-Match: " + etag.encode() + b"\r\n").status == 304


def test_etag_mismatch_200(srv):
    etag = raw_get(srv, b"/index.html").header("etag")
    for inm in ('"0000"', etag[:-2] + '"', '"x' + etag[1:], "W/\"nope\""):
        r = raw_get(srv, b"/index.html", b"If-None-Match: " + inm.encode() + b"\r\n")
        assert r.status == 200, (inm, r)
        assert r.body == INDEX


def test_etags_differ_by_content(srv):
    tags = {raw_get(srv, p).header("etag") for p in (b"/index.html", b"/style.css", b"/app.js", b"/sub/")}
    assert len(tags) == 4


def test_304_keeps_connection_usable(srv):
    etag = raw_get(srv, b"/index.html").header("etag")
    with connect(srv) as c:
        r = c.request("GET", "/index.html", {"If-None-Match": etag})
        assert r.status == 304 and r.body == b""
        r = c.request("GET", "/index.html")
        assert r.status == 200 and r.body == INDEX


# ---------------------------------------------------------------- traversal

TRAVERSAL = [
    b"/../secret.txt",
    b"/../outside/secret.txt",
    b"/../../../../../../etc/passwd",
    b"/sub/../../outside/secret.txt",
    b"/%2e%2e/outside/secret.txt",
    b"/%2E%2E/outside/secret.txt",
    b"/%2e%2e%2foutside%2fsecret.txt",
    b"/..%2foutside%2fsecret.txt",
    b"/..%2Foutside%2Fsecret.txt",
    b"/.%2e/outside/secret.txt",
    b"/sub/%2e%2e/%2e%2e/outside/secret.txt",
    b"/%252e%252e/outside/secret.txt",
    b"/%252e%252e%252foutside%252fsecret.txt",
    b"/..\\outside\\secret.txt",
    b"/..%5coutside%5csecret.txt",
    b"/%5c..%5coutside%5csecret.txt",
    b"/sub\\..\\..\\outside\\secret.txt",
    b"/%c0%ae%c0%ae/outside/secret.txt",
    b"/..;/outside/secret.txt",
    b"//../outside/secret.txt",
    b"/./index.html",
    b"/sub/./page.html",
    b"/link.txt",
    b"/linkdir/secret.txt",
    b"/evil/secret.txt",
    b"/passwd",
    b"/.hidden",
    b"/%2ehidden",
    b"/.git/config",
    b"/.git%2fconfig",
    b"/%2egit/config",
    b"/sub/.env",
    b"/.well-hidden/x.txt",
]


@pytest.mark.parametrize("target", TRAVERSAL, ids=lambda t: t.decode("latin-1"))
def test_traversal_and_hidden_never_served(srv, target):
    r = raw_get(srv, target)
    assert r.status in (400, 404), r
    assert r.header("content-type") == "application/json", r
    assert "error" in r.json()
    no_secret(r)


@pytest.mark.parametrize("target", [b"/%00", b"/index.html%00", b"/index.html%00.png",
                                    b"/%00/../outside/secret.txt", b"/sub%00/page.html"])
def test_nul_in_path_400(srv, target):
    r = raw_get(srv, target)
    assert r.status == 400, r
    assert r.json()["error"]["code"] == "bad_request"
    no_secret(r)
    assert srv.healthy()


def test_absolute_form_traversal_not_served(srv):
    r = raw_get(srv, b"http://t/../outside/secret.txt")
    assert r.status in (400, 404)
    no_secret(r)


def test_head_and_if_none_match_on_hidden_files(srv):
    with connect(srv) as c:
        r = c.request("HEAD", "/.hidden")
        assert r.status == 404
        r = c.request("GET", "/link.txt", {"If-None-Match": "*"})
        assert r.status == 404, r
        no_secret(r)


def test_default_www_root_serves_shell(server):
    r = get(server, "/")
    assert r.status == 200
    assert r.header("content-type") == "text/html; charset=utf-8"
    with open(os.path.join(server.www_root, "index.html"), "rb") as f:
        src = f.read()
    # the file as written, its <!--yimen:...--> markers filled in
    assert b"<!--yimen:" not in r.body
    pos = 0
    for piece in re.split(rb"<!--yimen:[^>]*-->", src):
        found = r.body.find(piece, pos)
        assert found >= 0, piece[:80]
        pos = found + len(piece)


# ---------------------------------------------------------------- versions, caching, gzip

import gzip as _gzip
import hashlib
import json
import re


def h8(data):
    return hashlib.sha256(data).hexdigest()[:8]


def test_markers_filled(srv):
    r = raw_get(srv, b"/shell.html")
    assert r.status == 200 and r.header("cache-control") == "no-cache"
    body = r.body.decode()
    assert "<!--yimen:" not in body and "<!-- an ordinary comment -->" in body
    assert 'href="/style.css?v=%s"' % h8(b"body{color:red}") in body
    m = re.search(r'<script type="importmap">(.*?)</script>', body)
    imports = json.loads(m.group(1))["imports"]
    assert imports["/app.js"] == "/app.js?v=" + h8(b"console.log(1)")
    assert imports["/big.js"] == "/big.js?v=" + h8(BIG_JS)
    assert set(imports) == {"/app.js", "/big.js", "/kit/api.js"}
    assert int(r.header("content-length")) == len(r.body)


def test_versioned_url_is_immutable(srv):
    v = h8(BIG_JS)
    r = raw_get(srv, b"/big.js?v=" + v.encode())
    assert r.status == 200 and r.header("cache-control") == "public, max-age=31536000, immutable"
    # a stale or foreign version is not pinned for a year
    assert raw_get(srv, b"/big.js?v=00000000").header("cache-control") == "no-cache"
    assert raw_get(srv, b"/big.js").header("cache-control") == "no-cache"
    # HTML is never cached without revalidation
    assert raw_get(srv, b"/index.html?v=" + h8(INDEX).encode()).header("cache-control") == "no-cache"


def test_gzip_negotiation(srv):
    plain = raw_get(srv, b"/big.js")
    assert plain.body == BIG_JS and plain.header("content-encoding") is None
    assert plain.header("vary") == "Accept-Encoding"
    for ae in (b"gzip", b"gzip, deflate, br", b"br;q=1.0, gzip;q=0.5", b"*", b"GZIP"):
        r = raw_get(srv, b"/big.js", b"Accept-Encoding: " + ae + b"\r\n")
        assert r.status == 200, ae
        assert r.header("content-encoding") == "gzip", ae
        assert r.header("vary") == "Accept-Encoding"
        assert _gzip.decompress(r.body) == BIG_JS
        assert len(r.body) < len(BIG_JS)
        assert int(r.header("content-length")) == len(r.body)
        assert r.header("etag") == plain.header("etag")[:-1] + '-gz"'
    for ae in (b"gzip;q=0", b"identity", b"deflate, br", b"gzip;q=0, *", b"*;q=0", b"br, gzip; q=0.000"):
        r = raw_get(srv, b"/big.js", b"Accept-Encoding: " + ae + b"\r\n")
        assert r.header("content-encoding") is None and r.body == BIG_JS, ae


def test_gzip_only_when_worth_it(srv):
    for path in (b"/app.js", b"/big.png", b"/style.css"):  # small, or not compressible
        r = raw_get(srv, path, b"Accept-Encoding: gzip\r\n")
        assert r.header("content-encoding") is None and r.header("vary") is None, path


def test_gzip_head_and_304(srv):
    etag = raw_get(srv, b"/big.js", b"Accept-Encoding: gzip\r\n").header("etag")
    with connect(srv) as c:
        r = c.request("HEAD", "/big.js", {"Accept-Encoding": "gzip"})
        assert r.status == 200 and r.body == b"" and r.header("content-encoding") == "gzip"
        assert r.header("etag") == etag
        r = c.request("GET", "/big.js", {"Accept-Encoding": "gzip", "If-None-Match": etag})
        assert r.status == 304 and r.header("vary") == "Accept-Encoding"
        # the gzip tag does not validate the identity body
        r = c.request("GET", "/big.js", {"If-None-Match": etag})
        assert r.status == 200 and r.body == BIG_JS
