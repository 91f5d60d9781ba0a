"""Delta coalescing: few events per turn, however slow sending is, and offsets a client can check; and a debate
cancelled while it publishes an event stops."""
import asyncio
from types import SimpleNamespace

import pytest

from debates.events import DELTA_INTERVAL_SECONDS, DeltaBuffer, envelope, send_to_group


class SlowEvents:
    """An EventStream stand-in whose every send costs `send_seconds` of the shared clock."""

    def __init__(self, clock: list[float], send_seconds: float) -> None:
        self.clock, self.send_seconds, self.sent = clock, send_seconds, []

    async def emit(self, event_type: str, payload: dict, change=None) -> None:
        self.clock[0] += self.send_seconds
        self.sent.append(payload)


async def stream_tokens(send_seconds: float, tokens: int = 300, token_seconds: float = 0.01) -> list[dict]:
    clock = [0.0]
    events = SlowEvents(clock, send_seconds)
    buffer = DeltaBuffer(events, SimpleNamespace(pk=1, seat_id=1, round=1), clock=lambda: clock[0])
    for i in range(tokens):
        clock[0] += token_seconds
        await buffer.add(f" w{i}")
    await buffer.flush()
    return events.sent


async def test_deltas_are_batched_about_every_50_ms():
    sent = await stream_tokens(send_seconds=0.001)

    assert len(sent) <= 3.2 / DELTA_INTERVAL_SECONDS  # 3 s of tokens: about one event per 50 ms, not 300
    assert "".join(e["text"] for e in sent) == "".join(f" w{i}" for i in range(300))


async def test_slow_sending_grows_the_batches_instead_of_sending_every_token_alone():
    sent = await stream_tokens(send_seconds=0.06)  # a send slower than the interval (many watchers)

    assert len(sent) < 60
    assert "".join(e["text"] for e in sent) == "".join(f" w{i}" for i in range(300))


async def test_each_delta_says_where_its_text_starts_in_code_points():
    sent = await stream_tokens(send_seconds=0.0, tokens=10)
    for i, event in enumerate(sent):
        before = "".join(e["text"] for e in sent[:i])
        assert event["offset"] == len(before)


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
        await send_to_group(1, envelope(1, 1, "turn.delta", {"text": "so"}))
        return "carried on"  # a runner whose cancel was lost speaks on to the end of its debate

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(publish_then_carry_on())
    await asyncio.wait_for(layer.sent.wait(), timeout=1)  # the event, committed already, still goes out
