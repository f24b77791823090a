import gc
import weakref

from ivr.media.player import Player
from ivr.rtp.g711 import PCMA, PCMU

A = (b"a1", b"a2")
B = (b"b1",)


def recording_player(codec=PCMU):
    finished: list[tuple[object, bool]] = []
    player = Player(codec, lambda token, completed: finished.append((token, completed)))
    return player, finished


def test_idle_player_sends_codec_silence():
    assert Player(PCMU).next_payload() == b"\xff" * 160
    assert Player(PCMA).next_payload() == b"\xd5" * 160


def test_queued_items_play_in_order_then_silence():
    player, finished = recording_player()
    player.play(A, "greeting")
    player.play(B, "menu")
    payloads = [player.next_payload() for _ in range(4)]
    assert payloads == [b"a1", b"a2", b"b1", b"\xff" * 160]
    assert finished == [("greeting", True), ("menu", True)]
    assert not player.playing


def test_finish_is_reported_when_the_last_frame_is_handed_out():
    player, finished = recording_player()
    player.play(A, "greeting")
    player.next_payload()
    assert finished == []
    player.next_payload()
    assert finished == [("greeting", True)]


def test_a_prompt_queued_from_the_finished_callback_follows_without_a_gap():
    player = Player(PCMU, lambda token, completed: token == "first" and player.play(B, "second"))
    player.play(A, "first")
    assert [player.next_payload() for _ in range(3)] == [b"a1", b"a2", b"b1"]


def test_stop_drops_the_queue_and_reports_each_item_interrupted():
    player, finished = recording_player()
    player.play(A, "greeting")
    player.play(B, "menu")
    player.next_payload()
    player.stop()
    assert finished == [("greeting", False), ("menu", False)]
    assert player.next_payload() == b"\xff" * 160


def test_empty_item_finishes_at_once():
    player, finished = recording_player()
    player.play((), "nothing")
    player.play(B, "menu")
    assert player.next_payload() == b"b1"
    assert finished == [("nothing", True), ("menu", True)]


def test_talkspurt_starts_on_the_first_frame_after_silence():
    player = Player(PCMU)
    player.next_payload()
    assert not player.talkspurt_start
    player.play(A)
    player.play(B)
    starts = []
    for _ in range(4):
        player.next_payload()
        starts.append(player.talkspurt_start)
    assert starts == [True, False, False, False]
    player.play(A)
    player.next_payload()
    assert player.talkspurt_start
    player.stop()
    player.play(B)
    player.next_payload()
    assert player.talkspurt_start


def test_a_closed_player_reports_nothing_and_keeps_no_reference_to_its_handler():
    class Owner:  # a call: it holds its player, whose handler is the call's own method
        def __init__(self) -> None:
            self.finished: list[object] = []
            self.player = Player(PCMU, self.on_finished)

        def on_finished(self, token: object, completed: bool) -> None:
            self.finished.append(token)

    owner = Owner()
    owner.player.play(A, "a")
    owner.player.close()
    assert owner.player.next_payload() == b"\xff" * 160 and owner.finished == []
    gone = weakref.ref(owner)
    gc.disable()
    try:
        del owner
        assert gone() is None  # freed by reference counting, no collection needed
    finally:
        gc.enable()
