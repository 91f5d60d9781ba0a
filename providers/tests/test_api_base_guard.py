"""Outbound calls only where they belong (issue #12): an api_base at cloud metadata, or at a private network that no
admin allowed, is refused in admin and again at call time, before any request; loopback always passes."""
import socket
from urllib.parse import urlsplit

import pytest
from channels.db import database_sync_to_async
from django.core.exceptions import ValidationError

from providers import connection_test, preflight, validators
from providers.ollama import OllamaDiscoveryError, discover_ollama_models
from providers.llm.errors import LLMForbiddenAddressError
from providers.llm.gateway import Answer, answer, stream_answer
from providers.models import GatewaySetting, LLMModel, ModelFallback, Provider
from providers.tests.factories import ProviderFactory
from providers.tests.test_admin import NO_FALLBACKS, add_provider

MESSAGES = [{"role": "user", "content": "Open the debate."}]
# What the checker's resolver answers. The HTTP clients keep the real one, so a name can point the checker at one
# address and the call at a local fake server: had the check let it through, that server would see the request.
# (Call-time tests use only such names, never an address literal: a check that failed would then send nothing
# beyond this machine.)
DNS = {
    "ollama.lan": ["192.168.1.20"],
    "api.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "rebound.example.com": ["93.184.215.14", "10.0.0.7", "169.254.169.254"],
    "linklocal.example.com": ["fe80::1%eth0"],
    "localhost": ["127.0.0.1", "::1"],
}


@pytest.fixture(autouse=True)
def dns(monkeypatch) -> dict[str, list[str]]:
    table = dict(DNS)

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 0))
                for address in table[host]]

    monkeypatch.setattr(validators, "getaddrinfo", getaddrinfo)  # the checker's module only
    return table


def allow_private_networks(allowed: bool = True) -> None:
    GatewaySetting.objects.update_or_create(pk=1, defaults={"allow_private_networks": allowed})


# ---- the checker --------------------------------------------------------------------------------
@pytest.mark.parametrize("url, says", [
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
    ("http://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254 is 169.254.169.254, a cloud metadata address"),
    ("http://[::ffff:a9fe:a9fe]/", "is 169.254.169.254, a cloud metadata address"),
    ("http://[64:ff9b::a9fe:a9fe]/", "is 169.254.169.254, a cloud metadata address"),  # NAT64
    ("http://[64:ff9b:1::a9fe:a9fe]/", "is 169.254.169.254, a cloud metadata address"),  # NAT64, a local prefix
    ("http://2852039166/", "2852039166 is 169.254.169.254, a cloud metadata address"),
    ("http://0xa9fea9fe/", "0xa9fea9fe is 169.254.169.254"),
    ("http://0251.0376.0251.0376/", "0251.0376.0251.0376 is 169.254.169.254"),
    ("http://169.254.43518/", "169.254.43518 is 169.254.169.254"),
    ("http://169.254.169.254./", "169.254.169.254 is a cloud metadata address"),
    ("http://[fd00:ec2::254]/latest/", "fd00:ec2::254 is a cloud metadata address"),
    ("http://169.254.170.2/v2/credentials", "a cloud metadata address"),
    ("http://100.100.100.200/latest/meta-data/", "a cloud metadata address"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata.google.internal is a cloud metadata host"),
    ("http://METADATA/computeMetadata/v1/", "metadata is a cloud metadata host name"),
    ("http://instance-data./latest/", "instance-data is a cloud metadata host name"),
    ("http://rebound.example.com/v1", "rebound.example.com resolves to 169.254.169.254, a cloud metadata address"),
])
def test_cloud_metadata_is_refused_in_every_spelling_whatever_the_setting(url, says):
    refusal = validators.address_refusal(url)

    assert refusal is not None and not refusal.allowable
    assert says in str(refusal)
    assert "credentials" in str(refusal)


@pytest.mark.parametrize("url, says", [
    ("http://169.254.10.20:11434", "169.254.10.20 is a link-local address"),
    ("http://[fe80::1]:11434", "fe80::1 is a link-local address"),
    ("http://[fe80::1%25eth0]:11434", "is fe80::1, a link-local address"),
    ("http://linklocal.example.com:11434", "linklocal.example.com resolves to fe80::1, a link-local address"),
    ("http://10.0.0.5:11434", "10.0.0.5 is a private-network address"),
    ("http://0x0a000005:11434", "0x0a000005 is 10.0.0.5, a private-network address"),
    ("http://172.16.3.4/v1", "172.16.3.4 is a private-network address"),
    ("http://192.168.1.20:11434", "192.168.1.20 is a private-network address"),
    ("http://[64:ff9b:1::a00:5]:11434", "64:ff9b:1::a00:5 is 10.0.0.5, a private-network address"),
    ("http://ollama.lan:11434", "ollama.lan resolves to 192.168.1.20, a private-network address"),
    ("http://[fd12:3456::1]:8000/v1", "fd12:3456::1 is a private-network address"),
    ("http://100.64.1.2:11434", "100.64.1.2 is not a public address"),
])
def test_private_and_link_local_addresses_are_refused_until_an_admin_allows_private_networks(url, says):
    refusal = validators.address_refusal(url)

    assert refusal is not None and refusal.allowable
    assert says in str(refusal)
    assert "unless an admin allows private networks" in str(refusal)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/v1", "http://127.8.9.10:11434", "http://[::1]:11434", "http://localhost:11434",
    "http://LOCALHOST./v1", "http://[::ffff:127.0.0.1]:8080/v1", "http://2130706433:8080/v1",
    "http://0.0.0.0:8080/v1",  # where llama-server says it listens; connecting to it reaches this machine
    "https://8.8.8.8/v1", "https://[2606:4700::1111]/v1", "https://api.example.com/v1",
])
def test_loopback_and_public_addresses_are_allowed(url):
    assert validators.address_refusal(url) is None


def test_a_name_that_does_not_resolve_is_left_to_the_call_which_fails_as_unreachable():
    assert validators.address_refusal("http://nowhere.invalid:11434") is None


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["http://10.0.0.5:11434", "http://169.254.10.20/v1", "http://[fe80::1]:11434",
                                 "http://ollama.lan:11434", "http://[fd12:3456::1]/v1"])
def test_the_setting_allows_private_and_link_local_addresses(url):
    with pytest.raises(ValidationError, match="unless an admin allows private networks"):
        validators.validate_api_base(url)

    allow_private_networks()

    validators.validate_api_base(url)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["http://169.254.169.254/", "http://[fd00:ec2::254]/",
                                 "http://metadata.google.internal/", "http://rebound.example.com/"])
def test_the_setting_never_allows_cloud_metadata(url):
    allow_private_networks()

    with pytest.raises(ValidationError, match="cloud metadata"):
        validators.validate_api_base(url)


@pytest.mark.django_db
def test_the_environment_pin_wins_over_the_setting(settings):
    settings.ALLOW_PRIVATE_NETWORKS_PIN = True
    validators.validate_api_base("http://192.168.1.20:11434")

    allow_private_networks()
    settings.ALLOW_PRIVATE_NETWORKS_PIN = False
    with pytest.raises(ValidationError):
        validators.validate_api_base("http://192.168.1.20:11434")


# ---- admin --------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("api_base, says", [
    ("http://169.254.169.254/", "169.254.169.254 is a cloud metadata address"),
    ("http://[::ffff:169.254.169.254]/", "is 169.254.169.254, a cloud metadata address"),
    ("http://metadata.google.internal/", "metadata.google.internal is a cloud metadata host name"),
    ("http://192.168.1.20:11434", "192.168.1.20 is a private-network address"),
])
def test_admin_refuses_a_provider_api_base_with_the_reason_on_the_field(admin_client, api_base, says):
    response = add_provider(admin_client, api_base=api_base)

    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["api_base"]
    assert says in error
    assert says in response.content.decode()
    assert not Provider.objects.filter(display_name="Local Ollama").exists()


@pytest.mark.django_db
def test_admin_refuses_a_model_api_base_whose_name_resolves_to_a_link_local_address(admin_client):
    provider = ProviderFactory(litellm_provider="ollama")

    response = admin_client.post("/admin/providers/llmmodel/add/", {
        "provider": provider.pk, "model_name": "mistral", "display_name": "Mistral", "pricing_tier": "free",
        "enabled": "on", "context_window": 8192, "extra_params": "{}", "api_key_env_var": "",
        "api_base": "http://linklocal.example.com:11434", **NO_FALLBACKS,
    })

    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["api_base"]
    assert "linklocal.example.com resolves to fe80::1, a link-local address" in error
    assert not LLMModel.objects.filter(model_name="mistral").exists()


@pytest.mark.django_db
def test_an_admin_allows_private_networks_and_then_adds_a_lan_ollama(admin_client):
    assert add_provider(admin_client, api_base="http://ollama.lan:11434").status_code == 200
    GatewaySetting.load()
    page = admin_client.get("/admin/providers/gatewaysetting/1/change/").content.decode()
    assert "Allow private networks" in page and "ARENA_ALLOW_PRIVATE_NETWORKS (wins when set)" in page
    assert admin_client.get("/admin/providers/gatewaysetting/").status_code == 200

    response = admin_client.post("/admin/providers/gatewaysetting/1/change/", {
        "backend": "litellm", "allow_private_networks": "on"})
    assert response.status_code == 302
    assert GatewaySetting.load().allow_private_networks is True

    assert add_provider(admin_client, api_base="http://ollama.lan:11434").status_code == 302
    assert Provider.objects.get(display_name="Local Ollama").api_base == "http://ollama.lan:11434"


@pytest.mark.django_db
def test_admin_accepts_loopback_whatever_the_setting(admin_client):
    assert add_provider(admin_client, api_base="http://127.0.0.1:11434").status_code == 302


# ---- call time ----------------------------------------------------------------------------------
@pytest.fixture
def row_at(model_on, openai_server):
    """row_at(api_base) -> a model row saved with that api_base without the form, as the orchestrator reads it."""

    def make(api_base: str) -> LLMModel:
        model = model_on("openai", openai_server, max_retries=2, timeout_seconds=3.0)
        LLMModel.objects.filter(pk=model.pk).update(api_base=api_base)
        return LLMModel.objects.with_answer_chain().get(pk=model.pk)

    return make


@pytest.fixture
def via_localhost(openai_server) -> str:
    """The fake server's URL by the name localhost, which the HTTP client resolves to it (127.0.0.1)."""
    return f"http://localhost:{urlsplit(openai_server.url).port}/v1"


@pytest.fixture(params=["send", "stream"])
def ask(request):
    async def send(model):
        return await answer(model, MESSAGES)

    async def stream(model):
        async for item in stream_answer(model, MESSAGES):
            if isinstance(item, Answer):
                return item
        raise AssertionError("the stream ended without an answer")

    return send if request.param == "send" else stream


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", ["litellm", "legacy"])
async def test_a_refused_api_base_fails_the_call_before_any_request(row_at, via_localhost, dns, openai_server, ask,
                                                                    backend, settings):
    settings.LLM_BACKEND_PIN = backend
    dns["localhost"] = ["169.254.169.254"]  # to the checker; the call itself would reach the fake server
    model = await database_sync_to_async(row_at)(via_localhost)

    with pytest.raises(LLMForbiddenAddressError) as error:
        await ask(model)

    assert error.value.kind == "forbidden_address" and error.value.retryable is False
    assert "localhost resolves to 169.254.169.254, a cloud metadata address" in str(error.value)
    assert openai_server.requests == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("pinned", [False, True], ids=["backend-from-the-row", "backend-pinned"])
async def test_a_private_address_is_called_once_an_admin_allows_private_networks(row_at, via_localhost, dns,
                                                                                  openai_server, ask, pinned,
                                                                                  settings):
    # A pinned backend with the chain fetched leaves the gateway no read of the setting: the check makes one.
    settings.LLM_BACKEND_PIN = "litellm" if pinned else ""
    dns["localhost"] = ["10.0.0.5"]
    model = await database_sync_to_async(row_at)(via_localhost)
    with pytest.raises(LLMForbiddenAddressError, match="10.0.0.5, a private-network address"):
        await ask(model)

    await database_sync_to_async(allow_private_networks)()
    reply = await ask(model)

    assert reply.model.pk == model.pk and reply.result.text
    assert len(openai_server.requests) == 1


@pytest.mark.django_db(transaction=True)
async def test_a_refused_model_hands_the_turn_to_its_fallback(row_at, via_localhost, dns, model_on, openai_server,
                                                              ask):
    dns["localhost"] = ["169.254.169.254"]

    def refused_with_a_fallback() -> tuple[LLMModel, LLMModel]:
        model = row_at(via_localhost)
        fallback = model_on("openai", openai_server, display_name="Fallback")
        ModelFallback.objects.create(model=model, fallback=fallback, position=1)
        return LLMModel.objects.with_answer_chain().get(pk=model.pk), fallback

    model, fallback = await database_sync_to_async(refused_with_a_fallback)()
    reply = await ask(model)

    assert reply.model.pk == fallback.pk
    assert "failed (forbidden address): refused before any request: localhost resolves to 169.254.169.254" \
        in reply.fallback_reason
    assert len(openai_server.requests) == 1


@pytest.mark.django_db(transaction=True)
async def test_preflight_names_the_refused_address_before_a_debate_starts(row_at, via_localhost, dns,
                                                                          openai_server):
    preflight.forget()
    model = await database_sync_to_async(row_at)(via_localhost)
    assert (await preflight.check_models([model]))[model.pk].ok  # remembered for a minute from here

    dns["localhost"] = ["169.254.169.254"]
    readiness = (await preflight.check_models([model]))[model.pk]

    assert readiness.problem.startswith("forbidden address: refused before any request: localhost resolves to "
                                        "169.254.169.254")
    assert len(openai_server.requests) == 1  # the first check's token, and nothing since
    preflight.forget()


@pytest.mark.django_db(transaction=True)
def test_test_connection_reports_the_refused_address_without_calling(row_at, via_localhost, dns, openai_server):
    dns["localhost"] = ["192.168.1.20"]
    model = row_at(via_localhost)

    result = connection_test.test_connection(model)

    assert result.ok is False
    assert result.error.startswith("forbidden_address: refused before any request: localhost resolves to "
                                   "192.168.1.20, a private-network address")
    assert openai_server.requests == []


@pytest.mark.django_db
def test_discovering_ollama_models_asks_no_refused_server(dns, ollama_server):
    dns["localhost"] = ["169.254.10.20"]
    provider = ProviderFactory(litellm_provider="ollama")
    Provider.objects.filter(pk=provider.pk).update(api_base=f"http://localhost:{urlsplit(ollama_server.url).port}")
    provider.refresh_from_db()

    with pytest.raises(OllamaDiscoveryError, match="localhost resolves to 169.254.10.20, a link-local address"):
        discover_ollama_models(provider)
    assert ollama_server.requests == []

    allow_private_networks()
    assert "added" in str(discover_ollama_models(provider))
    assert [request.path for request in ollama_server.requests] == ["/api/tags"]


@pytest.mark.parametrize(("url", "looked_up"), [
    ("http://127.0.0.1:8080/v1", False), ("http://[::1]:11434", False), ("http://2130706433/", False),
    ("http://metadata/computeMetadata", False), ("http://localhost:8080", True), ("https://api.example.com", True),
    ("", False),
])
def test_only_a_host_name_is_looked_up_an_address_is_checked_on_the_spot(url, looked_up):
    from providers.validators import needs_resolving

    assert needs_resolving(url) is looked_up


# ---- when the client connects: DNS rebinding ----------------------------------------------------------------
@pytest.fixture
def client_dns(monkeypatch) -> dict[str, str]:
    """What the HTTP clients' resolver answers for a name (socket.getaddrinfo, which aiohttp's resolver asks), apart
    from the checker's table above: a name that passes the check and then resolves elsewhere."""
    table: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (table[host], port or 0))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", ["litellm", "legacy"])
@pytest.mark.parametrize("address, private_networks, says", [
    ("10.0.0.7", False, "resolves to 10.0.0.7, a private-network address"),
    ("169.254.169.254", True, "resolves to 169.254.169.254, a cloud metadata address"),
])
async def test_a_name_that_resolves_elsewhere_when_the_client_connects_is_refused_then(
        row_at, openai_server, dns, client_dns, ask, address, private_networks, says, backend, settings):
    settings.LLM_BACKEND_PIN = backend
    port = urlsplit(openai_server.url).port
    dns["rebinding.example.com"] = ["93.184.215.14"]  # what the check before the call sees: a public address
    client_dns["rebinding.example.com"] = address  # and what the client's own lookup gets a moment later
    await database_sync_to_async(allow_private_networks)(private_networks)
    model = await database_sync_to_async(row_at)(f"http://rebinding.example.com:{port}/v1")

    with pytest.raises(LLMForbiddenAddressError) as error:
        await ask(model)

    assert f"refused when connecting: rebinding.example.com {says}" in str(error.value)
    assert error.value.retryable is False and openai_server.requests == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", ["litellm", "legacy"])
async def test_a_name_the_client_resolves_to_loopback_is_called(row_at, openai_server, dns, client_dns, ask,
                                                                backend, settings):
    settings.LLM_BACKEND_PIN = backend
    port = urlsplit(openai_server.url).port
    dns["moved.example.com"] = ["93.184.215.14"]
    client_dns["moved.example.com"] = "127.0.0.1"  # the fake server: the client connects where its lookup says
    model = await database_sync_to_async(row_at)(f"http://moved.example.com:{port}/v1")

    reply = await ask(model)

    assert reply.result.text and len(openai_server.requests) == 1
