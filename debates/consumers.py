"""The live channel of one debate: authenticate, join its watchers in this process, send a snapshot, forward
events."""
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from debates.events import with_live_text
from debates.fanout import hub
from debates.models import Debate
from debates.snapshot import debate_snapshot


# A snapshot reads the whole debate: a client may ask for a few at once (a reconnect, a gap in the events), then
# one a second; more are refused with an error event.
RESYNC_BURST, RESYNC_PER_SECOND = 3, 1.0


class DebateConsumer(AsyncJsonWebsocketConsumer):
    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # A handler that raised ends the consumer without disconnect(): it leaves the debate's watchers all the
            # same, or every later event would still be sent to it (daphne drops sends to a closed socket quietly).
            await self._leave()

    async def connect(self) -> None:
        self.resync_tokens, self.resync_at = float(RESYNC_BURST), time.monotonic()
        self.debate_id = int(self.scope["url_route"]["kwargs"]["debate_id"])
        self.joined = False
        self.seq = 0  # the last seq this client has: the snapshot's, then each event's
        self.held: list[dict] | None = []  # events that came while a snapshot was read: sent after it, in order
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse("unauthenticated", "Sign in to watch debates.", 4401)
            return
        exists = Debate.objects.filter(pk=self.debate_id).exists
        if not await database_sync_to_async(exists, thread_sensitive=False)():  # off the runners' database thread
            await self.refuse("not_found", f"There is no debate {self.debate_id}.", 4404)
            return
        # Join first, then read the snapshot: every event after it reaches us, earlier ones are in it.
        await hub().join(self.debate_id, self)
        self.joined = True
        await self.send_snapshot()

    async def disconnect(self, code: int) -> None:
        await self._leave()

    async def _leave(self) -> None:
        if getattr(self, "joined", False):
            self.joined = False
            await hub().leave(self.debate_id, self)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        # Channels raises on an empty or a binary frame, which would end the consumer: a bad message instead.
        await self.receive_json(await self.decode_json(text_data) if text_data else None, **kwargs)

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "resync":
            if self._may_resync():
                await self.send_snapshot()
            else:
                await self.send_error("rate_limited", "Too many resync requests: at most one a second. Events "
                                                      "keep coming; ask again shortly.")
        else:
            await self.send_error("bad_message", 'The only message this channel takes is {"type": "resync"}.')

    async def deliver(self, message: dict) -> None:
        """An event of this debate, from this process's one subscription to it (debates.fanout). It comes whenever
        it is published, even while this consumer reads a snapshot: then it waits, so the client always gets the
        snapshot first and every event after it."""
        if self.held is not None:
            self.held.append(message)
            return
        await self._forward(message)

    async def lost(self) -> None:
        await self.refuse("events_lost", "The server lost this debate's events for a moment; reconnect to carry on.",
                          1011)

    async def _forward(self, message: dict) -> None:
        # An event committed before our snapshot was read but published after it is already in the snapshot.
        if message.get("numbered", True):
            if message["seq"] <= self.seq:
                return
            self.seq = message["seq"]
        elif message["seq"] < self.seq:  # a delta sent before an event the client has: that event supersedes it
            return
        await self.send(text_data=message["json"])

    # ---- helpers ----------------------------------------------------------------------------
    def _may_resync(self) -> bool:
        """A token bucket: RESYNC_BURST at once, refilled at RESYNC_PER_SECOND."""
        now = time.monotonic()
        self.resync_tokens = min(RESYNC_BURST, self.resync_tokens + (now - self.resync_at) * RESYNC_PER_SECOND)
        self.resync_at = now
        if self.resync_tokens < 1:
            return False
        self.resync_tokens -= 1
        return True

    async def send_snapshot(self) -> None:
        if self.held is None:
            self.held = []
        try:
            await self._send_snapshot()
        finally:
            while self.held:  # events that arrive while these are sent queue behind them
                await self._forward(self.held.pop(0))
            self.held = None

    async def _send_snapshot(self) -> None:
        # Read off the database thread that every debate of this process commits on (thread_sensitive=False): a
        # burst of snapshots, each reading a whole debate, never makes another debate's turn wait. Watchers of
        # the debate that ask at once share one read (debates.fanout); the live text is each one's own.
        try:
            shared = await hub().snapshot(self.debate_id, self._read_snapshot)
        except Debate.DoesNotExist:
            await self.refuse("not_found", f"Debate {self.debate_id} was deleted.", 4404)
            await self._leave()
            return
        snapshot = with_live_text(shared)
        self.seq = snapshot["last_seq"]
        await self.send_json({"type": "snapshot", "seq": snapshot["last_seq"], "debate_id": self.debate_id,
                              "payload": snapshot})

    async def _read_snapshot(self) -> dict:
        return await database_sync_to_async(debate_snapshot, thread_sensitive=False)(self.debate_id)

    async def send_error(self, code: str, detail: str) -> None:
        await self.send_json({"type": "error", "debate_id": self.debate_id, "payload": {"code": code, "detail": detail}})

    async def refuse(self, code: str, detail: str, close_code: int) -> None:
        """Say why before closing: a socket that just drops leaves the page guessing."""
        await self.send_error(code, detail)
        await self.close(code=close_code)

    @classmethod
    async def decode_json(cls, text_data: str):
        try:
            return await super().decode_json(text_data)
        except (ValueError, RecursionError):  # not JSON, or nested too deep for the parser
            return None
