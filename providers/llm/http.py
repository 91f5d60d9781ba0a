"""The HTTP clients our calls go through: a redirect is never followed, and no connection goes where the api_base
check would refuse.

An api_base that passed the address check (providers/llm/guard.py) could otherwise answer 302 and send the call on
to a cloud metadata endpoint or a private address; the client would fetch it, and what it answered would come back
inside the error message a debate shows. A provider's API does not redirect its calls, so one that does is refused,
plainly, and the redirect is not followed.

Nor does a connection go to an address the api_base check refuses: the check resolves a name before the call,
and a name can resolve elsewhere by the time the client connects (DNS rebinding). The clients here resolve through
`resolver.CheckedResolver`, which applies the same rules to every address it is about to hand the connector.

LiteLLM takes a client per call (`client=`), of the kind the route's handler uses: an `openai.AsyncOpenAI` for
the routes it sends through the openai SDK, its own `AsyncHTTPHandler` for those it sends itself. Both are built
here on LiteLLM's aiohttp transport, as LiteLLM builds its defaults, only with redirects off and the resolver
checked. A route not listed keeps LiteLLM's clients, which do neither: the check before the call still applies.
"""
import asyncio
import atexit
import contextlib
from urllib.parse import urlsplit

from providers.llm.errors import behind

# httpx and aiohttp are imported where a client is made, not here: every process imports this module at start-up
# (admin, through the client factory), and the two cost some 160 to 400 ms that pages and commands never need.

# Which kind of client each route's LiteLLM handler takes: the openai SDK's, or LiteLLM's own. Every route here is
# tested (providers/tests/test_redirects.py); LiteLLM's own list of OpenAI-compatible routes mixes both kinds.
OPENAI_SDK_ROUTES = frozenset({"openai", "lm_studio", "llamafile", "perplexity", "deepinfra", "nvidia_nim",
                               "cerebras", "sambanova", "github"})
HANDLER_ROUTES = frozenset({"anthropic", "ollama", "ollama_chat", "hosted_vllm", "deepseek", "mistral",
                            "openrouter", "together_ai", "xai"})
NO_KEY = "no-key-required"  # a local OpenAI-compatible server ignores it; the SDK insists on one


class RedirectRefused(Exception):
    """The server answered a call with a redirect, which is not followed."""


async def refuse_redirects(response) -> None:  # an httpx or httpx2 response
    if response.is_redirect:
        where = urlsplit(response.headers.get("location", "")).netloc or "elsewhere"
        raise RedirectRefused(f"the server answered {response.status_code}, a redirect to {where}, which is not "
                              "followed: calls go only to the row's api_base")


class AddressRefused(OSError):
    """The name resolved, when the client connected, to an address no call may go to."""


def refusal_behind(exc: BaseException) -> RedirectRefused | AddressRefused | None:
    """The RedirectRefused or AddressRefused behind `exc`, however the SDK or LiteLLM wrapped it."""
    return behind(exc, (RedirectRefused, AddressRefused))


def sdk_http_client(sdk, timeout: float | None):
    """For a legacy client of the `sdk` module (openai or anthropic), made per call: the SDK closes it with itself.
    The SDK's own kind of client (theirs is `httpx2`'s), with redirects off, connecting through the resolver's
    check."""
    import httpx2

    from providers.llm.resolver import checked_network_backend

    transport = httpx2.AsyncHTTPTransport()
    # httpx2 takes no network backend of its own accord; its pool does, and connects through it.
    transport._pool._network_backend = checked_network_backend()
    return sdk.DefaultAsyncHttpxClient(timeout=timeout, follow_redirects=False, transport=transport,
                                       event_hooks={"response": [refuse_redirects]})


_clients: dict[tuple, object] = {}


def litellm_client(route: str, *, api_base: str | None, api_key: str | None) -> object | None:
    """The `client=` for a LiteLLM call on `route`, or None to leave LiteLLM its own. Made once per process and
    address (as LiteLLM caches its own): a new client per call would open a new connection per call."""
    if route in HANDLER_ROUTES:
        key: tuple = ("handler",)  # the address and key travel with each request
    elif route in OPENAI_SDK_ROUTES:
        if route != "openai" and not api_base:
            # The provider's public address, and the variable its key is in, are LiteLLM's to know: an openai
            # client without them would call OpenAI's address, with OPENAI_API_KEY. Its own client, then.
            return None
        # An openai client holds both; never None for the key, which the SDK would take from OPENAI_API_KEY.
        key = ("openai", api_base, api_key or NO_KEY)
    else:
        return None
    if key not in _clients:
        if not _clients:
            atexit.register(_close_all)
        _clients[key] = _handler() if key[0] == "handler" else _openai_client(*key[1:])
    return _clients[key]


def _close_all() -> None:
    """Close their connections before the interpreter tears its modules down, as LiteLLM closes its own: left to
    the garbage collector then, each would print a traceback on the way out."""
    clients = list(_clients.values())
    _clients.clear()

    async def close() -> None:
        for client in clients:
            with contextlib.suppress(Exception):  # on the way out, a client that will not close is no matter
                await client.close()

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(close())
    finally:
        loop.close()


def _transport():
    """LiteLLM's aiohttp transport, its sessions (one per event loop, made when first needed) on our resolver."""
    from aiohttp import ClientSession, DummyCookieJar, TCPConnector
    from litellm.constants import AIOHTTP_KEEPALIVE_TIMEOUT, AIOHTTP_TTL_DNS_CACHE
    from litellm.llms.custom_httpx.aiohttp_transport import LiteLLMAiohttpTransport
    from litellm.llms.custom_httpx.http_handler import get_ssl_configuration

    from providers.llm.resolver import CheckedResolver

    def session() -> ClientSession:
        # TLS as LiteLLM's own clients verify it, so that its documented settings apply to ours too: its CA
        # bundle, or SSL_CERT_FILE, or SSL_VERIFY (a bundle's path, or false), its TLS floor and ciphers. An
        # SSLContext, or False when verification is off.
        connector = TCPConnector(resolver=CheckedResolver(), ssl=get_ssl_configuration(),
                                 keepalive_timeout=AIOHTTP_KEEPALIVE_TIMEOUT, ttl_dns_cache=AIOHTTP_TTL_DNS_CACHE)
        return ClientSession(connector=connector, cookie_jar=DummyCookieJar())

    return LiteLLMAiohttpTransport(client=session)


def _handler():
    from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler

    return AsyncHTTPHandler(transport=_transport(), follow_redirects=False,
                            event_hooks={"response": [refuse_redirects]})


def _openai_client(api_base: str | None, api_key: str | None):
    import httpx
    import openai

    http_client = httpx.AsyncClient(transport=_transport(), follow_redirects=False,
                                    event_hooks={"response": [refuse_redirects]})
    # Retries are ours (gateway.py); the timeouts LiteLLM passes with each request.
    return openai.AsyncOpenAI(api_key=api_key, base_url=api_base, http_client=http_client, max_retries=0)
