"""A small Server-Sent Events client over a raw socket (GET /api/events), shared by the
notification and plugin tests: it records which worker answered and parses frames."""
import json
import socket
import time


class Sse:
    def __init__(self, server, token, last_event_id=None, path="/api/events", timeout=5):
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
        head = "GET %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n" % (path, token)
        if last_event_id is not None:
            head += "Last-Event-ID: %s\r\n" % last_event_id
        self.sock.sendall((head + "\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        raw_head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
        self.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        rid = self.headers.get("x-request-id", "0-0")
        self.worker = int(rid.split("-")[0], 16)
        self.closed = False

    def _fill(self, deadline):
        self.sock.settimeout(max(0.01, deadline - time.time()))
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        if not chunk:
            self.closed = True
            return False
        self.buf += chunk
        return True

    def frames(self, timeout=5, count=None, comments=False):
        """Frames ({"id", "event", "data"} dicts; comments as {"comment"}) until count or timeout."""
        out = []
        deadline = time.time() + timeout
        while count is None or len(out) < count:
            while b"\n\n" in self.buf:
                block, _, self.buf = self.buf.partition(b"\n\n")
                f = {}
                for line in block.decode().split("\n"):
                    if line.startswith(":"):
                        f["comment"] = line[1:]
                        continue
                    k, _, v = line.partition(":")
                    v = v[1:] if v.startswith(" ") else v
                    f[k] = v if k != "data" else json.loads(v)
                if "comment" in f and not comments and len(f) == 1:
                    continue
                if "retry" in f and len(f) == 1:
                    continue
                out.append(f)
                if count is not None and len(out) >= count:
                    return out
            if self.closed or time.time() >= deadline or not self._fill(deadline):
                if self.closed or time.time() >= deadline:
                    return out
        return out

    def wait_closed(self, timeout=5):
        deadline = time.time() + timeout
        while not self.closed and time.time() < deadline:
            self._fill(deadline)
        return self.closed

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def streams_on_both_workers(server, token, want=2, tries=30):
    """Open streams until `want` different workers hold one; returns them all."""
    streams, workers = [], set()
    for _ in range(tries):
        s = Sse(server, token)
        assert s.status == 200, s.headers
        streams.append(s)
        workers.add(s.worker)
        if len(workers) >= want:
            return streams
    raise AssertionError("all %d streams landed on workers %r" % (tries, workers))
