"""A console in a real IVR process, and a cookie-keeping HTTP client for it (urllib, loopback)."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.cookiejar import CookieJar
from typing import Any

from sqlalchemy import text

from tests.e2e.server import ROOT, IvrProcess, open_store

PASSWORD = "console-pass-1"
METRICS_TOKEN = "metrics-token-for-tests"


def add_user(server: IvrProcess, username: str, role: str, name: str = "") -> None:
    """`python -m ivr users add` against the server's own database."""
    done = subprocess.run(
        [sys.executable, "-m", "ivr", "users", "add", username, "--role", role,
         "--name", name or username, "--password-stdin"],
        input=f"{PASSWORD}\n".encode(), cwd=ROOT, env=server.env, check=False,
        capture_output=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def web_url(server: IvrProcess) -> str:
    found = server.wait_for_log(r"web console on (http://127\.0\.0\.1:\d+)/", timeout=30)
    return found.group(1)


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]
    url: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)


class ConsoleClient:
    """A browser without JavaScript: cookies, redirects followed, CSRF token read from pages."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.csrf = ""

    def request(
        self,
        method: str,
        path: str,
        data: dict[str, str] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        body = None
        sent = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent["Content-Type"] = "application/json"
        elif data is not None:
            body = urllib.parse.urlencode(data).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.base + path, body, sent, method=method)
        try:
            with self.opener.open(request, timeout=30) as response:
                reply = Reply(response.status, response.read(), dict(response.headers),
                              response.url)  # fmt: skip
        except urllib.error.HTTPError as error:
            reply = Reply(error.code, error.read(), dict(error.headers), error.url)
        token = re.search(rb'data-csrf="([^"]+)"', reply.body)
        if token:
            self.csrf = token.group(1).decode()
        return reply

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Reply:
        headers = {"X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}
        return self.request("POST", path, headers=headers, **kwargs)

    def post_files(self, path: str, fields: dict[str, str], files: dict[str, bytes]) -> Reply:
        """A multipart/form-data POST, as a browser's file upload sends it."""
        boundary = "----ivr-test-boundary"
        parts = []
        for name, value in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                         f"{value}\r\n".encode())  # fmt: skip
        for name, data in files.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="upload.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
                + data
                + b"\r\n"
            )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "X-CSRF-Token": self.csrf,
            "Accept": "application/json",
        }
        request = urllib.request.Request(self.base + path, body, headers, method="POST")
        try:
            with self.opener.open(request, timeout=60) as response:
                return Reply(response.status, response.read(), dict(response.headers), response.url)
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read(), dict(error.headers), error.url)

    def events(self, path: str) -> EventStream:
        """Open a server-sent event stream with this client's session (as EventSource does)."""
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.cookies)
        return EventStream(self.base, path, cookie)

    def login(self, username: str, password: str = PASSWORD) -> Reply:
        form = self.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text
        reply = self.request(
            "POST",
            "/login",
            data={"csrf_token": token.group(1), "username": username, "password": password},
        )
        return reply


class EventStream:
    """A `text/event-stream` response read event by event (comments are kept apart)."""

    def __init__(self, base: str, path: str, cookie: str) -> None:
        address = urllib.parse.urlsplit(base)
        self.connection = http.client.HTTPConnection(address.hostname or "", address.port,
                                                     timeout=30)  # fmt: skip
        self.connection.request(
            "GET", path, headers={"Cookie": cookie, "Accept": "text/event-stream"}
        )
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.comments: list[str] = []

    def next_event(self, timeout: float) -> tuple[str, str] | None:
        """(event name, data) of the next event; None when the server ended the stream."""
        sock = self.connection.sock
        if sock is not None:
            sock.settimeout(timeout)
        name, data = "message", []
        while True:
            line = self.response.readline()
            if not line:
                return None
            text = line.decode("utf-8").rstrip("\n")
            if not text:
                if data:
                    return name, "\n".join(data)
                continue
            field, _, value = text.partition(": ")
            if field == "":
                self.comments.append(value)
            elif field == "event":
                name = value
            elif field == "data":
                data.append(value)

    def next_state(self, timeout: float) -> Any:
        event = self.next_event(timeout)
        assert event is not None and event[0] == "state", event
        return json.loads(event[1])

    def close(self) -> None:
        self.connection.close()


def query(server: IvrProcess, statement: str) -> list[tuple[Any, ...]]:
    """Rows of the server's own database (SQLite or PostgreSQL), for checking what it wrote."""
    db = open_store(server)
    try:
        with db.reading() as session:
            return [tuple(row) for row in session.execute(text(statement))]
    finally:
        db.dispose()
