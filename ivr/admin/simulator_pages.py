"""The call simulator's pages: a keypad and a "say" box driving `Simulation` on the draft."""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from typing import Any

from twisted.web.server import Request

from ivr.admin.menu_work import MenuWork
from ivr.admin.prompt_texts import PromptTexts
from ivr.admin.sandbox import Sandbox
from ivr.admin.simulation import Simulation, SimulationBook
from ivr.media.prompt_catalog import PromptError
from ivr.menus.validate import check_menu_text
from ivr.store.web_sessions import SessionUser
from ivr.web.server import BadRequest, JsonResponse, WebConsole, read_json
from ivr.work_calendar import WorkCalendar

with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)  # pydub's ffmpeg notice; WAV needs none
    from pydub import AudioSegment


class SimulatorPages:
    def __init__(
        self,
        console: WebConsole,
        roles: Sequence[str],
        work: MenuWork,
        texts: PromptTexts,
        sandbox: Sandbox,
        calendar: WorkCalendar,
    ) -> None:
        self.console = console
        self.work = work
        self.texts = texts
        self.sandbox = sandbox
        self.calendar = calendar
        self.intents = dict(console.services.config.section("speech").get("intents") or {})
        self.book = SimulationBook()
        console.add_nav("通话模拟", "/admin/simulator", roles)
        page = console.page
        page("/admin/simulator", roles=roles)(self.simulator)
        page("/admin/simulator/start", roles=roles, methods=["POST"])(self.start)
        page("/admin/simulator/<sim_id>/event", roles=roles, methods=["POST"])(self.event)
        page("/admin/simulator/<sim_id>/audio/<int:play_id>.wav", roles=roles)(self.audio)
        page("/admin/simulator/cards", roles=roles)(self.cards)
        page("/admin/simulator/reset", roles=roles, methods=["POST"])(self.reset)

    async def simulator(self, request: Request, user: SessionUser) -> Any:
        return self.console.render(request, user, "admin/simulator.html")

    def _open(self, owner: str) -> Simulation:
        """BLOCKING: the owner's draft (else the live menu), checked as for publishing, spoken
        with the prompt edits saved on any node."""
        text, draft = self.work.start_text(owner)
        tree, problems = check_menu_text(
            text, self.work.label, self.work.known_prompts, self.work.actions
        )
        if tree is None:
            lines = "\n".join(str(problem) for problem in problems[:10])
            raise BadRequest(f"草稿有错误，先在菜单编辑中改正：\n{lines}")
        simulation = self.book.open(
            owner, tree, self.texts.refresh(), self.sandbox.run, self.intents, self.calendar,
            self.console.services.wallclock,
        )  # fmt: skip
        source = "草稿" if draft else "线上版本"
        simulation.log.append(
            {"who": "system", "text": f"开始模拟（{source} {tree.version}）", "node": tree.start}
        )
        return simulation

    async def start(self, request: Request, user: SessionUser) -> Any:
        fast = bool(read_json(request).get("fast", False))
        simulation = await self.console.blocking(self._open, user.username)
        await self.console.blocking(self._locked, simulation, simulation.start, fast)
        return JsonResponse(simulation.state())

    async def event(self, request: Request, user: SessionUser, sim_id: str) -> Any:
        simulation = self.book.get(sim_id, user.username)
        if simulation is None:
            return JsonResponse({"error": "模拟已结束或已过期，请开始新的模拟"}, 404)
        body = read_json(request)
        fast, kind, value = bool(body.get("fast")), body.get("type"), str(body.get("value", ""))
        since = int(body.get("since", 0) or 0)
        steps = {
            "key": lambda: simulation.key(value, fast),
            "say": lambda: simulation.say(value.strip()[:200], fast),
            "finished": lambda: simulation.prompt_finished(int(value or 0), fast),
            "timeout": lambda: simulation.wait_out(fast),
        }
        if kind not in steps:
            raise BadRequest("未知的模拟操作")
        try:
            await self.console.blocking(self._locked, simulation, steps[kind])
        except ValueError as error:
            raise BadRequest(str(error)) from None
        return JsonResponse(simulation.state(since))

    @staticmethod
    def _locked(simulation: Simulation, step: Any, *args: Any) -> None:
        with simulation.lock:
            step(*args)

    async def audio(self, request: Request, user: SessionUser, sim_id: str, play_id: int) -> Any:
        simulation = self.book.get(sim_id, user.username)
        play = simulation.plays.get(play_id) if simulation else None
        if play is None:
            return self.console.error(request, user, 404, "没有这段提示音")
        wav = await self.console.blocking(self._wav, play.prompt_ids, play.variables)
        request.setHeader(b"Content-Type", b"audio/wav")
        request.setHeader(b"Cache-Control", b"private, max-age=600")
        return wav

    def _wav(self, prompt_ids: list[str], variables: list[Any]) -> bytes:
        """BLOCKING: the recordings of one Play, joined (missing ones are skipped)."""
        audio = AudioSegment.silent(0, frame_rate=8000)
        self.texts.refresh()  # edits saved on any node
        for prompt_id, values in zip(prompt_ids, variables, strict=True):
            try:
                clips = self.texts.catalog.clips_for(prompt_id, values)
            except PromptError:
                continue
            for clip in clips:
                wav = self.texts.clip_wav(clip)
                if wav is not None:
                    audio += AudioSegment.from_wav(io.BytesIO(wav))
        out = io.BytesIO()
        audio.set_frame_rate(8000).set_channels(1).export(out, format="wav")
        return out.getvalue()

    async def cards(self, request: Request, user: SessionUser) -> Any:
        cards = await self.console.blocking(self.sandbox.cards)
        losses = await self.console.blocking(self.sandbox.loss_reports)
        return JsonResponse({"cards": [card.__dict__ for card in cards], "loss_reports": losses})

    async def reset(self, request: Request, user: SessionUser) -> Any:
        await self.console.blocking(self.sandbox.reset)
        await self.console.change(user, "sandbox.reset", "sandbox")
        return JsonResponse({"reset": True})
