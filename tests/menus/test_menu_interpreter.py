"""The interpreter, node kind by node kind, driven by a fake clock (no sockets, no reactor)."""

from __future__ import annotations

import dataclasses

import pytest
from menu_harness import (
    LUNCH_BREAK,
    MINI_MENU,
    OPEN_HOURS,
    VALID_ID,
    VALID_ID_KEYS,
    WRONG_CHECKSUM_ID,
    FakeCall,
    tree_from,
)

from ivr.menus.events import (
    ActionCompleted,
    Hangup,
    IntentHeard,
    Play,
    PromptFinished,
    RunAction,
    StopPlayback,
    TimerExpired,
    Transfer,
    TransferEnded,
)
from ivr.menus.live import LiveMenu


@pytest.fixture
def call() -> FakeCall:
    fake = FakeCall(tree_from(MINI_MENU))
    fake.start()
    return fake


def at_node(call: FakeCall, node_id: str) -> None:
    assert call.run.node.id == node_id


# --- menu ---------------------------------------------------------------------------------


def test_menu_greets_long_the_first_time_and_short_on_return(call: FakeCall) -> None:
    assert call.heard() == ("welcome", "main_keys")
    call.press("1")
    assert call.heard() == ("sub_keys",)
    call.press("9")
    assert call.heard() == ("main_keys",)


def test_key_during_greeting_stops_it_and_is_the_choice(call: FakeCall) -> None:
    greeting = call.playing
    assert greeting is not None and greeting.barge_in
    out = call.press("1")
    assert out[0] == StopPlayback(greeting.play_id)
    assert isinstance(out[1], Play)
    at_node(call, "sub")


def test_no_timer_runs_while_the_prompt_plays(call: FakeCall) -> None:
    assert call.run.next_deadline() is None
    assert call.wait(60) == []
    call.finish_prompt()
    assert call.run.next_deadline() == call.now + 10


def test_early_timer_is_ignored(call: FakeCall) -> None:
    call.finish_prompt()
    call.now += 9.9
    assert call.send(TimerExpired()) == []
    at_node(call, "main")


def test_invalid_key_is_explained_and_the_menu_repeated(call: FakeCall) -> None:
    call.finish_prompt()
    call.press("7")
    assert call.heard() == ("invalid", "main_keys")


def test_max_failures_lead_to_the_configured_exit_never_silence(call: FakeCall) -> None:
    call.press("7")
    call.press("7")
    call.press("7")
    assert call.heard() == ("goodbye",)
    assert call.finish_prompt() == [Hangup("goodbye")]
    assert call.run.ended


def test_silence_is_asked_again_then_ends_politely(call: FakeCall) -> None:
    call.finish_prompt()
    call.wait(10)
    assert call.heard() == ("silence", "main_keys")
    call.finish_prompt()
    call.wait(10)
    assert call.heard() == ("goodbye",)
    assert call.playing is not None and not call.playing.barge_in


def test_stale_prompt_finished_is_ignored(call: FakeCall) -> None:
    first = call.playing
    assert first is not None
    call.press("7")  # the retry prompt replaces the greeting
    assert call.send(PromptFinished(first.play_id)) == []
    assert call.run.next_deadline() is None


# --- global keys --------------------------------------------------------------------------


def test_repeat_key_plays_the_short_greeting_without_counting_a_failure(call: FakeCall) -> None:
    for _ in range(5):
        call.press("#")
    assert call.heard() == ("main_keys",)
    at_node(call, "main")


def test_back_key_returns_to_the_previous_menu(call: FakeCall) -> None:
    call.press("1")
    call.press("*")
    at_node(call, "main")
    call.press("*")  # at the top, back stays at the top
    at_node(call, "main")


def test_back_from_a_collect_returns_to_the_menu_it_came_from(call: FakeCall) -> None:
    call.press("11")
    at_node(call, "id")
    call.press("*")
    at_node(call, "sub")


# --- collect ------------------------------------------------------------------------------


def test_id_with_star_for_x_is_read_back_for_confirmation(call: FakeCall) -> None:
    call.press("2")
    call.press(VALID_ID_KEYS)
    at_node(call, "confirm")
    assert call.run.variables["id_number"] == VALID_ID
    assert call.heard() == ("readback",)
    assert call.playing is not None
    assert call.playing.prompts[0].variables["id_number"] == VALID_ID


def test_first_digit_pressed_during_the_collect_prompt_is_kept(call: FakeCall) -> None:
    call.press("2")
    assert call.heard() == ("enter_id",)
    out = call.press("1")
    assert isinstance(out[0], StopPlayback)
    call.press(VALID_ID_KEYS[1:])
    assert call.run.variables["id_number"] == VALID_ID


def test_wrong_checksum_gets_its_own_spoken_retry(call: FakeCall) -> None:
    call.press("2")
    call.press(WRONG_CHECKSUM_ID + "#")
    assert call.heard() == ("bad_checksum", "enter_id")
    at_node(call, "id")
    call.press(VALID_ID_KEYS)
    at_node(call, "confirm")


def test_too_few_digits_get_the_default_retry(call: FakeCall) -> None:
    call.press("2")
    call.press("1234#")
    assert call.heard() == ("bad_id", "enter_id")


def test_three_wrong_ids_take_the_exit(call: FakeCall) -> None:
    call.press("2")
    for _ in range(3):
        call.press("1234#")
    assert call.heard() == ("goodbye",)


def test_inter_digit_silence_submits_what_was_typed(call: FakeCall) -> None:
    call.press("2")
    call.press(VALID_ID_KEYS[:-1])  # no '#'
    assert call.run.next_deadline() == call.now + 5
    call.wait(5)
    at_node(call, "confirm")


def test_silence_before_the_first_digit_is_retried_with_the_first_digit_timeout(
    call: FakeCall,
) -> None:
    call.press("2")
    call.finish_prompt()
    assert call.run.next_deadline() == call.now + 10
    call.wait(10)
    assert call.heard() == ("silence", "enter_id")


def test_zero_and_nine_are_digits_inside_a_collect(call: FakeCall) -> None:
    call.press("2")
    call.press("09")
    at_node(call, "id")


def test_star_before_any_digit_is_the_back_key_not_an_x(call: FakeCall) -> None:
    call.press("2")
    call.press("*")
    at_node(call, "main")


def test_keypad_letter_in_a_collect_counts_as_a_failure(call: FakeCall) -> None:
    call.press("2")
    call.press("A")
    assert call.heard() == ("invalid", "enter_id")


# --- confirm ------------------------------------------------------------------------------


def test_confirm_2_asks_for_the_number_again(call: FakeCall) -> None:
    call.press("2")
    call.press(VALID_ID_KEYS)
    call.press("2")
    at_node(call, "id")
    assert call.heard() == ("enter_id",)


def test_confirm_repeat_key_reads_back_again(call: FakeCall) -> None:
    call.press("2")
    call.press(VALID_ID_KEYS)
    call.finish_prompt()
    call.press("#")
    assert call.heard() == ("readback",)


def test_confirm_invalid_key_is_retried(call: FakeCall) -> None:
    call.press("2")
    call.press(VALID_ID_KEYS)
    call.press("5")
    assert call.heard() == ("invalid", "readback")


# --- action -------------------------------------------------------------------------------


def confirmed_lookup(call: FakeCall) -> RunAction:
    call.press("2")
    call.press(VALID_ID_KEYS)
    call.press("1")
    return call.last(RunAction)


def test_action_gets_the_collected_values_and_branches_on_its_outcome(call: FakeCall) -> None:
    request = confirmed_lookup(call)
    assert request.name == "lookup"
    assert request.params == {"id_number": VALID_ID}
    assert call.heard() == ("wait",)
    assert call.playing is not None and not call.playing.barge_in
    call.complete("ok", status_text="正常")
    assert call.heard() == ("found",)
    assert call.playing is not None
    assert call.playing.prompts[0].variables["status_text"] == "正常"


def test_action_params_may_rename_variables() -> None:
    text = MINI_MENU.replace("lookup: {params: [id_number]", "lookup: {params: [id]")
    text = text.replace("    params: [id_number]\n", "    params: {id: id_number}\n")
    call = FakeCall(tree_from(text))
    call.start()
    assert dict(confirmed_lookup(call).params) == {"id": VALID_ID}


def test_keys_while_an_action_runs_are_ignored(call: FakeCall) -> None:
    confirmed_lookup(call)
    assert call.press("1") == []
    at_node(call, "lookup")


def test_action_answer_stops_the_wait_prompt(call: FakeCall) -> None:
    confirmed_lookup(call)
    wait = call.playing
    assert wait is not None
    out = call.complete("not_found")
    assert out[0] == StopPlayback(wait.play_id)
    assert call.heard() == ("missing",)


def test_action_without_answer_in_time_is_unavailable_and_a_late_answer_ignored(
    call: FakeCall,
) -> None:
    request = confirmed_lookup(call)
    call.wait(15)
    assert call.heard() == ("busy",)
    assert call.send(ActionCompleted(request.request_id, "ok")) == []


def test_answer_to_another_request_is_ignored(call: FakeCall) -> None:
    confirmed_lookup(call)
    assert call.send(ActionCompleted("someone-else", "ok")) == []
    at_node(call, "lookup")


# --- play ---------------------------------------------------------------------------------


def test_play_moves_on_when_it_ends(call: FakeCall) -> None:
    call.press("3")
    assert call.heard() == ("notice",)
    call.finish_prompt()
    at_node(call, "main")


def test_global_key_during_an_announcement_acts_other_keys_do_not(call: FakeCall) -> None:
    call.press("3")
    assert call.press("5") == []
    call.press("#")
    assert call.heard() == ("notice",)
    call.press("9")
    at_node(call, "main")


def test_announcement_without_barge_in_ignores_keys(call: FakeCall) -> None:
    call.press("4")
    assert call.press("9") == []
    at_node(call, "quiet")


# --- transfer, speech, hangup -------------------------------------------------------------


def test_agent_key_in_hours_transfers_with_the_path_and_masked_values(call: FakeCall) -> None:
    call.press("2")
    call.press(VALID_ID_KEYS)
    call.press("0")
    assert call.heard() == ("hold",)
    out = call.finish_prompt()
    assert len(out) == 1 and isinstance(out[0], Transfer)
    context = out[0].context
    assert out[0].queue == "agents"
    assert context["caller"] == "13800138000"
    assert context["path"] == ["main", "输入身份证号", "confirm", "agent"]
    assert context["collected"] == {"id_number": "1101**********002X"}
    assert VALID_ID not in repr(context)
    assert context["menu_version"] == call.run.tree.version


def test_agent_answering_ends_the_menu(call: FakeCall) -> None:
    call.press("0")
    call.finish_prompt()
    assert call.send(TransferEnded("answered")) == []
    assert call.run.ended
    assert call.press("1") == []


def test_no_agent_answering_is_said_and_the_caller_returns_to_the_menu(call: FakeCall) -> None:
    call.press("1")
    call.press("0")
    call.finish_prompt()
    call.send(TransferEnded("no_answer"))
    assert call.heard() == ("agents_busy",)
    call.finish_prompt()
    at_node(call, "sub")


def test_an_agent_may_hand_the_caller_back_to_the_menu(call: FakeCall) -> None:
    call.press("1")
    call.press("0")
    call.finish_prompt()
    call.send(TransferEnded("answered"))
    assert call.run.ended and call.press("2") == []  # with the agent: keys are not the menu's
    call.send(TransferEnded("left"))
    assert not call.run.ended
    at_node(call, "sub")


def test_leaving_the_queue_returns_to_the_menu_without_an_apology(call: FakeCall) -> None:
    call.press("1")
    call.press("0")
    call.finish_prompt()
    call.send(TransferEnded("left"))
    at_node(call, "sub")
    assert call.heard() == ("sub_keys",)


def test_agent_key_outside_hours_says_when_agents_answer_and_returns(call: FakeCall) -> None:
    call.wall = LUNCH_BREAK
    call.press("1")
    call.press("0")
    assert call.heard() == ("closed",)
    assert call.playing is not None
    variables = call.playing.prompts[0].variables
    assert str(variables["next_open_time"]) == "13:00:00"
    assert str(variables["pm_open"]) == "13:00:00"
    call.finish_prompt()
    at_node(call, "sub")
    assert call.heard() == ("sub_keys",)


def test_queue_closing_during_the_transfer_is_said_too(call: FakeCall) -> None:
    call.press("0")
    call.finish_prompt()
    call.send(TransferEnded("closed"))
    assert call.heard() == ("closed",)


def test_speech_intent_for_a_person_transfers(call: FakeCall) -> None:
    call.send(IntentHeard("agent", "转人工"))
    at_node(call, "agent")
    assert call.send(IntentHeard("weather", "天气")) == []


# --- menu versions ------------------------------------------------------------------------


def test_a_call_keeps_its_menu_version_after_a_new_one_goes_live() -> None:
    live = LiveMenu(tree_from(MINI_MENU))
    old = FakeCall(live.current)
    old.start()
    live.go_live(tree_from(MINI_MENU.replace("greet_long: sub_keys", "greet_long: sub_keys_v2")))
    assert live.current.version != old.run.tree.version
    old.press("1")
    assert old.heard() == ("sub_keys",)
    new = FakeCall(live.current)
    new.start()
    new.press("1")
    assert new.heard() == ("sub_keys_v2",)


def test_the_tree_is_immutable() -> None:
    tree = tree_from(MINI_MENU)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tree.start = "sub"  # type: ignore[misc]
    with pytest.raises(TypeError):
        tree.nodes["main"] = tree.nodes["sub"]  # type: ignore[index]


def test_a_run_starts_at_the_start_node_in_open_hours() -> None:
    call = FakeCall(tree_from(MINI_MENU), OPEN_HOURS)
    out = call.start()
    assert len(out) == 1 and isinstance(out[0], Play)


def test_nothing_happens_before_start() -> None:
    call = FakeCall(tree_from(MINI_MENU))
    assert not call.run.ended
    assert call.press("1") == []
    assert call.run.next_deadline() is None
