"""Fixtures for the black-box API tests: a real yimen server (master + 2 workers)
on a free loopback port with a temporary data directory."""
import errno
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

# shared helpers of several test files: their asserts report like the tests' own
pytest.register_assert_rewrite("directory_helpers")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.abspath(os.environ.get("YIMEN_BIN", os.path.join(ROOT, "build", "yimen")))
ADMIN_PASSWORD = "Yimen-Api-Test-Admin-7319!"

# Sessions must survive test-clock jumps of days; logins must be cheap.
AUTH_CONFIG = ('auth = { idle_timeout = 1000000000, absolute_timeout = 1000000000, '
               'argon2 = { memory = "64KiB", iterations = 1 } }\n')


def wait_binary_stable(path=BIN, quiet=0.5, timeout=60):
    """Other sessions rebuild build/yimen while the tests run: never exec a
    binary that is still being written."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if time.time() - os.stat(path).st_mtime >= quiet and os.access(path, os.X_OK):
                return
        except FileNotFoundError:
            pass
        time.sleep(0.1)


_EXEC_RACE = (errno.EACCES, errno.ETXTBSY, errno.ENOEXEC, errno.ENOENT)


def _exec_retry(fn):
    for _ in range(50):
        wait_binary_stable()
        try:
            return fn()
        except OSError as e:
            if e.errno not in _EXEC_RACE:
                raise
            time.sleep(0.2)
    return fn()


def run_bin(args, **kw):
    """subprocess.run of the yimen binary, safe against a concurrent rebuild."""
    return _exec_retry(lambda: subprocess.run(args, **kw))


def wait_for(pred, timeout=10, step=0.05):
    """Calls pred until it returns something true (returned) or timeout seconds pass
    (then its last value)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One yimen master with its workers; config is Lua text written to a file."""

    def __init__(self, tmp, extra="", workers=2, env=None):
        self.dir = tmp
        self.port = free_port()
        self.data = os.path.join(tmp, "var")
        self.conf = os.path.join(tmp, "yimen.conf")
        self.workers = workers
        self.base_extra = extra
        self.env = dict(os.environ, YIMEN_TEST_CLOCK="1", YIMEN_ADMIN_PASSWORD=ADMIN_PASSWORD)
        self.env.update(env or {})
        self.log_path = os.path.join(tmp, "server.log")
        self.www_root = os.path.join(ROOT, "core", "www")
        self.proc = None
        self._token = None
        self.write_config(extra)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def config_text(self, extra="", workers=None):
        return (f'listen = "127.0.0.1:{self.port}"\n'
                f'workers = {workers or self.workers}\n'
                f'data_dir = "var"\n'
                f'log_level = "info"\n'
                f'www_root = "{self.www_root}"\n' + self.auth_config(extra) + extra + "\n")

    @staticmethod
    def auth_config(extra):
        """The fast-login defaults, unless the caller configures auth itself."""
        return "" if re.search(r"^\s*auth\s*=", extra, re.M) else AUTH_CONFIG

    def write_config(self, extra="", workers=None, raw=None):
        with open(self.conf, "w") as f:
            f.write(raw if raw is not None else self.config_text(extra, workers))

    def start(self, single=False, wait=True):
        args = [BIN, "serve", "-c", self.conf] + (["--single"] if single else [])
        for attempt in range(3):
            self.log = open(self.log_path, "ab")
            mark = self._log_mark = os.path.getsize(self.log_path)
            self.proc = _exec_retry(lambda: subprocess.Popen(args, stdout=self.log, stderr=self.log, env=self.env))
            if not wait:
                return self
            try:
                self.wait_ready()
                return self
            except RuntimeError:
                # the master could not exec its workers: the binary was being rebuilt
                with open(self.log_path, "rb") as f:
                    f.seek(mark)
                    if b"cannot start worker" not in f.read() or attempt == 2:
                        raise
                self.proc.kill()
                self.proc.wait()
                self.log.close()
                time.sleep(1)
        return self

    def wait_ready(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited early:\n" + self.log_text())
            with open(self.log_path, "rb") as f:
                f.seek(getattr(self, "_log_mark", 0))
                cannot = b"cannot start worker" in f.read()
            if cannot:
                raise RuntimeError("server cannot start its workers:\n" + self.log_text())
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError("server not ready:\n" + self.log_text())

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def generation(self):
        return requests.get(self.url + "/healthz", timeout=2).json()["generation"]

    def cli(self, *args, check=False):
        return run_bin([BIN, *args, "-c", self.conf], capture_output=True, text=True,
                       env=self.env, timeout=60, check=check)

    def reload_and_wait(self, expect_gen, timeout=15):
        r = self.cli("reload")
        assert r.returncode == 0, r.stderr
        deadline = time.time() + timeout
        while time.time() < deadline:
            # a fresh connection lands on whichever generation accepts now
            try:
                if requests.get(self.url + "/healthz", timeout=1,
                                headers={"Connection": "close"}).json()["generation"] >= expect_gen:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise AssertionError("generation %d not serving:\n%s" % (expect_gen, self.log_text()))

    def worker_pids(self):
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        # under `make check-asan` a sanitizer report in any worker fails the test
        text = self.log_text() if os.path.exists(self.log_path) else ""
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in text:
                raise AssertionError("sanitizer report in the server log:\n" + text[text.index(marker) - 200:][:4000])
        return self.proc.returncode if self.proc else None


@pytest.fixture(scope="session")
def server():
    """The shared server for tests that do not restart or reconfigure it."""
    with tempfile.TemporaryDirectory(prefix="yimen-api-") as tmp:
        s = Server(tmp).start()
        yield s
        rc = s.stop()
        assert rc == 0, "server did not stop cleanly (%s):\n%s" % (rc, s.log_text())


@pytest.fixture
def fresh_server():
    """A private server for tests that reload, kill or stop it; the caller starts it."""
    with tempfile.TemporaryDirectory(prefix="yimen-api-") as tmp:
        s = Server(tmp)
        yield s
        s.stop()


def raw(server, data, timeout=5, read_all=True):
    """Send raw bytes, return everything the server answers until it closes or times out."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
                if not read_all:
                    break
        except socket.timeout:
            pass
    return b"".join(chunks)


def status_of(resp_bytes):
    line = resp_bytes.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def body_json(resp_bytes):
    head, _, body = resp_bytes.partition(b"\r\n\r\n")
    return json.loads(body.decode())


# ---------------------------------------------------------------------------
# Extensions shared by the test modules.

import contextlib
import re


def _configure(self, extra=None, workers=None, env=None, www_root=None):
    """Rewrite the config (and environment) of a server that is not started yet."""
    if www_root is not None:
        self.www_root = www_root
    if workers is not None:
        self.workers = workers
    if extra is not None:
        self.base_extra = extra
    if env:
        self.env.update(env)
    self.write_config(self.base_extra)
    return self


Server.configure = _configure


def _healthy(self, timeout=3):
    """True when a new connection gets a 200 from /healthz."""
    try:
        c = Conn(self.port, timeout=timeout)
        try:
            c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            r = c.read_response()
            return r is not None and r.status == 200 and r.json()["status"] == "ok"
        finally:
            c.close()
    except (OSError, ValueError):
        return False


Server.healthy = _healthy


def _wait_log(self, needle, timeout=10):
    """Waits until the server log contains needle (a str or compiled regex)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = self.log_text()
        if (needle.search(text) if hasattr(needle, "search") else needle in text):
            return text
        time.sleep(0.05)
    raise AssertionError("log never showed %r:\n%s" % (needle, self.log_text()[-4000:]))


Server.wait_log = _wait_log


@contextlib.contextmanager
def running_server(extra="", workers=2, env=None, single=False, www_root=None):
    """A private, started server for a module or a block of a test."""
    with tempfile.TemporaryDirectory(prefix="yimen-api-") as tmp:
        s = Server(tmp, extra, workers, env)
        if www_root is not None:
            s.configure(www_root=www_root)
        s.start(single=single)
        try:
            yield s
        finally:
            s.stop()


class Resp:
    def __init__(self, status, reason, headers, body, version):
        self.status = status
        self.reason = reason
        self.header_list = headers          # [(lower-case name, value), ...]
        self.headers = {k: v for k, v in headers}
        self.body = body
        self.version = version

    def header(self, name):
        return self.headers.get(name.lower())

    def headers_all(self, name):
        return [v for k, v in self.header_list if k == name.lower()]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<Resp %s %r %r>" % (self.status, self.header_list, self.body[:200])


class Conn:
    """A raw client connection that reads HTTP/1.1 responses one by one."""

    def __init__(self, port, timeout=5, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        if self.eof:
            return False
        b = self.sock.recv(65536)
        if not b:
            self.eof = True
            return False
        self.buf += b
        return True

    def read_response(self, head=False):
        """The next response (an interim 1xx is returned on its own); None if the
        server closed the connection before sending a byte of it."""
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                if self.buf:
                    raise AssertionError("connection closed inside a response head: %r" % self.buf)
                return None
        head_bytes, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head_bytes.split(b"\r\n")
        version, status, reason = (lines[0].decode("latin-1").split(" ", 2) + [""])[:3]
        headers = []
        for ln in lines[1:]:
            k, _, v = ln.decode("latin-1").partition(":")
            headers.append((k.strip().lower(), v.strip()))
        status = int(status)
        hd = dict(headers)
        if head or status < 200 or status in (204, 304):
            n = 0
        elif "content-length" in hd:
            n = int(hd["content-length"])
        else:  # read to the end
            while self._fill():
                pass
            n = len(self.buf)
        while len(self.buf) < n:
            if not self._fill():
                raise AssertionError("connection closed inside a body (%d of %d)" % (len(self.buf), n))
        body, self.buf = self.buf[:n], self.buf[n:]
        return Resp(status, reason, headers, body, version)

    def request(self, method="GET", path="/healthz", headers=None, body=b"", version="1.1"):
        h = {"Host": "t"}
        if version == "1.0":
            h = {}
        h.update(headers or {})
        if body and "Content-Length" not in h and "Transfer-Encoding" not in h:
            h["Content-Length"] = str(len(body))
        data = ("%s %s HTTP/%s\r\n" % (method, path, version)).encode()
        data += b"".join(("%s: %s\r\n" % kv).encode() for kv in h.items()) + b"\r\n" + body
        self.send(data)
        return self.read_response(head=(method == "HEAD"))

    def closed_by_server(self, timeout=3):
        """True if the server closes (EOF or reset) within timeout with no more bytes."""
        self.sock.settimeout(timeout)
        try:
            while True:
                b = self.sock.recv(65536)
                if not b:
                    return not self.buf
                self.buf += b
        except socket.timeout:
            return False
        except ConnectionResetError:
            return not self.buf

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def connect(server, timeout=5):
    return Conn(server.port, timeout=timeout)


def post_json(server, path, obj=None, raw_body=None, ctype="application/json", timeout=5, close=True, auth=True):
    """POST on a new connection (as the administrator unless auth=False); returns Resp."""
    body = raw_body if raw_body is not None else json.dumps(obj).encode()
    headers = {"Content-Length": str(len(body))}
    if auth:
        headers["Authorization"] = "Bearer " + server.token()
    if ctype is not None:
        headers["Content-Type"] = ctype
    if close:
        headers["Connection"] = "close"
    with connect(server, timeout) as c:
        return c.request("POST", path, headers, body)


def get(server, path, headers=None, timeout=5):
    with connect(server, timeout) as c:
        h = {"Connection": "close"}
        h.update(headers or {})
        return c.request("GET", path, h)


_METRIC_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)$')


def parse_metrics(text):
    """Prometheus text -> {(name, frozenset(labels.items())): float}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _METRIC_RE.match(line)
        assert m, "unparsable metrics line %r" % line
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out


def scrape(server):
    r = get(server, "/metrics")
    assert r.status == 200, r
    return parse_metrics(r.body.decode())


def metric(metrics, name, **labels):
    return metrics.get((name, frozenset(labels.items())), 0.0)


def worker_pid_of(resp):
    """X-Request-Id is <worker pid hex>-<seq>."""
    return int(resp.header("x-request-id").split("-")[0], 16)


def _token(self, fresh=False):
    """A bearer token of the bootstrap administrator (signed in once per server)."""
    if self._token and not fresh:
        return self._token
    body = json.dumps({"username": "admin", "password": ADMIN_PASSWORD}).encode()
    with Conn(self.port, timeout=10) as c:
        r = c.request("POST", "/api/auth/login", {"Content-Type": "application/json", "Connection": "close"}, body)
    assert r is not None and r.status == 200, "admin sign-in failed: %r" % r
    self._token = r.json()["token"]
    return self._token


Server.token = _token


def auth_header(server):
    return {"Authorization": "Bearer " + server.token()}
