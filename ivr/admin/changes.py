"""The change log page: every change made in the consoles or with the account commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twisted.web.server import Request

from ivr.store.change_log import recent_changes
from ivr.store.web_sessions import SessionUser
from ivr.web.server import WebConsole

ACTION_NAMES = {
    "user.add": "新建账号",
    "user.passwd": "修改密码",
    "user.disable": "停用账号",
    "user.enable": "启用账号",
    "user.login": "登录",
    "user.logout": "退出登录",
    "menu.publish": "发布菜单",
    "menu.rollback": "回滚菜单",
    "prompt.text": "修改提示音文字",
    "prompt.upload": "上传录音",
    "sandbox.reset": "重置演练数据",
}


class ChangeLogPages:
    def __init__(self, console: WebConsole, roles: Sequence[str]) -> None:
        self.console = console
        console.add_nav("操作记录", "/admin/changes", roles)
        console.page("/admin/changes", roles=roles)(self.changes)

    async def changes(self, request: Request, user: SessionUser) -> Any:
        rows = await self.console.blocking(recent_changes, self.console.services.db, 200)
        return self.console.render(
            request, user, "admin/changes.html", changes=rows, names=ACTION_NAMES
        )
