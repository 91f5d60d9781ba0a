"""The live channel of one debate: authenticate, join its group, send a snapshot, forward events."""
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from debates.events import group_name, with_live_text
from debates.models import Debate
from debates.snapshot import debate_snapshot


# A snapshot reads the whole debate on the database thread every debate of the process shares: a client may ask
# for a few at once (a reconnect, a gap in the events), then one a second; more are refused with an error event.
RESYNC_BURST, RESYNC_PER_SECOND = 3, 1.0


class DebateConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.resync_tokens, self.resync_at = float(RESYNC_BURST), time.monotonic()
        self.debate_id = int(self.scope["url_route"]["kwargs"]["debate_id"])
        self.group = None
        self.seq = 0  # the last seq this client has: the snapshot's, then each event's
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse("unauthenticated", "Sign in to watch debates.", 4401)
            return
        if not await database_sync_to_async(Debate.objects.filter(pk=self.debate_id).exists)():
            await self.refuse("not_found", f"There is no debate {self.debate_id}.", 4404)
            return
        # Join first, then read the snapshot: every event after it reaches us, earlier ones are in it.
        self.group = group_name(self.debate_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_snapshot()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "resync":
            if self._may_resync():
                await self.send_snapshot()
            else:
                await self.send_error("rate_limited", "Too many resync requests: at most one a second. Events "
                                                      "keep coming; ask again shortly.")
        else:
            await self.send_error("bad_message", 'The only message this channel takes is {"type": "resync"}.')

    async def debate_event(self, message: dict) -> None:
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
        # Read off the database thread that every debate of this process commits on (thread_sensitive=False): a
        # burst of snapshots, each reading a whole debate, never makes another debate's turn wait.
        snapshot = with_live_text(await database_sync_to_async(debate_snapshot, thread_sensitive=False)(self.debate_id))
        self.seq = snapshot["last_seq"]
        await self.send_json({"type": "snapshot", "seq": snapshot["last_seq"], "debate_id": self.debate_id,
                              "payload": snapshot})

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
        except ValueError:
            return None
