"""Fixtures for the black-box API tests: a real yimen server (master + 2 workers)
on a free loopback port with a temporary data directory."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.abspath(os.environ.get("YIMEN_BIN", os.path.join(ROOT, "build", "yimen")))


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
        self.env = dict(os.environ, YIMEN_TEST_CLOCK="1", **(env or {}))
        self.log_path = os.path.join(tmp, "server.log")
        self.proc = None
        self.write_config(extra)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def config_text(self, extra="", workers=None):
        return (f'listen = "127.0.0.1:{self.port}"\n'
                f'workers = {workers or self.workers}\n'
                f'data_dir = "var"\n'
                f'log_level = "info"\n'
                f'www_root = "{ROOT}/core/www"\n' + extra + "\n")

    def write_config(self, extra="", workers=None, raw=None):
        with open(self.conf, "w") as f:
            f.write(raw if raw is not None else self.config_text(extra, workers))

    def start(self, single=False, wait=True):
        args = [BIN, "serve", "-c", self.conf] + (["--single"] if single else [])
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, env=self.env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited early:\n" + self.log_text())
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
        return subprocess.run([BIN, *args, "-c", self.conf], capture_output=True, text=True,
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
