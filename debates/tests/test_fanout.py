"""A process's watchers of a debate, served from its one subscription: sending an event to many of them leaves the
rest of the process room to run, and a delta that waits behind slow watchers is skipped for the later one that
repeats it, never a numbered event."""
import asyncio
import json

from debates.events import envelope, send_to_group
from debates.fanout import SERVE_BEFORE_YIELDING, hub

DEBATE = 41  # a group of its own; no row is needed to watch one


class Watcher:
    def __init__(self, log: list, name: int, hold: asyncio.Event | None = None) -> None:
        self.log, self.name, self.hold = log, name, hold
        self.events: list[dict] = []

    async def deliver(self, message: dict) -> None:
        self.events.append(json.loads(message["json"]))
        self.log.append(self.name)
        if self.hold is not None:  # a slow socket: the first event takes until it is let go
            hold, self.hold = self.hold, None
            await hold.wait()

    async def lost(self) -> None:
        raise AssertionError("the channel layer did not fail here")


def delta(turn_id: int, seq: int, offset: int, text: str) -> dict:
    return envelope(DEBATE, seq, "turn.delta", {"turn_id": turn_id, "offset": offset, "text": text})


async def until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def test_one_event_sent_to_many_watchers_leaves_the_rest_of_the_process_room_to_run():
    log: list = []
    watchers = [Watcher(log, name) for name in range(4 * SERVE_BEFORE_YIELDING)]
    for watcher in watchers:
        await hub().join(DEBATE, watcher)
    ticking = True

    async def another_debate() -> None:  # what else the process runs: it gets the loop while the event goes out
        while ticking:
            log.append("tick")
            await asyncio.sleep(0)

    ticker = asyncio.create_task(another_debate())
    await send_to_group(DEBATE, envelope(DEBATE, 1, "round.started", {"round": 1}))
    await until(lambda: all(watcher.events for watcher in watchers))
    ticking = False
    await ticker
    for watcher in watchers:
        await hub().leave(DEBATE, watcher)

    served = [i for i, entry in enumerate(log) if entry != "tick"]
    assert len(served) == len(watchers)  # each watcher once
    assert log[served[0]:served[-1]].count("tick") >= 3  # between the first watcher served and the last


async def test_a_delta_waiting_behind_a_slow_watcher_is_skipped_for_the_later_one_that_repeats_it():
    hold = asyncio.Event()
    slow = Watcher([], 0, hold)
    await hub().join(DEBATE, slow)
    await send_to_group(DEBATE, envelope(DEBATE, 1, "turn.started", {"turn_id": 7}))
    await until(lambda: slow.events)  # being sent, slowly
    waiting = [
        delta(7, 1, 0, "Hel"),
        delta(7, 1, 0, "Hello, wor"),  # holds the one before it: that one is skipped
        envelope(DEBATE, 2, "turn.reset", {"turn_id": 7}),  # numbered: never skipped, and no delta across it
        delta(7, 2, 0, "Hi"),
        delta(7, 2, 2, " there"),  # starts after the one before it: both are needed
    ]
    for event in waiting:
        await send_to_group(DEBATE, event, numbered=event["type"] != "turn.delta")
    await until(lambda: len(hub().subscriptions[DEBATE].inbox) == len(waiting))

    hold.set()
    await until(lambda: len(slow.events) == 5)
    await asyncio.sleep(0.05)  # nothing more comes
    await hub().leave(DEBATE, slow)

    assert [(e["type"], e["payload"].get("text")) for e in slow.events] == [
        ("turn.started", None), ("turn.delta", "Hello, wor"), ("turn.reset", None), ("turn.delta", "Hi"),
        ("turn.delta", " there")]
