"""The consoles' web server: one Klein app on the IVR's reactor, shared by every section.

A section (the supervisor console in ivr/admin, the agent console in ivr/agents) is a class that
takes the `WebConsole` and declares its pages with `console.page(path, roles=...)`. Every page
declared that way gets, before its handler runs:

- the session: a cookie holding a random token, looked up in the database (any node accepts it);
  no session -> the login page (or 401 for JSON clients);
- the role check: a user whose role is not in `roles` gets 403;
- CSRF protection on every state-changing method: the session's token must come back in the
  `X-CSRF-Token` header or a `csrf_token` form field, and a cross-site `Origin` is refused.

Handlers are `async def handler(request, user, **route_args)` returning HTML text (a rendered
template), a `JsonResponse`, or bytes with the content type already set. Blocking work goes
through `console.blocking(fn, ...)` (the IVR's bounded pool); nothing here blocks the reactor.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import jinja2
from klein import Klein
from twisted.internet import task
from twisted.internet.defer import CancelledError
from twisted.internet.interfaces import IListeningPort
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.pages import notFound
from twisted.web.resource import IResource
from twisted.web.server import Request, Site
from twisted.web.static import File
from werkzeug.exceptions import MethodNotAllowed, NotFound

from ivr.store.accounts import ROLES, Account, authenticate
from ivr.store.change_log import record_change
from ivr.store.redis_state import count_in_window
from ivr.store.web_sessions import (
    SessionUser,
    close_session,
    open_session,
    purge_expired,
    session_user,
)
from ivr.web.services import WebServices
from ivr.web.settings import WebSettings

log = logging.getLogger("ivr.web")

T = TypeVar("T")
HERE = Path(__file__).resolve().parent
COOKIE = "ivr_session"
LOGIN_COOKIE = "ivr_login"  # double-submit token of the login form (there is no session yet)
SAFE_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS"})
LOCAL_ZONE = ZoneInfo("Asia/Shanghai")  # how times are shown; the service's own zone
ROLE_NAMES = {"agent": "坐席", "supervisor": "班长"}
MAX_JSON_BYTES = 1_000_000
SESSION_PURGE_S = 3600.0  # expired sessions are deleted this often
LOGIN_FAILURES_ALLOWED = 10  # per username and per address, in LOGIN_WINDOW_S
LOGIN_WINDOW_S = 900
SECURITY_HEADERS = {
    b"X-Frame-Options": b"DENY",
    b"X-Content-Type-Options": b"nosniff",
    b"Referrer-Policy": b"same-origin",
    b"Content-Security-Policy": (
        b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        b"media-src 'self' blob:; object-src 'none'; frame-ancestors 'none'"
    ),
}

Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class NavLink:
    title: str
    href: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class JsonResponse:
    body: Any
    code: int = 200


class WebConsole:
    def __init__(self, services: WebServices, settings: WebSettings) -> None:
        self.services = services
        self.settings = settings
        self.app = Klein()
        self.nav: list[NavLink] = []
        self._template_dirs: list[Path] = [HERE / "templates"]
        self.templates = self._environment()
        self.lifetime = dt.timedelta(hours=settings.session_hours)
        self._periodic: list[tuple[float, Callable[[], object]]] = []
        self.add_static("web", HERE / "static")
        self._routes()
        self.every(SESSION_PURGE_S, self._purge_sessions)

    # --- what sections use ------------------------------------------------------------------

    def add_templates(self, directory: Path) -> None:
        self._template_dirs.append(directory)
        self.templates = self._environment()

    def add_static(self, name: str, directory: Path) -> None:
        """Serve `directory` at /static/<name>/ (vendored libraries, a section's scripts)."""

        @self.app.route(f"/static/{name}/", branch=True, endpoint=f"static-{name}")
        def static(request: Request) -> File:
            _secure(request)
            request.setHeader(b"Cache-Control", b"max-age=3600")
            return StaticFiles(str(directory))

    def every(self, seconds: float, job: Callable[[], object]) -> None:
        """Run `job` on the reactor every `seconds` once the server listens (it must not block:
        hand blocking work to `services.pool`)."""
        self._periodic.append((seconds, job))

    def add_nav(self, title: str, href: str, roles: Sequence[str]) -> None:
        self.nav.append(NavLink(title, href, tuple(roles)))

    def page(
        self,
        path: str,
        *,
        roles: Sequence[str] = ROLES,
        methods: Sequence[str] = ("GET",),
    ) -> Callable[[Handler], Handler]:
        """Declare a page: session, role check and CSRF check run before `handler`."""
        allowed = tuple(roles)

        def decorate(handler: Handler) -> Handler:
            async def endpoint(request: Request, **kwargs: Any) -> Any:
                _secure(request)
                user = await self.current_user(request)
                if user is None:
                    return self._login_required(request)
                if user.role not in allowed:
                    log.info("%s (%s) refused %s", user.username, user.role, path)
                    names = "、".join(ROLE_NAMES.get(role, role) for role in allowed)
                    return self.error(request, user, 403, f"此页面仅限{names}使用。")
                if request.method not in SAFE_METHODS and not self._csrf_ok(request, user):
                    return self.error(
                        request, user, 403, "请求缺少有效的安全令牌（CSRF），请刷新页面后重试。"
                    )
                try:
                    result = await handler(request, user, **kwargs)
                except BadRequest as error:
                    return self.error(request, user, 400, str(error))
                except CancelledError:
                    raise  # the browser went away (Klein cancels): nothing to answer or log
                except Exception:
                    log.exception("%s %s failed", request.method.decode(), path)
                    return self.error(request, user, 500, "服务器内部错误，已记入日志。")
                return self._respond(request, result)

            name = f"{handler.__module__}.{handler.__qualname__}"
            self.app.route(path, methods=list(methods), endpoint=name)(endpoint)
            return handler

        return decorate

    async def blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking work (SQL, Redis, TTS, audio) on the IVR's bounded pool."""
        return await self.services.pool.run(fn, *args, **kwargs)

    def render(
        self, request: Request, user: SessionUser | None, template: str, **context: Any
    ) -> str:
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        nav = [link for link in self.nav if user is not None and user.role in link.roles]
        return self.templates.get_template(template).render(
            user=user,
            role_name=ROLE_NAMES.get(user.role, user.role) if user else "",
            csrf_token=user.csrf_token if user else "",
            nav=nav,
            path=request.path.decode("utf-8", "replace"),
            **context,
        )

    def error(self, request: Request, user: SessionUser | None, code: int, message: str) -> Any:
        request.setResponseCode(code)
        if _wants_json(request):
            return self._respond(request, JsonResponse({"error": message}, code))
        return self.render(request, user, "error.html", code=code, message=message)

    async def change(self, user: SessionUser, action: str, target: str, **detail: Any) -> None:
        """Record a change that has no transaction of its own in the change log."""
        await self.blocking(self._record, user.username, action, target, detail)

    def _record(self, username: str, action: str, target: str, detail: dict[str, Any]) -> None:
        with self.services.db.transaction() as session:
            record_change(
                session,
                at=self.services.wallclock(),
                username=username,
                action=action,
                target=target,
                detail=detail or None,
            )

    def _purge_sessions(self) -> None:
        services = self.services

        def failed(failure: Failure) -> None:
            log.warning("expired sessions not purged: %s", type(failure.value).__name__)

        services.pool.run(purge_expired, services.db, services.wallclock()).addErrback(failed)

    async def current_user(self, request: Request) -> SessionUser | None:
        token = request.getCookie(COOKIE.encode())
        if not token:
            return None
        return await self.blocking(
            session_user,
            self.services.db,
            token.decode("ascii", "replace"),
            self.services.wallclock(),
            self.lifetime,
        )

    def listen(self, reactor: Any) -> IListeningPort:
        site = QuietSite(self.app.resource())
        port: IListeningPort = reactor.listenTCP(
            self.settings.port, site, interface=self.settings.host
        )
        bound = port.getHost().port  # type: ignore[attr-defined]
        log.info("web console on http://%s:%d/", self.settings.host, bound)
        for seconds, job in self._periodic:
            loop = task.LoopingCall(job)
            loop.clock = reactor
            loop.start(seconds, now=True).addErrback(
                lambda failure: log.error("periodic console job stopped: %s", failure.value)
            )
        return port

    # --- login, logout, home ----------------------------------------------------------------

    def _routes(self) -> None:
        app = self.app

        @app.route("/login", methods=["GET"], endpoint="login-form")
        async def login_form(request: Request) -> Any:
            _secure(request)
            return self._login_page(request, "")

        @app.route("/login", methods=["POST"], endpoint="login")
        async def login(request: Request) -> Any:
            _secure(request)
            cookie = request.getCookie(LOGIN_COOKIE.encode()) or b""
            given = _arg(request, "csrf_token").encode()
            if not cookie or not secrets.compare_digest(cookie, given):
                return self._login_page(request, "页面已过期，请重新登录。", 403)
            username = _arg(request, "username").strip().lower()
            password = _arg(request, "password")
            account = await self.blocking(self._authenticate, request, username, password)
            if account is None:
                return self._login_page(request, "用户名或密码错误，或账号已停用。", 401)
            token = await self.blocking(self._open_session, account, self.services.wallclock())
            self._set_cookie(request, COOKIE, token, self.lifetime)
            request.redirect(_local_target(_arg(request, "next")).encode())
            return b""

        @self.page("/logout", methods=["POST"])
        async def logout(request: Request, user: SessionUser) -> Any:
            token = request.getCookie(COOKIE.encode()) or b""
            await self.blocking(close_session, self.services.db, token.decode("ascii", "replace"))
            await self.change(user, "user.logout", user.username)
            self._set_cookie(request, COOKIE, "", dt.timedelta(0))
            request.redirect(b"/login")
            return b""

        @self.page("/")
        async def home(request: Request, user: SessionUser) -> Any:
            return self.render(request, user, "home.html")

        @app.handle_errors(NotFound)
        def not_found(request: IRequest, failure: Failure) -> Any:
            assert isinstance(request, Request)  # Klein serves twisted.web's Request
            _secure(request)
            return self.error(request, None, 404, "没有这个页面。")

        @app.handle_errors(MethodNotAllowed)
        def not_allowed(request: IRequest, failure: Failure) -> Any:
            assert isinstance(request, Request)  # Klein serves twisted.web's Request
            _secure(request)
            return self.error(request, None, 405, "这个页面不接受这种请求。")

    def _authenticate(self, request: Request, username: str, password: str) -> Account | None:
        """Checked off the reactor; after too many failures neither name nor address may try."""
        redis = self.services.redis
        address = getattr(request.getClientAddress(), "host", "?")
        keys = [f"ivr:web:login-fail:user:{username}", f"ivr:web:login-fail:addr:{address}"]
        if any(int(redis.get(key) or 0) >= LOGIN_FAILURES_ALLOWED for key in keys):
            log.warning("login refused for %r from %s: too many failures", username, address)
            return None
        account = authenticate(self.services.db, username, password)
        if account is None:
            for key in keys:
                count_in_window(redis, key, LOGIN_WINDOW_S)
            log.info("failed login for %r from %s", username, address)
        return account

    def _open_session(self, account: Account, now: dt.datetime) -> str:
        token = open_session(self.services.db, account.id, now, self.lifetime)
        with self.services.db.transaction() as session:
            record_change(
                session, at=now, username=account.username, action="user.login",
                target=account.username,
            )  # fmt: skip
        return token

    def _login_page(self, request: Request, message: str, code: int = 200) -> str:
        request.setResponseCode(code)
        token = secrets.token_urlsafe(24)
        self._set_cookie(request, LOGIN_COOKIE, token, dt.timedelta(hours=1))
        return self.render(
            request,
            None,
            "login.html",
            message=message,
            login_token=token,
            next=_local_target(_arg(request, "next")),
        )

    def _login_required(self, request: Request) -> Any:
        if request.method not in SAFE_METHODS or _wants_json(request):
            request.setResponseCode(401)
            return self._respond(request, JsonResponse({"error": "请先登录"}, 401))
        request.redirect(b"/login?next=" + quote(request.uri.decode("utf-8", "replace")).encode())
        return b""

    def _csrf_ok(self, request: Request, user: SessionUser) -> bool:
        origin = request.getHeader("origin")
        host = request.getHeader("host")
        if origin and origin != "null" and urlsplit(origin).netloc != host:
            return False
        given = request.getHeader("x-csrf-token") or _arg(request, "csrf_token")
        return bool(given) and secrets.compare_digest(given.encode(), user.csrf_token.encode())

    def _set_cookie(self, request: Request, name: str, value: str, age: dt.timedelta) -> None:
        request.addCookie(
            name.encode(),
            value.encode(),
            path=b"/",
            max_age=str(int(age.total_seconds())).encode(),
            httpOnly=True,
            secure=self.settings.secure_cookies,
            sameSite=b"lax",
        )

    def _respond(self, request: Request, result: Any) -> Any:
        if isinstance(result, JsonResponse):
            request.setResponseCode(result.code)
            request.setHeader(b"Content-Type", b"application/json; charset=utf-8")
            return json.dumps(result.body, ensure_ascii=False, default=str).encode("utf-8")
        return result

    def _environment(self) -> jinja2.Environment:
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(path) for path in self._template_dirs]),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        environment.filters["localtime"] = _localtime
        return environment


class BadRequest(ValueError):
    """A request body that is not what the page takes; answered 400 with the message."""


def read_json(request: Request, limit: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """The request's JSON object body (raises BadRequest)."""
    body = request.content.read(limit + 1) if request.content is not None else b""
    if len(body) > limit:
        raise BadRequest("请求内容过大")
    try:
        value = json.loads(body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequest("请求内容不是有效的 JSON") from None
    if not isinstance(value, dict):
        raise BadRequest("请求内容须为 JSON 对象")
    return value


class StaticFiles(File):
    """Files only: a directory is answered 404, never listed."""

    def directoryListing(self) -> IResource:
        return notFound()


class QuietSite(Site):
    """No access log: requests carry session cookies and the operators' log is for calls."""

    def log(self, request: Request) -> None:  # type: ignore[override]
        return None


def _secure(request: IRequest) -> None:
    for name, value in SECURITY_HEADERS.items():
        request.setHeader(name, value)


def form_value(request: Request, name: str) -> str:
    """A form field or query argument as text ('' when absent)."""
    return _arg(request, name)


def _arg(request: Request, name: str) -> str:
    values: Iterable[bytes] = (request.args or {}).get(name.encode(), [])
    for value in values:
        return value.decode("utf-8", "replace")
    return ""


def _wants_json(request: Request) -> bool:
    accept = request.getHeader("accept") or ""
    content = request.getHeader("content-type") or ""
    return "application/json" in accept or "application/json" in content


def _local_target(target: str) -> str:
    """Only same-site paths after login (no open redirect to another host)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _localtime(value: dt.datetime | None) -> str:
    return "" if value is None else value.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M:%S")
