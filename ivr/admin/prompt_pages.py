"""Prompts beside the nodes that use them: the Mandarin texts, their recordings played in the
browser, a new text synthesized with the project's TTS to listen to, and studio recordings
uploaded (any format ffmpeg reads, converted to 8 kHz mono 16-bit, refused when not audio or
too long).

The repository's prompt files and recordings (`prompts/`, `config/menus/*.prompts.yaml`, built
by `python -m ivr prompts build`) are the base; a saved text or an uploaded recording is stored in
the database with its audio (`ivr.admin.prompt_texts`), and every node plays it from its next
call on. Synthesis, conversion and storage run on the worker pool, never on the reactor.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from typing import Any

from twisted.web.server import Request

from ivr.admin.menu_work import MenuWork
from ivr.admin.prompt_texts import PromptTexts, TextRefused
from ivr.media.prompt_catalog import Clip, PromptCatalog, PromptError, parse_prompt
from ivr.media.tts import SAMPLE_RATE, TtsError, synthesize, to_telephone
from ivr.menus.schema import PROMPT
from ivr.store.web_sessions import SessionUser
from ivr.web.server import BadRequest, JsonResponse, WebConsole, read_json

with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError

MAX_UPLOAD_BYTES = 20_000_000
MAX_RECORDING_S = 60
MAX_PREVIEW_CHARS = 500
SAVED_NOTE = "已保存并生成录音；模拟通话和各节点的下一通电话即使用新文字"
UPLOADED_NOTE = "已转为 8 kHz 单声道；各节点的下一通电话即播放新录音"
NOT_AUDIO = "这不是可识别的音频文件（支持 WAV、MP3、M4A、OGG 等常见格式）"


class UploadRefused(ValueError):
    pass


def studio_wav(data: bytes) -> bytes:
    """BLOCKING: an uploaded recording as 8 kHz mono 16-bit WAV, or UploadRefused (in Chinese)."""
    if not data:
        raise UploadRefused("没有收到文件")
    try:
        audio = AudioSegment.from_file(io.BytesIO(data))
    except (CouldntDecodeError, IndexError, OSError, ValueError):
        raise UploadRefused(
            "这不是可识别的音频文件（支持 WAV、MP3、M4A、OGG 等常见格式）"
        ) from None
    seconds = len(audio) / 1000
    if seconds < 0.2:
        raise UploadRefused("录音太短（不足 0.2 秒）")
    if seconds > MAX_RECORDING_S:
        raise UploadRefused(f"录音过长：{seconds:.0f} 秒，最长 {MAX_RECORDING_S} 秒")
    out = io.BytesIO()
    to_telephone(audio).export(out, format="wav")
    return out.getvalue()


def _wav(audio: AudioSegment) -> bytes:
    out = io.BytesIO()
    audio.set_frame_rate(SAMPLE_RATE).set_channels(1).export(out, format="wav")
    return out.getvalue()


class PromptPages:
    def __init__(
        self,
        console: WebConsole,
        roles: Sequence[str],
        work: MenuWork,
        texts: PromptTexts,
    ) -> None:
        self.console = console
        self.work = work
        self.texts = texts
        console.add_nav("提示音", "/admin/prompts", roles)
        page = console.page
        page("/admin/prompts", roles=roles)(self.prompts)
        page("/admin/prompts/clip/<clip_hash>.wav", roles=roles)(self.clip_audio)
        page("/admin/prompts/preview", roles=roles, methods=["POST"])(self.preview)
        page("/admin/prompts/studio", roles=roles, methods=["POST"])(self.upload)
        page("/admin/prompts/text", roles=roles, methods=["POST"])(self.save_text)

    @property
    def catalog(self) -> PromptCatalog:
        return self.texts.catalog

    def _clip_named(self, clip_hash: str) -> Clip | None:
        return next((c for c in self.catalog.clips() if c.text_hash == clip_hash), None)

    def _rows(self, author: str) -> list[dict[str, Any]]:
        """BLOCKING: the draft's nodes (else the live menu's) with the prompts each uses."""
        self.texts.refresh()
        text, _ = self.work.start_text(author)
        checked = self.work.check(text)
        rows = []
        for node in (
            sorted(checked.tree.nodes.values(), key=lambda n: n.line) if checked.tree else []
        ):
            ids = list(dict.fromkeys(link.target for link in node.links if link.what == PROMPT))
            prompts = []
            for prompt_id in ids:
                try:
                    prompt = self.catalog.prompt(prompt_id)
                except PromptError:
                    prompts.append({"id": prompt_id, "missing": True, "clips": []})
                    continue
                prompts.append({
                    "id": prompt_id,
                    "missing": False,
                    "template": self.texts.raw(prompt_id),
                    "source": prompt.source.replace(str(self.catalog.root.parent) + "/", ""),
                    "variables": sorted(prompt.variables),
                    "clips": [self._clip(clip) for clip in prompt.clips],
                })  # fmt: skip
            rows.append({"id": node.id, "label": node.label, "kind": node.kind.value,
                         "prompts": prompts})  # fmt: skip
        return rows

    def _clip(self, clip: Clip) -> dict[str, Any]:
        """BLOCKING: one clip's row."""
        studio, recorded = self.texts.recorded(clip)
        return {
            "name": clip.name,
            "text": clip.text,
            "hash": clip.text_hash,
            "studio": studio,
            "recorded": recorded,
        }

    def _clip_wav(self, clip: Clip) -> bytes | None:
        """BLOCKING: the WAV the nodes play for `clip`, with the edits saved on any node."""
        self.texts.refresh()
        return self.texts.clip_wav(clip)

    async def prompts(self, request: Request, user: SessionUser) -> Any:
        rows = await self.console.blocking(self._rows, user.username)
        wanted = (request.args.get(b"node") or [b""])[0].decode("utf-8", "replace")
        return self.console.render(
            request, user, "admin/prompts.html", rows=rows, wanted=wanted,
            max_seconds=MAX_RECORDING_S,
        )  # fmt: skip

    async def clip_audio(self, request: Request, user: SessionUser, clip_hash: str) -> Any:
        clip = self._clip_named(clip_hash)
        data = await self.console.blocking(self._clip_wav, clip) if clip else None
        if data is None:
            return self.console.error(request, user, 404, "这段提示音还没有录音")
        request.setHeader(b"Content-Type", b"audio/wav")
        return data

    async def preview(self, request: Request, user: SessionUser) -> Any:
        """A text as the build would synthesize it; nothing is saved."""
        text = str(read_json(request).get("text", "")).strip()
        if not text or len(text) > MAX_PREVIEW_CHARS:
            raise BadRequest(f"请输入 1-{MAX_PREVIEW_CHARS} 个字的提示音文字")
        try:
            prompt = parse_prompt("preview", text)
        except PromptError as error:
            raise BadRequest(str(error).replace("<string>: prompt 'preview'", "提示音")) from None

        def speak() -> bytes:
            audio = AudioSegment.silent(0, frame_rate=SAMPLE_RATE)
            for clip in prompt.clips:
                audio += synthesize(clip.text, self.texts.tts)
            return _wav(audio)

        try:
            data = await self.console.blocking(speak)
        except TtsError as error:
            return JsonResponse({"error": f"语音合成失败：{error}"}, 500)
        request.setHeader(b"Content-Type", b"audio/wav")
        return data

    async def upload(self, request: Request, user: SessionUser) -> Any:
        clip = self._clip_named((request.args.get(b"clip") or [b""])[0].decode("ascii", "replace"))
        if clip is None or clip.name.startswith("readout."):
            raise BadRequest("请选择要替换录音的提示音片段")
        data = (request.args.get(b"recording") or [b""])[0]
        if len(data) > MAX_UPLOAD_BYTES:
            raise BadRequest("文件过大（最大 20 MB）")
        try:
            wav = await self.console.blocking(studio_wav, data)
        except UploadRefused as refused:
            return JsonResponse({"error": str(refused)}, 400)
        seconds = round((len(wav) - 44) / (SAMPLE_RATE * 2), 1)
        now = self.console.services.wallclock()
        version = await self.console.blocking(
            self.texts.upload, clip, wav, user.username, now, seconds
        )
        return JsonResponse({
            "saved": clip.name,
            "version": version,
            "seconds": seconds,
            "note": UPLOADED_NOTE,
        })  # fmt: skip

    async def save_text(self, request: Request, user: SessionUser) -> Any:
        body = read_json(request)
        prompt_id, text = str(body.get("prompt", "")), str(body.get("text", ""))
        if not text.strip() or len(text) > MAX_PREVIEW_CHARS:
            raise BadRequest(f"请输入 1-{MAX_PREVIEW_CHARS} 个字的提示音文字")
        now = self.console.services.wallclock()
        try:
            version = await self.console.blocking(
                self.texts.save, prompt_id, text, user.username, now
            )
        except TextRefused as refused:
            return JsonResponse({"error": str(refused)}, 400)
        except TtsError as error:
            return JsonResponse({"error": f"语音合成失败，未保存：{error}"}, 500)
        return JsonResponse({
            "saved": prompt_id,
            "version": version,
            "note": SAVED_NOTE,
        })  # fmt: skip
