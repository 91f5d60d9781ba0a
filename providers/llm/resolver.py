"""Where a client may connect, checked when it connects: a name that passed the api_base check before the call
can resolve elsewhere a moment later (DNS rebinding). Only providers/llm/http.py uses this, when it makes a client
(aiohttp is imported here, not at start-up)."""
import socket

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver
from channels.db import database_sync_to_async

from providers.llm.http import AddressRefused
from providers.models import GatewaySetting
from providers.validators import connect_refusal


class CheckedResolver(AbstractResolver):
    """aiohttp's resolver, with each address it found checked as the api_base was (providers/validators.py)."""

    def __init__(self) -> None:
        self.inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list:
        found = await self.inner.resolve(host, port, family)
        refusals = [refusal for entry in found if (refusal := connect_refusal(host, entry["host"]))]
        if refusals:
            worst = min(refusals, key=lambda refusal: refusal.allowable)  # cloud metadata over the rest
            if not (worst.allowable and await _private_networks_allowed()):
                raise AddressRefused(f"refused when connecting: {worst}")
        return found

    async def close(self) -> None:
        await self.inner.close()


async def _private_networks_allowed() -> bool:
    return await database_sync_to_async(lambda: GatewaySetting.load().private_networks_allowed)()
