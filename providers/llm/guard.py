"""Calls go only where they belong: a row's api_base is checked before any request is made from it.

Admin refuses a bad api_base when it is typed, but a row can change without the form (the shell, update(), a
fixture), the setting can be turned off later, and a name can come to resolve elsewhere; so the address is
checked again for every call, with the host resolved then (providers/validators.py says what is refused).
"""
import asyncio

from channels.db import database_sync_to_async

from providers.llm.errors import LLMForbiddenAddressError
from providers.models import GatewaySetting, LLMModel
from providers.validators import AddressRefusal, address_refusal, needs_resolving, refused_address


def check_api_base(model: LLMModel) -> None:
    """Raise LLMForbiddenAddressError when the row's api_base must not be called (sync callers: admin)."""
    if refusal := refused_address(model.effective_api_base):
        raise forbidden(model, refusal)


async def acheck_api_base(model: LLMModel, *, private_networks: bool | None = None) -> None:
    """The same from the event loop. `private_networks` is the setting when the caller has read it already;
    otherwise it is read only for an address that needs it, so a call to a public or loopback address costs
    no trip to the database."""
    url = model.effective_api_base
    if not url:  # the provider's public endpoint, which LiteLLM or the SDK knows
        return
    # Resolving a name may wait on DNS: off the event loop. An address needs no lookup, and a thread hop would cost
    # more than the whole of the rest of the gateway's work (bench/bench_gateway.py).
    refusal = await asyncio.to_thread(address_refusal, url) if needs_resolving(url) else address_refusal(url)
    if refusal is None:
        return
    if refusal.allowable and private_networks is None:
        private_networks = await database_sync_to_async(lambda: GatewaySetting.load().private_networks_allowed)()
    if not (refusal.allowable and private_networks):
        raise forbidden(model, refusal)


def forbidden(model: LLMModel, refusal: AddressRefusal) -> LLMForbiddenAddressError:
    return LLMForbiddenAddressError(f"refused before any request: {refusal}", model=model.litellm_model_name)
