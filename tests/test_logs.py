"""Operator logs cannot be rewritten by what a peer sends."""

from __future__ import annotations

import io
import logging

from ivr.logs import FORMAT, SafeFormatter, escape_controls


def formatted(message: str, *args: object) -> str:
    record = logging.LogRecord("ivr.test", logging.INFO, __file__, 1, message, args, None)
    return SafeFormatter(FORMAT).format(record)


def test_a_call_id_with_esc_and_a_bare_cr_is_written_escaped():
    line = formatted("call %s: INVITE", "abc\x1b[2J\rFAKE 00:00 INFO ivr: all good")
    assert "\x1b" not in line and "\r" not in line
    assert "abc\\x1b[2J\\x0dFAKE" in line


def test_a_line_break_cannot_start_a_forged_record():
    line = formatted("reason %s", "x\n2026-01-01 00:00:00 INFO ivr.app: IVR ready")
    assert "\n2026" not in line
    assert "\n    2026" in line


def test_undecodable_octets_and_unicode_line_separators_are_escaped():
    assert escape_controls("a\udc80b\u2028c\x85") == "a\\udc80b\\u2028c\\x85"


def test_mandarin_and_tabs_in_text_stay_readable():
    assert escape_controls("您好 12333") == "您好 12333"


def test_configured_logging_uses_the_safe_formatter(monkeypatch):
    import ivr.logs

    stream = io.StringIO()
    monkeypatch.setattr(ivr.logs.sys, "stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        ivr.logs.configure("INFO")
        logging.getLogger("ivr.test").info("call %s", "x\x1by")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert "x\\x1by" in stream.getvalue()
