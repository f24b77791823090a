"""Console accounts for supervisors: list, add, disable or enable, set a new password.

The same rules and change log as `python -m ivr users` (ivr.store.accounts), with the
supervisor's name as the one who made each change. Agents' SIP credentials are the agents
room's (`python -m ivr agents`); here only the console login.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from twisted.web.server import Request

from ivr.store.accounts import ROLES, AccountError, add_user, list_users, set_disabled, set_password
from ivr.store.web_sessions import SessionUser
from ivr.web.server import WebConsole, form_value


class UserPages:
    def __init__(self, console: WebConsole, roles: Sequence[str]) -> None:
        self.console = console
        console.add_nav("账号", "/admin/users", roles)
        page = console.page
        page("/admin/users", roles=roles)(self.users)
        page("/admin/users/add", roles=roles, methods=["POST"])(self.add)
        page("/admin/users/<username>/disable", roles=roles, methods=["POST"])(self.disable)
        page("/admin/users/<username>/enable", roles=roles, methods=["POST"])(self.enable)
        page("/admin/users/<username>/password", roles=roles, methods=["POST"])(self.password)

    async def users(self, request: Request, user: SessionUser) -> Any:
        accounts = await self.console.blocking(list_users, self.console.services.db)
        return self.console.render(
            request, user, "admin/users.html", accounts=accounts, roles=ROLES,
            done=form_value(request, "done"), failed=form_value(request, "failed"),
        )  # fmt: skip

    async def _do(self, request: Request, job: Any, *args: Any, done: str, **kwargs: Any) -> Any:
        try:
            await self.console.blocking(job, self.console.services.db, *args, **kwargs)
        except AccountError as refused:
            target = f"/admin/users?failed={quote(str(refused))}"
        else:
            target = f"/admin/users?done={quote(done)}"
        request.redirect(target.encode())
        return b""

    async def add(self, request: Request, user: SessionUser) -> Any:
        username = form_value(request, "username").strip().lower()
        return await self._do(
            request, add_user, username, form_value(request, "display_name").strip(),
            form_value(request, "role"), form_value(request, "password"),
            by=user.username, now=self.console.services.wallclock(),
            done=f"已新建账号 {username}",
        )  # fmt: skip

    async def disable(self, request: Request, user: SessionUser, username: str) -> Any:
        if username == user.username:
            request.redirect(f"/admin/users?failed={quote('不能停用自己的账号')}".encode())
            return b""
        return await self._do(
            request, set_disabled, username, True, by=user.username,
            now=self.console.services.wallclock(), done=f"已停用 {username}",
        )  # fmt: skip

    async def enable(self, request: Request, user: SessionUser, username: str) -> Any:
        return await self._do(
            request, set_disabled, username, False, by=user.username,
            now=self.console.services.wallclock(), done=f"已启用 {username}",
        )  # fmt: skip

    async def password(self, request: Request, user: SessionUser, username: str) -> Any:
        return await self._do(
            request, set_password, username, form_value(request, "password"), by=user.username,
            now=self.console.services.wallclock(), done=f"已为 {username} 设置新密码",
        )  # fmt: skip
