"""One tiny real call to a catalog model, the way an admin checks that its row works."""
from dataclasses import dataclass

from asgiref.sync import async_to_sync

from providers.llm.base import CallSettings
from providers.llm.errors import LLMError, redact
from providers.llm.factory import client_for
from providers.models import LLMModel

PROMPT = [{"role": "user", "content": "Say OK."}]
TIMEOUT_SECONDS = 20.0  # an admin waits on the page, not the two minutes a debate turn may take


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    latency_ms: int | None
    error: str = ""
    reply: str = ""


def test_connection(model: LLMModel) -> CheckResult:
    """Call the model once through the gateway and record the outcome on its row."""
    try:
        client = client_for(model)
        client.settings = CallSettings(timeout=TIMEOUT_SECONDS, first_chunk_timeout=TIMEOUT_SECONDS)
        _warm_up(client)
        answer = async_to_sync(client.send_message)(PROMPT, max_tokens=5)
    except LLMError as exc:
        result = CheckResult(ok=False, latency_ms=None, error=describe(exc, model))
    else:
        result = CheckResult(ok=True, latency_ms=answer.latency_ms, reply=answer.text)
    model.record_check(ok=result.ok, latency_ms=result.latency_ms, error=result.error)
    return result


test_connection.__test__ = False  # pytest would collect it from any test module that imports it


def describe(error: LLMError, model: LLMModel) -> str:
    status = f" (HTTP {error.status_code})" if error.status_code else ""
    # The gateway already redacts the key; a second pass costs nothing and this text reaches a page.
    return f"{error.kind}{status}: {redact(error.message, model.read_api_key())}"


def _warm_up(client: object) -> None:
    """Import LiteLLM before the clock starts: its first import takes seconds that are not the model's."""
    from providers.llm.litellm_client import LiteLLMClient, load_litellm

    if isinstance(client, LiteLLMClient):
        load_litellm()
