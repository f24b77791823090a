"""What a caller hears and may do while waiting for an agent, on a fake clock."""

from __future__ import annotations

from ivr.agents.queue_wait import (
    BackInQueue,
    BackToMenu,
    Connected,
    Entered,
    HangUp,
    HoldMusic,
    Key,
    LeaveQueue,
    Offered,
    Position,
    PromptDone,
    QueueSettings,
    QueueWait,
    RefreshPosition,
    Say,
    State,
    StoreCallback,
    Timer,
)

SETTINGS = QueueSettings(announce_every=45, max_wait=300)


def said(commands) -> Say:
    (say,) = [c for c in commands if isinstance(c, Say)]
    return say


def waiting(number: str = "13800138000") -> QueueWait:
    wait = QueueWait(SETTINGS, number, now=0)
    first = said(wait.handle(Entered(position=3, estimate_s=130), 0))
    assert first.prompts == ("queue_position", "queue_keys")
    assert first.variables == {"ahead": 2, "minutes": 3}
    assert wait.handle(PromptDone(first.token), 8) == [HoldMusic()]
    return wait


def test_position_is_announced_again_every_interval_with_music_between() -> None:
    wait = waiting()
    assert wait.next_deadline() == 53
    assert wait.handle(Timer(), 53) == [RefreshPosition()]
    again = said(wait.handle(Position(1, None), 53.2))
    assert again.prompts == ("queue_position",) and again.variables == {"ahead": 0}
    assert wait.handle(PromptDone(again.token), 58) == [HoldMusic()]


def test_max_wait_offers_the_callback_once() -> None:
    wait = waiting()
    now = 8.0
    heard = []
    while now < 400:
        now = wait.next_deadline() or now
        for command in wait.handle(Timer(), now):
            if isinstance(command, RefreshPosition):
                command = said(wait.handle(Position(2, None), now))
            if isinstance(command, Say):
                heard.append(command.prompts)
                wait.handle(PromptDone(command.token), now + 5)
    assert heard.count(("queue_max_wait",)) == 1
    # announcements at 53, 103, 153, 203, 253 s; the one due at 303 s offers the callback
    assert heard.index(("queue_max_wait",)) == 5


def test_star_goes_back_to_the_menu() -> None:
    wait = waiting()
    assert wait.handle(Key("*"), 20) == [LeaveQueue("menu"), BackToMenu()]
    assert wait.state is State.DONE


def test_callback_to_the_calling_number_in_a_window() -> None:
    wait = waiting()
    question = said(wait.handle(Key("1"), 20))
    assert question.prompts == ("callback_number",)
    assert question.variables["number"] == "13800138000"
    assert said(wait.handle(Key("1"), 25)).prompts == ("callback_window",)
    closing = wait.handle(Key("2"), 30)
    assert closing[:2] == [LeaveQueue("callback"), StoreCallback("13800138000", "明天上午")]
    done = said(closing)
    assert done.prompts == ("callback_done",)
    assert wait.handle(PromptDone(done.token), 36) == [HangUp("callback requested")]


def test_callback_to_another_number_keyed_with_hash() -> None:
    wait = waiting(number="anonymous")  # nothing to call back: the caller keys a number
    assert said(wait.handle(Key("1"), 20)).prompts == ("callback_key_number",)
    for digit in "07911234567":
        assert wait.handle(Key(digit), 21) == []
    assert said(wait.handle(Key("#"), 22)).prompts == ("callback_window",)
    assert StoreCallback("07911234567", "今天") in wait.handle(Key("1"), 23)


def test_a_short_number_is_asked_again_and_star_returns_to_waiting() -> None:
    wait = waiting()
    wait.handle(Key("1"), 20)
    assert said(wait.handle(Key("2"), 21)).prompts == ("callback_key_number",)
    wait.handle(Key("1"), 22)
    retry = said(wait.handle(Key("#"), 23))
    assert retry.prompts == ("callback_bad_number", "callback_key_number")
    resumed = said(wait.handle(Key("*"), 24))
    assert resumed.prompts == ("queue_still_waiting",) and wait.state is State.ANNOUNCING


def test_silence_in_the_callback_questions_returns_to_waiting() -> None:
    wait = waiting()
    wait.handle(Key("1"), 20)
    deadline = wait.next_deadline()
    assert deadline is not None
    assert said(wait.handle(Timer(), deadline)).prompts == ("queue_still_waiting",)


def test_ringing_ignores_keys_and_a_failed_agent_means_waiting_on() -> None:
    wait = waiting()
    assert wait.handle(Offered(), 30) == [] and wait.state is State.RINGING
    assert wait.handle(Key("*"), 31) == [] and wait.next_deadline() is None
    assert said(wait.handle(BackInQueue(), 50)).prompts == ("queue_still_waiting",)
    wait.handle(Offered(), 60)
    wait.handle(Connected(), 62)
    assert wait.state is State.DONE


def test_a_stale_prompt_end_is_ignored() -> None:
    wait = waiting()
    wait.handle(Timer(), 53)
    announcement = said(wait.handle(Position(2, None), 53))
    assert wait.handle(PromptDone(announcement.token - 1), 54) == []
    assert wait.state is State.ANNOUNCING
