"""Where a client may connect, checked when it connects: a name that passed the api_base check before the call
can resolve elsewhere a moment later (DNS rebinding). Only providers/llm/http.py uses this, when it makes a client
(aiohttp is imported here, not at start-up): LiteLLM's aiohttp sessions resolve through CheckedResolver, the
legacy SDKs' httpx2 clients connect through checked_network_backend()."""
import asyncio
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
        await _check(host, [entry["host"] for entry in found])
        return found

    async def close(self) -> None:
        await self.inner.close()


def checked_network_backend():
    """For an httpx2 connection pool (the legacy SDK clients): the host looked up when a connection is made, each
    address checked, and the connection made to the address checked, not to the name (which a second lookup
    could answer differently). TLS still verifies the certificate against the name."""
    import httpcore2

    class CheckedNetworkBackend(httpcore2.AnyIOBackend):
        async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address=None,
                              socket_options=None):
            try:
                async with asyncio.timeout(timeout):
                    found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (OSError, TimeoutError) as error:
                raise httpcore2.ConnectError(str(error)) from error
            addresses = list(dict.fromkeys(info[4][0] for info in found))
            await _check(host, addresses)
            for address in addresses:
                try:
                    return await super().connect_tcp(address, port, timeout, local_address, socket_options)
                except httpcore2.ConnectError:
                    if address == addresses[-1]:
                        raise
            raise httpcore2.ConnectError(f"{host} resolved to no address")

    return CheckedNetworkBackend()


async def _check(host: str, addresses: list[str]) -> None:
    """AddressRefused unless every address `host` resolved to may be called (private ones only when allowed)."""
    refusals = [refusal for address in addresses if (refusal := connect_refusal(host, address))]
    if refusals:
        worst = min(refusals, key=lambda refusal: refusal.allowable)  # cloud metadata over the rest
        if not (worst.allowable and await _private_networks_allowed()):
            raise AddressRefused(f"refused when connecting: {worst}")


async def _private_networks_allowed() -> bool:
    return await database_sync_to_async(lambda: GatewaySetting.load().private_networks_allowed)()
