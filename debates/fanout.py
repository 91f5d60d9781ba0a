"""One subscription per debate per process: the channel layer brings each event to this process once, and the
process hands it to each of its watchers of that debate itself.

With every watcher a member of the debate's group, each event was one channel-layer message per watcher (a copy,
a queue and a dispatch each in memory; a Redis list push and pop each with channels-redis), which made fan-out to
a few hundred watchers slow. Now the group has one member per process that watches the debate."""
import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Protocol

from channels.layers import get_channel_layer

from debates.events import group_name

logger = logging.getLogger("debates.fanout")
# Watchers served before the event loop is given away. Sending one event to a thousand watchers is 50 to 65 ms of
# the process's one loop (bench/bench_fanout.py): without a break no debate of the process read its model, no
# socket was read, and the first watcher's frame left with the last one's.
SERVE_BEFORE_YIELDING = 50


class Watcher(Protocol):
    async def deliver(self, message: dict) -> None: ...

    async def lost(self) -> None:
        """This process can no longer bring the debate's events: close, so that the client reconnects."""


class Subscription:
    def __init__(self, debate_id: int, forget: Callable[["Subscription"], None] = lambda _: None) -> None:
        self.debate_id = debate_id
        self.forget = forget  # takes it out of its hub, so that the next watcher opens a new one
        self.watchers: set[Watcher] = set()
        self.ready = asyncio.get_running_loop().create_future()  # set once this process is in the group
        self.listening: asyncio.Task | None = None
        self.channel = ""
        self.reading: asyncio.Task | None = None  # the snapshot read in flight
        self.next_read: asyncio.Task | None = None  # the one that starts after it, shared by all who ask meanwhile
        self.inbox: list[dict] = []  # messages from the layer not yet handed to the watchers
        self.arrived = asyncio.Event()
        self.broken: Exception | None = None  # why the layer can no longer be read

    def snapshot(self, read: Callable[[], Awaitable[dict]]) -> Awaitable[dict]:
        """The debate as read after this call: watchers that ask at once share one read. A read that had already
        begun when one asked might miss an event that watcher is owed, so it waits for the next read instead, and
        all who ask while that one waits share it: a thousand watchers joining at once cost two or three reads, not
        a thousand (each a whole debate read while the others queue for the same threads)."""
        if self.next_read is None:
            self.next_read = asyncio.create_task(self._read_after(self.reading, read),
                                                 name=f"snapshot-debate-{self.debate_id}")
            self.next_read.add_done_callback(lambda task: task.cancelled() or task.exception())  # retrieved
        return asyncio.shield(self.next_read)

    async def _read_after(self, before: asyncio.Task | None, read: Callable[[], Awaitable[dict]]) -> dict:
        if before is not None:
            await asyncio.wait({before})
        self.reading, self.next_read = self.next_read, None  # from here on, whoever asks needs another read
        return await read()

    async def open(self) -> None:
        layer = get_channel_layer()
        try:
            # The layer's own prefix: channels-redis reads every process-local channel of one prefix from one list.
            self.channel = await layer.new_channel()
            await layer.group_add(group_name(self.debate_id), self.channel)
        except BaseException as error:
            self.ready.set_exception(error)
            raise
        self.listening = asyncio.create_task(self._listen(layer), name=f"watch-debate-{self.debate_id}")
        self.ready.set_result(None)

    async def close(self) -> None:
        if self.listening is not None:
            self.listening.cancel()
        if self.channel:
            await get_channel_layer().group_discard(group_name(self.debate_id), self.channel)

    async def _receive(self, layer) -> None:
        """Take the layer's messages as they come, while the watchers are served."""
        try:
            while True:
                message = await layer.receive(self.channel)
                self.inbox.append(message)  # to the inbox of now: _listen swaps it while this waits
                self.arrived.set()
        except Exception as error:  # noqa: BLE001 - Redis gone, say: events would stop without a word
            self.broken = error
            self.arrived.set()

    async def _listen(self, layer) -> None:
        receiving = asyncio.create_task(self._receive(layer), name=f"receive-debate-{self.debate_id}")
        try:
            while True:
                await self.arrived.wait()
                self.arrived.clear()
                waiting, self.inbox = self.inbox, []
                for message in without_superseded(waiting):
                    await self._serve(message)
                if self.broken is not None and not self.inbox:
                    await self._lose(layer, self.broken)
                    return
        finally:
            receiving.cancel()

    async def _serve(self, message: dict) -> None:
        for served, watcher in enumerate(list(self.watchers), 1):
            if served % SERVE_BEFORE_YIELDING == 0:
                await asyncio.sleep(0)
                if watcher not in self.watchers:  # it left meanwhile
                    continue
            try:
                await watcher.deliver(message)
            except Exception as error:  # noqa: BLE001 - one broken socket must not silence the others
                # Usually a watcher that left while events were on their way to it: dropped, the rest go on.
                logger.warning("debate %s: a watcher could not be sent an event (%r); dropped", self.debate_id,
                               error)
                self.watchers.discard(watcher)

    async def _lose(self, layer, error: Exception) -> None:
        logger.error("debate %s: its events could not be read from the channel layer (%r); its %d watchers here "
                     "are closed, to reconnect and resync", self.debate_id, error, len(self.watchers))
        self.forget(self)
        for watcher in list(self.watchers):
            with contextlib.suppress(Exception):  # one that is gone already
                await watcher.lost()
        with contextlib.suppress(Exception):  # the layer may be down still; its group expires then
            await layer.group_discard(group_name(self.debate_id), self.channel)


def without_superseded(messages: list[dict]) -> list[dict]:
    """`messages` less each `turn.delta` that a later one among them repeats: the same turn, no numbered event
    between them (the same seq), and the later one starting at or before it. A delta holds all the text not saved
    before it was flushed, so the later one holds all of the earlier one's: a watcher that skips it ends with the
    same text, a frame sooner. Only deltas that wait while watchers are slow to serve are ever skipped; numbered
    events never are."""
    kept: list[dict] = []
    earliest_later: dict[tuple[int, int], int] = {}  # (turn, seq) -> the lowest offset of a delta after this point
    for message in reversed(messages):
        if (delta := message.get("delta")) is not None:
            key, offset = (delta[0], message["seq"]), delta[1]
            if key in earliest_later and earliest_later[key] <= offset:
                continue
            earliest_later[key] = offset  # lower than any after it, or it would have been skipped
        kept.append(message)
    kept.reverse()
    return kept


class Hub:
    """The subscriptions of one event loop (one server process; each test has a loop of its own)."""

    def __init__(self) -> None:
        self.subscriptions: dict[int, Subscription] = {}

    async def join(self, debate_id: int, watcher: Watcher) -> None:
        """Returns once every event published from now on reaches `watcher` (so a snapshot read after it misses
        nothing)."""
        subscription = self.subscriptions.get(debate_id)
        if subscription is None:
            subscription = self.subscriptions[debate_id] = Subscription(debate_id, self._forget)
            subscription.watchers.add(watcher)
            try:
                await subscription.open()
            except BaseException:
                self.subscriptions.pop(debate_id, None)
                raise
            return
        subscription.watchers.add(watcher)
        await asyncio.shield(subscription.ready)

    async def snapshot(self, debate_id: int, read: Callable[[], Awaitable[dict]]) -> dict:
        """`read()`'s result as of now, shared with the watchers of this debate that ask at the same time."""
        subscription = self.subscriptions.get(debate_id)
        return await (read() if subscription is None else subscription.snapshot(read))

    def _forget(self, subscription: Subscription) -> None:
        if self.subscriptions.get(subscription.debate_id) is subscription:
            del self.subscriptions[subscription.debate_id]

    async def leave(self, debate_id: int, watcher: Watcher) -> None:
        subscription = self.subscriptions.get(debate_id)
        if subscription is None or watcher not in subscription.watchers:
            return
        subscription.watchers.discard(watcher)
        if not subscription.watchers:
            del self.subscriptions[debate_id]
            await subscription.close()


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def hub() -> Hub:
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        _hubs[loop] = Hub()
    return _hubs[loop]
