"""Delta coalescing: few events per turn, however slow sending is, and offsets a client can check; and a debate
cancelled while it publishes an event stops."""
import asyncio
from types import SimpleNamespace

import pytest

from debates.tests.conftest import followed_text
from debates.events import DELTA_INTERVAL_SECONDS, PERSIST_INTERVAL_SECONDS, DeltaBuffer, envelope, send_to_group


class SlowEvents:
    """An EventStream stand-in whose every send costs `send_seconds` of the shared clock; it logs the sends and the
    saves in the order they happen."""

    def __init__(self, clock: list[float], send_seconds: float) -> None:
        self.clock, self.send_seconds, self.sent, self.log, self.saved = clock, send_seconds, [], [], ""

    async def announce(self, event_type: str, payload: dict) -> None:
        self.clock[0] += self.send_seconds
        self.sent.append(payload)
        self.log.append(("send", payload))

    async def append_text(self, turn_id: int, text: str) -> None:
        self.saved += text
        self.log.append(("save", self.saved))


async def stream_tokens(send_seconds: float, tokens: int = 300, token_seconds: float = 0.01) -> SlowEvents:
    clock = [0.0]
    events = SlowEvents(clock, send_seconds)
    buffer = DeltaBuffer(events, SimpleNamespace(pk=1, seat_id=1, round=1), clock=lambda: clock[0])
    for i in range(tokens):
        clock[0] += token_seconds
        await buffer.add(f" w{i}")
    await buffer.flush()
    return events


SPOKEN = "".join(f" w{i}" for i in range(300))


def apply(text: str, delta: dict) -> str | None:
    return followed_text([delta], text)


async def test_deltas_are_batched_about_every_50_ms():
    sent = (await stream_tokens(send_seconds=0.001)).sent

    assert len(sent) <= 3.2 / DELTA_INTERVAL_SECONDS  # 3 s of tokens: about one event per 50 ms, not 300
    assert followed_text(sent) == SPOKEN


async def test_slow_sending_grows_the_batches_instead_of_sending_every_token_alone():
    sent = (await stream_tokens(send_seconds=0.06)).sent  # a send slower than the interval (many watchers)

    assert len(sent) < 60
    assert followed_text(sent) == SPOKEN


async def test_the_text_is_saved_a_few_times_a_second_and_each_character_once():
    events = await stream_tokens(send_seconds=0.0)
    saves = [entry for entry in events.log if entry[0] == "save"]

    assert len(saves) <= 3.0 / PERSIST_INTERVAL_SECONDS + 1  # 3 s of tokens: 4 small saves a second, not 60
    assert SPOKEN.startswith(events.saved) and len(events.saved) > len(SPOKEN) * 0.9  # appended: O(n) bytes


async def test_a_watcher_joining_at_any_moment_has_the_exact_text_from_the_next_delta_on():
    """Subscribed before log entry `joined`, snapshot read before entry `read` (>= joined): the snapshot holds the
    text saved by then, and the watcher receives every delta sent after it subscribed. With each of them it holds
    at least the text said up to that delta, exactly: never a gap, never a doubled word. (A watcher that joins after the
    last delta gets the whole text with turn.completed.)"""
    events = await stream_tokens(send_seconds=0.002, tokens=120)
    log = events.log
    spoken = "".join(f" w{i}" for i in range(120))
    for joined in range(len(log) + 1):
        for read in range(joined, len(log) + 1):
            text = next((saved for kind, saved in reversed(log[:read]) if kind == "save"), "")
            assert spoken.startswith(text)
            for delta in (payload for kind, payload in log[joined:] if kind == "send"):
                text = apply(text, delta)
                assert text is not None and spoken.startswith(text), (joined, read)  # no gap, nothing doubled
                assert len(text) >= delta["offset"] + len(delta["text"]), (joined, read)  # all said up to it


async def test_each_delta_says_where_its_text_starts_in_code_points():
    sent = (await stream_tokens(send_seconds=0.0, tokens=10)).sent
    text = ""
    for event in sent:
        assert event["offset"] <= len(text)  # never past what a watcher following from the start has
        assert text[event["offset"]:] == event["text"][:len(text) - event["offset"]]  # a repeat, never a change
        text = apply(text, event)


class CancelledAsItWrites:
    """A channel layer that writes as channels-redis does (redis-py: asyncio.wait_for around the socket write),
    and whose write completes just as the publisher is cancelled: what a debate's cancel did under Redis."""

    def __init__(self) -> None:
        self.publisher: asyncio.Task | None = None
        self.sent = asyncio.Event()

    async def group_send(self, group: str, message: dict) -> None:
        async def write() -> None:
            self.publisher.cancel()

        await asyncio.wait_for(write(), timeout=15)
        self.sent.set()


async def test_a_debate_cancelled_while_it_publishes_an_event_stops(monkeypatch):
    layer = CancelledAsItWrites()
    monkeypatch.setattr("debates.events.get_channel_layer", lambda: layer)

    async def publish_then_carry_on() -> str:
        layer.publisher = asyncio.current_task()
        await send_to_group(1, envelope(1, 1, "turn.delta", {"turn_id": 1, "offset": 0, "text": "so"}))
        return "carried on"  # a runner whose cancel was lost speaks on to the end of its debate

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(publish_then_carry_on())
    await asyncio.wait_for(layer.sent.wait(), timeout=1)  # the event, committed already, still goes out
