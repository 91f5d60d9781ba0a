import ipaddress
import re
import socket
from dataclasses import dataclass
from socket import getaddrinfo  # this module's own name for it: tests make a host resolve here, nowhere else
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from debateproject.env import is_app_env_var

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_http_url = URLValidator(schemes=["http", "https"], message="Enter an http:// or https:// URL.")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services hand the machine's credentials to whoever asks from inside it, and no LLM server lives
# at them: these stay refused even when an admin allows private networks (which a LAN Ollama needs).
METADATA_ADDRESSES = frozenset(map(ipaddress.ip_address, [
    "169.254.169.254",  # AWS, Azure, GCP, Oracle, DigitalOcean, OpenStack
    "169.254.170.2",  # AWS ECS task credentials
    "169.254.170.23", "fd00:ec2::23",  # AWS EKS Pod Identity
    "fd00:ec2::254",  # AWS over IPv6
    "fd20:ce::254",  # GCP over IPv6
    "100.100.100.200",  # Alibaba Cloud
    "169.254.0.23",  # Tencent Cloud
    "168.63.129.16",  # Azure's WireServer: a public address, so nothing else here would refuse it
]))
# Names that resolve to those inside the cloud; checked by name too, since the admin form and the process that
# calls may not resolve alike. (Azure's metadata service has no name of its own, only 169.254.169.254.)
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata", "instance-data",
                            "instance-data.ec2.internal", "metadata.tencentyun.com"})
# IPv6 addresses that carry an IPv4 one, which is where the packets end up: NAT64's well-known prefix, and the
# prefix for local translators (RFC 8215), read as the /96 that such networks use.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# inet_aton's spellings of IPv4 (2852039166, 0xa9fea9fe, 0251.0376.0251.0376, 169.254.43518): the C resolver, and
# so every HTTP client, reads them as addresses, while ipaddress only reads dotted quads.
_INET_ATON_FORM = re.compile(r"[0-9a-fx.]+", re.IGNORECASE)


@dataclass(frozen=True)
class AddressRefusal:
    """Why calls must not go where an api_base points."""

    host: str  # as the URL spells it
    address: str  # what the host is, or resolves to; empty when its name alone is refused
    reason: str  # completes "<host> is ..."
    allowable: bool  # True when an admin's "allow private networks" lifts it; never for cloud metadata
    resolved: bool = False

    def __str__(self) -> str:
        if not self.address or self.address == self.host:
            subject = f"{self.host} is"
        else:
            subject = f"{self.host} {'resolves to' if self.resolved else 'is'} {self.address},"
        if self.allowable:
            return (f"{subject} {self.reason}; calls go only to public addresses and loopback unless an admin "
                    "allows private networks (the gateway setting, or ARENA_ALLOW_PRIVATE_NETWORKS)")
        return (f"{subject} {self.reason}: cloud metadata services hand out this machine's credentials, so no call "
                "may go there, whatever the settings")


def address_refusal(url: str) -> AddressRefusal | None:
    """Why url's host must not be called, or None. A name is resolved now and every address it resolves to must
    pass, since a client may connect to any of them; the worst refusal wins (cloud metadata over the rest)."""
    host = _host(url)
    if not host:
        return None
    if host in METADATA_HOSTS:
        return AddressRefusal(host, "", "a cloud metadata host name", allowable=False)
    literal = _literal(host)
    if literal is not None:
        return _refusal(host, literal, resolved=False)
    refusals = [refusal for ip in _resolved(host) if (refusal := _refusal(host, ip, resolved=True))]
    return min(refusals, key=lambda refusal: refusal.allowable, default=None)


def connect_refusal(host: str, address: str) -> AddressRefusal | None:
    """Why a client must not connect to `address`, which `host` resolved to just now, or None (the same rules)."""
    return _refusal(host, _unwrapped(ipaddress.ip_address(address.split("%", 1)[0])), resolved=True)


def needs_resolving(url: str) -> bool:
    """Whether address_refusal(url) would look the host up (a name, not an address): only then may it wait on DNS."""
    host = _host(url)
    return bool(host) and host not in METADATA_HOSTS and _literal(host) is None


def _host(url: str) -> str:
    try:
        host = urlsplit(url).hostname or ""  # lower case, without an IPv6 literal's brackets
    except ValueError:  # a broken IPv6 literal: the URL check says so in admin, the client at call time
        return ""
    return host.rstrip(".")


def _literal(host: str) -> IPAddress | None:
    bare = host.split("%", 1)[0]  # an IPv6 zone (fe80::1%25eth0) names an interface, not another address
    try:
        return _unwrapped(ipaddress.ip_address(bare))
    except ValueError:
        pass
    if _INET_ATON_FORM.fullmatch(bare):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:  # a name made of hex digits, such as "cafe.fade"
            return None
    return None


def _unwrapped(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return ip.ipv4_mapped
        if any(ip in prefix for prefix in _NAT64):
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _resolved(host: str) -> list[IPAddress]:
    try:
        infos = getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        # Nothing to connect to, so nothing to refuse: the call itself fails as unreachable. (A name that
        # resolves elsewhere by then, DNS rebinding, is refused when the client connects: connect_refusal.)
        return []
    return [_unwrapped(ipaddress.ip_address(info[4][0].split("%", 1)[0])) for info in infos]


def _refusal(host: str, ip: IPAddress, *, resolved: bool) -> AddressRefusal | None:
    def refuse(reason: str, allowable: bool = True) -> AddressRefusal:
        return AddressRefusal(host, str(ip), reason, allowable=allowable, resolved=resolved)

    if ip in METADATA_ADDRESSES:
        return refuse("a cloud metadata address", allowable=False)
    # This machine, where llama.cpp, Ollama and LM Studio listen. (0.0.0.0 and :: reach it too, and servers print
    # them as where they listen.)
    if ip.is_loopback or ip.is_unspecified:
        return None
    if ip.is_global:
        return None
    # The rest is refused until an admin allows private networks. A LAN Ollama lives on one, but from inside our
    # network so do the database, Redis and every internal service a mistyped or hostile row could reach; that
    # admin says so once (GatewaySetting.allow_private_networks) rather than everyone being open by default.
    if ip.is_link_local:
        return refuse("a link-local address, where cloud metadata services answer")
    if ip.is_private:
        return refuse("a private-network address")
    return refuse("not a public address")  # shared (100.64/10), multicast, reserved


def refused_address(url: str) -> AddressRefusal | None:
    """The refusal that stands for url under the setting, which is read only for an address that needs it."""
    refusal = address_refusal(url)
    if refusal and refusal.allowable and _private_networks_allowed():
        return None
    return refusal


def validate_api_base(value: str) -> None:
    _http_url(value)
    try:
        userinfo = urlsplit(value).username is not None
    except ValueError:
        userinfo = False
    if userinfo:  # the address is shown to everyone signed in (the catalog's API), and kept in the database
        raise ValidationError("Put no user name or password in the API base: a key goes in an environment "
                              "variable, named in the key variable field.", code="credentials_in_url")
    if refusal := refused_address(value):
        raise ValidationError(f"{refusal}.", code="forbidden_address")


def _private_networks_allowed() -> bool:
    from providers.models import GatewaySetting  # providers.models imports this module

    return GatewaySetting.load().private_networks_allowed


# Providers LiteLLM lists but cannot hold a chat with (its acompletion answers "Unmapped LLM provider" for every
# model, streamed or not: LiteLLM 1.110), with what to choose instead.
NO_CHAT_ROUTE = {
    "openai_like": "LiteLLM has no chat route for 'openai_like': every call would fail. For a server that speaks "
                   "OpenAI's API, choose 'openai' (or 'hosted_vllm') and give its address as the API base.",
}


def validate_litellm_provider(value: str) -> None:
    """A provider string LiteLLM routes by: a typo would be saved and then fail every call of the row's models."""
    import difflib

    from providers.llm.litellm_client import load_litellm  # seconds the first time; the server loads it at start

    if value in NO_CHAT_ROUTE:
        raise ValidationError(NO_CHAT_ROUTE[value], code="no_chat_route")
    known = {getattr(route, "value", route) for route in load_litellm().provider_list}
    if value in known:
        return
    close = difflib.get_close_matches(value.strip().lower(), sorted(known), n=3)
    hint = f" Did you mean {' or '.join(repr(route) for route in close)}?" if close else ""
    raise ValidationError(f"LiteLLM knows no provider {value!r}.{hint} It is the prefix of LiteLLM's model names: "
                          "anthropic, openai, ollama, ollama_chat, hosted_vllm, lm_studio, …", code="unknown_provider")


def validate_key_env_var(value: str) -> None:
    if not _ENV_NAME.match(value):
        raise ValidationError(
            "Enter the name of an environment variable (letters, digits and underscores, "
            "not starting with a digit), for example ANTHROPIC_API_KEY: never the key itself."
        )
    if is_app_env_var(value):
        raise ValidationError(
            f"{value} holds the application's own configuration and cannot be sent to a provider."
        )


# What the row's own fields and the gateway set on every call. In extra parameters they would go around them:
# `base_url` replaces the checked API base, `api_key` the key variable, `client` our clients that refuse redirects;
# the timeouts and retries are the row's fields; `mock_response` would make up the model's answer.
RESERVED_PARAMS = frozenset({
    "model", "messages", "stream", "stream_options", "api_base", "base_url", "api_key", "client",
    "custom_llm_provider", "timeout", "stream_timeout", "request_timeout", "max_retries", "num_retries",
    "drop_params", "fallbacks", "context_window_fallback_dict", "mock_response", "mock_tool_calls", "mock_timeout",
    "litellm_logging_obj",
})
_SECRET_PARAM = re.compile(r"secret|password|credential|api_key|access_key|(^|_)token$", re.IGNORECASE)
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie"})


def extra_params_problem(value: object) -> str | None:
    """Why `value` cannot be a row's extra LiteLLM parameters, or None. Checked in admin and again at call time,
    for a row saved before the check existed."""
    if not isinstance(value, dict):
        return 'Enter a JSON object of parameter names and values, for example {"top_p": 0.9}.'
    if reserved := sorted(name for name in value if name in RESERVED_PARAMS):
        return (f"{', '.join(reserved)}: set by the row's own fields (API base, key variable, timeouts, retries) "
                "or by the app on every call, never here.")
    secret = sorted(name for name in value if _SECRET_PARAM.search(name))
    for headers in (value.get("extra_headers"), value.get("headers")):
        if isinstance(headers, dict):
            secret += sorted(f"the {name} header" for name in headers if name.lower() in _CREDENTIAL_HEADERS)
    if secret:
        return (f"{', '.join(secret)}: would keep a secret in the database. Secrets live only in environment "
                "variables: name the key's variable in the key variable field.")
    return None


def validate_extra_params(value: object) -> None:
    if problem := extra_params_problem(value):
        raise ValidationError(problem, code="extra_params")
