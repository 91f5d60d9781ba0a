"""The live channel's events: the envelope, the per-debate sequence, delta coalescing, one publish function.

The database is the record and events are notifications: every numbered event's state change and its `seq` are
committed together before the event is sent, so a snapshot read at any moment matches some `seq` exactly and a
client that applies the events after it is whole.

`turn.delta` is the one event that is not numbered (its `seq` is the last numbered event's): streamed text is sent
every DELTA_INTERVAL_SECONDS but written to the database only every PERSIST_INTERVAL_SECONDS, and only the part not
yet written (DeltaBuffer). A delta may repeat text the client has; its `offset` says where it starts.
"""
import asyncio
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat

from debates.models import Debate, Turn
from debates.row_writes import Writes, write_fenced

logger = logging.getLogger("debates.events")
# The in-memory channel layer drops messages past its capacity without a word, so deltas are batched.
DELTA_INTERVAL_SECONDS = 0.05
# How often the text of a streaming turn is saved for late joiners: a few small appends a second, not a rewrite of
# the whole text with every batch (that was 40 transactions a second and O(n^2) bytes per turn).
PERSIST_INTERVAL_SECONDS = 0.25


def group_name(debate_id: int) -> str:
    return f"debate-{debate_id}"


def envelope(debate_id: int, seq: int, event_type: str, payload: dict) -> dict:
    return {"type": event_type, "seq": seq, "debate_id": debate_id,
            "ts": datetime.now(timezone.utc).isoformat(), "payload": payload}


# Events being sent, held here because the event loop holds tasks only weakly.
_sending: set[asyncio.Task] = set()


async def send_to_group(debate_id: int, event: dict, *, numbered: bool = True) -> None:
    # Serialized once here, not once per watcher: with many watchers JSON encoding was most of the work.
    message = {"type": "debate.event", "seq": event["seq"], "numbered": numbered, "json": json.dumps(event)}
    if event["type"] == "turn.delta":  # what a watcher's process needs to skip one a later delta repeats (fanout)
        message["delta"] = [event["payload"]["turn_id"], event["payload"]["offset"]]
    # Sent by a task of its own, awaited through a shield, so that cancelling the caller (a debate's cancel, the
    # server stopping) always reaches it. channels-redis writes through redis-py's asyncio.wait_for, and on
    # Python 3.11 a wait_for whose write completes just as its task is cancelled drops the cancel
    # (cpython#86296): the debate answered "cancel accepted" and spoke on to its end. The event is committed
    # already, so it is still sent.
    sending = asyncio.ensure_future(get_channel_layer().group_send(group_name(debate_id), message))
    _sending.add(sending)
    sending.add_done_callback(_sending.discard)
    await asyncio.shield(sending)


async def until_done(work: asyncio.Future) -> None:
    """Wait for `work` to end, whatever cancels land meanwhile (Cancel pressed twice): the caller, cancelled
    already, goes on with the first cancel once it knows how `work` ended."""
    while not work.done():
        try:
            await asyncio.wait({work})
        except asyncio.CancelledError:
            continue


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

    async def emit(self, event_type: str, payload: dict, change: Change | Writes | None = None,
                   debate_fields: dict | None = None) -> dict:
        """Commit `change` with the next seq, then publish the event: both, or neither. `debate_fields` are set on
        the debate's row by the statement that numbers the event (a statement fewer than a `change` writing them);
        a change given as Writes is sent with that statement (debates.row_writes).
        A cancel that lands while the commit runs in its worker thread waits for the commit and its publication,
        so the seq a watcher sees next is always the next one. LeaseLost when the write is no longer ours to make."""
        work = asyncio.ensure_future(self._emit(event_type, payload, change, debate_fields))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            await until_done(work)
            raise

    async def _emit(self, event_type: str, payload: dict, change: Change | Writes | None,
                    debate_fields: dict | None) -> dict:
        seq = self.seq + 1
        added = await database_sync_to_async(_commit)(self.debate_id, seq, change, self.token, debate_fields)
        self.seq = seq
        event = envelope(self.debate_id, seq, event_type, {**payload, **(added or {})})
        await send_to_group(self.debate_id, event)
        await self._tell_listener(event)
        return event

    async def announce(self, event_type: str, payload: dict) -> dict:
        """Publish an event that changes no row and takes no number (its seq is the last numbered event's)."""
        event = envelope(self.debate_id, self.seq, event_type, payload)
        await send_to_group(self.debate_id, event, numbered=False)
        await self._tell_listener(event)
        return event

    async def append_text(self, turn_id: int, text: str) -> None:
        """Append to a streaming turn's saved text, fenced by the lease: LeaseLost when it is no longer ours."""
        if not await database_sync_to_async(_append)(turn_id, text, self.token):
            raise LeaseLost(f"debate {self.debate_id}: turn {turn_id} is not ours to write (another runner holds it)")

    async def _tell_listener(self, event: dict) -> None:
        """The listener only watches (the terminal of `run_debate` prints what it is told): a listener that
        fails is logged, and the debate, committed and published already, goes on."""
        if self.listener is None:
            return
        try:
            outcome = self.listener(event)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:
            logger.exception("debate %s: the listener failed on %s (seq %s); the debate goes on", self.debate_id,
                             event["type"], event["seq"])


def _commit(debate_id: int, seq: int, change: Change | Writes | None, token: str = "",
            debate_fields: dict | None = None) -> dict | None:
    fence = _fence_statement(debate_id, seq, token, debate_fields or {})
    if isinstance(change, Writes):  # the fence and the rows: on PostgreSQL, one statement
        added = write_fenced(fence, change)
        if added is None:
            raise _lost(debate_id, seq)
        return added
    if change is None:  # the numbering statement alone: atomic by itself, without a BEGIN and a COMMIT around it
        _fence(debate_id, seq, fence)
        return None
    with transaction.atomic():
        _fence(debate_id, seq, fence)  # first: when it fails, the change never runs
        added = change()
    return added if isinstance(added, dict) else None


def _fence(debate_id: int, seq: int, fence: tuple[str, list]) -> None:
    """Compare and set: the previous seq must be the one we numbered from, and a runner must still hold the lease.
    Otherwise nothing is written and the writer stops."""
    with connection.cursor() as cursor:
        cursor.execute(*fence)
        if cursor.rowcount != 1:
            raise _lost(debate_id, seq)


def _lost(debate_id: int, seq: int) -> LeaseLost:
    return LeaseLost(f"debate {debate_id}: event {seq} is not ours to write (another runner holds it)")


def _fence_statement(debate_id: int, seq: int, token: str, debate_fields: dict) -> tuple[str, list]:
    """Debate.objects.filter(pk=debate_id, last_seq=seq - 1[, runner_token=token]).update(last_seq=seq,
    **debate_fields), written as SQL: it runs at every numbered event, and the ORM took 0.2 ms to compile it,
    eight times what running it takes (bench/bench_concurrent.py)."""
    quote, meta = connection.ops.quote_name, Debate._meta
    seq_column, token_column = (quote(meta.get_field(name).column) for name in ("last_seq", "runner_token"))
    fields = [meta.get_field(name) for name in debate_fields]
    assignments = "".join(f", {quote(field.column)} = %s" for field in fields)
    sql = (f"UPDATE {quote(meta.db_table)} SET {seq_column} = %s{assignments} "
           f"WHERE {quote(meta.pk.column)} = %s AND {seq_column} = %s")
    params = [seq, *(field.get_db_prep_save(value, connection) for field, value in zip(fields, debate_fields.values())),
              debate_id, seq - 1]
    if token:
        sql, params = f"{sql} AND {token_column} = %s", [*params, token]
    return sql, params


def _append(turn_id: int, text: str, token: str) -> bool:
    turn = Turn.objects.filter(pk=turn_id)
    if token:
        turn = turn.filter(debate__runner_token=token)
    return bool(turn.update(text=Concat(F("text"), Value(text))))  # the new part alone goes to the database


async def emit_once(debate_id: int, event_type: str, payload: dict, change: Callable[[], None]) -> dict:
    """An event from outside a runner (cancelling a draft or an interrupted debate): no runner competes."""
    last_seq = await database_sync_to_async(
        lambda: Debate.objects.values_list("last_seq", flat=True).get(pk=debate_id))()
    return await EventStream(debate_id, last_seq).emit(event_type, payload, change)


# The turns this process streams now, by id: a snapshot taken here shows their text to the last token.
_streaming: dict[int, "DeltaBuffer"] = {}


def live_text(turn_id: int, saved: str) -> str:
    """A streaming turn's text to the last token when this process streams it (else `saved`, its row's text, at
    most PERSIST_INTERVAL_SECONDS behind; on another process the next delta brings the rest). Safe from a request's
    thread: it only reads a dict entry and joins a list, each atomic in CPython."""
    buffer = _streaming.get(turn_id)
    live = buffer.text if buffer is not None else saved
    return live if live.startswith(saved) else saved  # else a reset came after the read: its event follows


def with_live_text(snapshot: dict) -> dict:
    """`snapshot` with the text of each turn this process streams as it is now, not as last saved: a copy, since
    watchers that joined at once share one snapshot read (debates.fanout)."""
    return {**snapshot, "turns": [{**turn, "text": live_text(turn["id"], turn["text"])}
                                  if turn["status"] == "streaming" else turn for turn in snapshot["turns"]]}


class DeltaBuffer:
    """Collects a turn's token deltas: sends them at most every DELTA_INTERVAL_SECONDS, saves them at most every
    PERSIST_INTERVAL_SECONDS, appending only what was not saved yet (O(length of the turn) bytes in all).

    Each `turn.delta` holds all the text not saved before it was flushed (`offset`, in code points, is where that
    starts), the delta flushed with a save included. So a watcher that joins late, whose snapshot holds the text
    as of the last save it could read, gets the rest from the deltas that follow however the save and its joining
    interleave: the first delta it receives starts at or before the end of its snapshot's text, on this process
    or any other.
    """

    def __init__(self, events: EventStream, turn: Turn, clock: Callable[[], float] = time.monotonic) -> None:
        self.events = events
        self.turn = turn
        self.clock = clock
        self.chunks: list[str] = []
        self.sent = 0  # chunks sent to watchers
        self.saved = 0  # characters saved on the row
        self.last_send = self.last_save = clock()
        _streaming[turn.pk] = self  # until close()

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def close(self) -> None:
        """The turn ended (its final text is on the row): late joiners read it there again."""
        if _streaming.get(self.turn.pk) is self:
            del _streaming[self.turn.pk]

    async def add(self, delta: str) -> None:
        self.chunks.append(delta)
        if self.clock() - self.last_send >= DELTA_INTERVAL_SECONDS:
            await self.flush()

    async def reset(self, reason: str) -> None:
        """The attempt streaming this turn broke and another one follows: what was shown so far is void."""
        self.chunks, self.sent, self.saved = [], 0, 0
        turn_id = self.turn.pk
        await self.events.emit(
            "turn.reset", {"turn_id": turn_id, "seat_id": self.turn.seat_id, "round": self.turn.round,
                           "reason": reason},
            lambda: Turn.objects.filter(pk=turn_id).update(text=""),
        )
        self.last_send = self.last_save = self.clock()

    async def flush(self, persist: bool = True) -> None:
        """Send what came since the last send; save it too when the last save is PERSIST_INTERVAL_SECONDS old
        (persist=False: the commit that follows saves the whole text anyway, as the turn's completion does)."""
        if self.sent == len(self.chunks):
            return
        text = self.text
        self.chunks, self.sent = [text], 1  # joined once: the next flush joins only what came after
        start = self.saved  # a delta holds all that is not saved, and what it saves (it may come after the save)
        if persist and self.clock() - self.last_save >= PERSIST_INTERVAL_SECONDS:
            await self.events.append_text(self.turn.pk, text[self.saved:])
            self.saved, self.last_save = len(text), self.clock()
        await self.events.announce(
            "turn.delta",
            {"turn_id": self.turn.pk, "seat_id": self.turn.seat_id, "round": self.turn.round, "offset": start,
             "text": text[start:]},
        )
        # Counted from the end of the send: when sending is slow (many watchers), the next batch grows
        # instead of every token going out alone, each paying the whole cost of a send.
        self.last_send = self.clock()
