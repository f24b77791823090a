"""The menu editor, versions, diff and rollback pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twisted.web.server import Request

from ivr.admin.menu_edits import EditRefused, add_node, delete_node, rename_node
from ivr.admin.menu_work import MenuWork, PublishRefused
from ivr.menus.schema import Kind
from ivr.store.web_sessions import SessionUser
from ivr.web.server import BadRequest, JsonResponse, WebConsole, read_json

KIND_NAMES = {
    "menu": "按键菜单",
    "collect": "输入号码",
    "confirm": "确认",
    "action": "业务办理",
    "play": "播放",
    "transfer": "转人工",
    "hangup": "挂机",
}


def _text(body: dict[str, Any]) -> str:
    text = body.get("text")
    if not isinstance(text, str):
        raise BadRequest("缺少菜单文本")
    return text


class MenuPages:
    def __init__(self, console: WebConsole, roles: Sequence[str], work: MenuWork) -> None:
        self.console = console
        self.work = work
        console.add_nav("菜单编辑", "/admin/menus", roles)
        page = console.page
        page("/admin/menus", roles=roles)(self.editor)
        page("/admin/menus/check", roles=roles, methods=["POST"])(self.check)
        page("/admin/menus/draft", roles=roles, methods=["POST"])(self.save_draft)
        page("/admin/menus/draft/discard", roles=roles, methods=["POST"])(self.discard_draft)
        page("/admin/menus/nodes", roles=roles, methods=["POST"])(self.edit_nodes)
        page("/admin/menus/publish", roles=roles, methods=["POST"])(self.publish)
        page("/admin/menus/versions", roles=roles)(self.versions)
        page("/admin/menus/diff", roles=roles)(self.diff)
        page("/admin/menus/rollback", roles=roles, methods=["POST"])(self.rollback)

    async def editor(self, request: Request, user: SessionUser) -> Any:
        text, draft = await self.console.blocking(self.work.start_text, user.username)
        live = await self.console.blocking(self.work.live)
        return self.console.render(
            request, user, "admin/menu_editor.html",
            text=text, draft=draft, live=live, menu=self.work.menu, file=self.work.label,
            kinds=KIND_NAMES, kind_values=[kind.value for kind in Kind],
        )  # fmt: skip

    async def check(self, request: Request, user: SessionUser) -> Any:
        checked = await self.console.blocking(self.work.check, _text(read_json(request)))
        return JsonResponse(checked.as_json())

    async def save_draft(self, request: Request, user: SessionUser) -> Any:
        text = _text(read_json(request))
        now = self.console.services.wallclock()
        draft = await self.console.blocking(self.work.save_draft, user.username, text, now)
        return JsonResponse({"saved_at": draft.updated_at.isoformat()})

    async def discard_draft(self, request: Request, user: SessionUser) -> Any:
        await self.console.blocking(self.work.discard_draft, user.username)
        request.redirect(b"/admin/menus")
        return b""

    async def edit_nodes(self, request: Request, user: SessionUser) -> Any:
        body = read_json(request)
        text, op = _text(body), body.get("op")
        node, new = str(body.get("node", "")).strip(), str(body.get("new", "")).strip()
        try:
            if op == "rename":
                edited = rename_node(text, node, new)
            elif op == "delete":
                edited = delete_node(text, node)
            elif op == "add":
                edited = add_node(text, new, str(body.get("kind", "play")), str(body.get("label")))
            else:
                raise BadRequest("未知的操作")
        except EditRefused as refused:
            return JsonResponse({"error": str(refused)}, 400)
        checked = await self.console.blocking(self.work.check, edited)
        return JsonResponse({"text": edited, **checked.as_json()})

    async def publish(self, request: Request, user: SessionUser) -> Any:
        body = read_json(request)
        now = self.console.services.wallclock()
        message = str(body.get("message", ""))
        try:
            made = await self.console.blocking(
                self.work.publish, _text(body), user.username, message, now
            )
        except PublishRefused as refused:
            problems = [str(problem) for problem in refused.problems]
            return JsonResponse({"error": str(refused), "problems": problems}, 400)
        return JsonResponse({"version": made.version, "publication": made.id})

    async def versions(self, request: Request, user: SessionUser) -> Any:
        history = await self.console.blocking(self.work.history)
        return self.console.render(
            request, user, "admin/menu_versions.html", history=history, menu=self.work.menu
        )

    async def diff(self, request: Request, user: SessionUser) -> Any:
        try:
            older, newer = (int(request.args[key][0]) for key in (b"a", b"b"))
        except (KeyError, IndexError, ValueError):
            raise BadRequest("请选择两个版本") from None
        try:
            a, b, lines = await self.console.blocking(self.work.diff, older, newer)
        except PublishRefused as refused:
            raise BadRequest(str(refused)) from None
        return self.console.render(
            request, user, "admin/menu_diff.html", older=a, newer=b, lines=lines
        )

    async def rollback(self, request: Request, user: SessionUser) -> Any:
        try:
            target = int(request.args[b"publication"][0])
        except (KeyError, IndexError, ValueError):
            raise BadRequest("请选择要回滚到的版本") from None
        now = self.console.services.wallclock()
        try:
            await self.console.blocking(self.work.rollback, target, user.username, now)
        except PublishRefused as refused:
            raise BadRequest(str(refused)) from None
        request.redirect(b"/admin/menus/versions?rolled=1")
        return b""
