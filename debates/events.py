"""The live channel's events: the envelope, the per-debate sequence, delta coalescing, one publish function.

The database is the record and events are notifications: every event's state change and its `seq` are
committed together before the event is sent, so a snapshot read at any moment matches some `seq`
exactly and a client that applies the events after it is whole.
"""
import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from debates.models import Debate, Turn

# The in-memory channel layer drops messages past its capacity without a word, so deltas are batched.
DELTA_INTERVAL_SECONDS = 0.05


def group_name(debate_id: int) -> str:
    return f"debate-{debate_id}"


def envelope(debate_id: int, seq: int, event_type: str, payload: dict) -> dict:
    return {"type": event_type, "seq": seq, "debate_id": debate_id,
            "ts": datetime.now(timezone.utc).isoformat(), "payload": payload}


# Events being sent, held here because the event loop holds tasks only weakly.
_sending: set[asyncio.Task] = set()


async def send_to_group(debate_id: int, event: dict) -> None:
    # Serialized once here, not once per watcher: with many watchers JSON encoding was most of the work.
    message = {"type": "debate.event", "seq": event["seq"], "json": json.dumps(event)}
    # Sent by a task of its own, awaited through a shield, so that cancelling the caller (a debate's cancel, the
    # server stopping) always reaches it. channels-redis writes through redis-py's asyncio.wait_for, and on
    # Python 3.11 a wait_for whose write completes just as its task is cancelled drops the cancel
    # (cpython#86296): the debate answered "cancel accepted" and spoke on to its end. The event is committed
    # already, so it is still sent.
    sending = asyncio.ensure_future(get_channel_layer().group_send(group_name(debate_id), message))
    _sending.add(sending)
    sending.add_done_callback(_sending.discard)
    await asyncio.shield(sending)


Change = Callable[[], object]  # writes rows; a dict it returns is added to the payload


class LeaseLost(Exception):
    """A write matched no row: another runner holds this debate now (or its seq moved). Write nothing more."""
Listener = Callable[[dict], Awaitable[None] | None]


class EventStream:
    """Numbers, persists and publishes one debate's events. One writer per debate: its runner."""

    def __init__(self, debate_id: int, last_seq: int, listener: Listener | None = None, token: str = "") -> None:
        self.debate_id = debate_id
        self.seq = last_seq
        self.listener = listener  # e.g. the terminal of `run_debate`
        self.token = token  # the runner's lease; "" for a one-off event from outside a runner

    async def emit(self, event_type: str, payload: dict, change: Change | None = None) -> dict:
        """Commit `change` with the next seq, then publish the event: both, or neither. A cancel that lands while
        the commit runs in its worker thread waits for the commit and its publication, so the seq a watcher
        sees next is always the next one. LeaseLost when the write is no longer ours to make."""
        work = asyncio.ensure_future(self._emit(event_type, payload, change))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            await asyncio.wait({work})
            raise

    async def _emit(self, event_type: str, payload: dict, change: Change | None) -> dict:
        seq = self.seq + 1
        added = await database_sync_to_async(_commit)(self.debate_id, seq, change, self.token)
        self.seq = seq
        event = envelope(self.debate_id, seq, event_type, {**payload, **(added or {})})
        await send_to_group(self.debate_id, event)
        if self.listener is not None:
            outcome = self.listener(event)
            if inspect.isawaitable(outcome):
                await outcome
        return event


def _commit(debate_id: int, seq: int, change: Change | None, token: str = "") -> dict | None:
    with transaction.atomic():
        # Compare and set, first: the previous seq must be the one we numbered from, and a runner must still hold
        # the lease. Otherwise nothing is written (the change never runs) and the writer stops.
        fenced = Debate.objects.filter(pk=debate_id, last_seq=seq - 1)
        if token:
            fenced = fenced.filter(runner_token=token)
        if not fenced.update(last_seq=seq):
            raise LeaseLost(f"debate {debate_id}: event {seq} is not ours to write (another runner holds it)")
        added = change() if change is not None else None
    return added if isinstance(added, dict) else None


async def emit_once(debate_id: int, event_type: str, payload: dict, change: Callable[[], None]) -> dict:
    """An event from outside a runner (cancelling a draft or an interrupted debate): no runner competes."""
    last_seq = await database_sync_to_async(
        lambda: Debate.objects.values_list("last_seq", flat=True).get(pk=debate_id))()
    return await EventStream(debate_id, last_seq).emit(event_type, payload, change)


class DeltaBuffer:
    """Collects a turn's token deltas and sends them at most every DELTA_INTERVAL_SECONDS.

    Each `turn.delta` says at which character (code point) its text starts, so a client can tell a missed batch
    from a repeated one; the text so far is saved on the turn row with the event, for late joiners.
    """

    def __init__(self, events: EventStream, turn: Turn, clock: Callable[[], float] = time.monotonic) -> None:
        self.events = events
        self.turn = turn
        self.clock = clock
        self.sent = ""
        self.pending: list[str] = []
        self.last_flush = clock()

    @property
    def text(self) -> str:
        return self.sent + "".join(self.pending)

    async def add(self, delta: str) -> None:
        self.pending.append(delta)
        if self.clock() - self.last_flush >= DELTA_INTERVAL_SECONDS:
            await self.flush()

    async def reset(self, reason: str) -> None:
        """The attempt streaming this turn broke and another one follows: what was shown so far is void."""
        self.sent, self.pending = "", []
        turn_id = self.turn.pk
        await self.events.emit(
            "turn.reset", {"turn_id": turn_id, "seat_id": self.turn.seat_id, "round": self.turn.round,
                           "reason": reason},
            lambda: Turn.objects.filter(pk=turn_id).update(text=""),
        )
        self.last_flush = self.clock()

    async def flush(self) -> None:
        if not self.pending:
            return
        chunk, offset = "".join(self.pending), len(self.sent)
        self.pending = []
        self.sent += chunk
        text, turn_id = self.sent, self.turn.pk
        await self.events.emit(
            "turn.delta",
            {"turn_id": turn_id, "seat_id": self.turn.seat_id, "round": self.turn.round, "offset": offset,
             "text": chunk},
            lambda: Turn.objects.filter(pk=turn_id).update(text=text),
        )
        # Counted from the end of the send: when sending is slow (many watchers), the next batch grows
        # instead of every token going out alone, each paying the whole cost of a send.
        self.last_flush = self.clock()
