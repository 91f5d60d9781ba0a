"""What a call cost, from LiteLLM's bundled price list; free and local models cost exactly 0, and nothing here
ever reaches the network (for some `ollama_chat/` names LiteLLM's own lookup posts to localhost:11434/api/show,
whatever the row's api_base: a free row never asks it)."""
import functools
import importlib.util
import json
from pathlib import Path

from providers.models import LLMModel

# LiteLLM takes these per call (every free row's), and in its price map (Ollama rows': register_zero_prices): its
# own bookkeeping (cost logging, streamed usage, model info) then finds the model priced at 0 and never looks it
# up (for Ollama names: by a POST to /api/show).
ZERO_PRICES = {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0}
_registered: set[str] = set()
# Names LiteLLM cannot price. Its map changes only by register_zero_prices, for Ollama names, which only free rows
# have (call_cost never looks them up), so the answer holds for the process; finding it out walks LiteLLM's name
# generalizations, 0.1 ms or more at every call of such a row.
_unpriced: set[str] = set()
_listed: set[str] = set()  # names LiteLLM can price


def register_zero_prices(litellm: object, model_name: str) -> None:
    """Put an Ollama model in LiteLLM's price map at 0, once per process and model name. Written into the
    map directly: `litellm.register_model` first looks the model up itself, and for an Ollama name that lookup is
    the very request to OLLAMA_API_BASE (or localhost:11434) /api/show this avoids."""
    if model_name in _registered:
        return
    provider = model_name.split("/", 1)[0]
    litellm.model_cost[model_name] = {**ZERO_PRICES, "litellm_provider": provider, "mode": "chat"}
    _registered.add(model_name)


def call_cost(model: LLMModel, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
    """USD for these tokens at the row's prices; None (unknown, never 0) when the tokens or the price are unknown."""
    if model.costs_nothing:
        return 0.0
    name = model.litellm_model_name
    if prompt_tokens is None or completion_tokens is None or litellm_cannot_price(name):
        return None
    from providers.llm.litellm_client import load_litellm  # prices ship with LiteLLM; the import is lazy

    try:
        prompt_cost, completion_cost = load_litellm().cost_per_token(
            model=name, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    except Exception:  # noqa: BLE001 - LiteLLM raises several kinds for a model it cannot price these tokens at
        return None
    return prompt_cost + completion_cost


def litellm_cannot_price(name: str) -> bool:
    """True when LiteLLM's price map has no price for this name: found out once per process and name."""
    if name in _unpriced:
        return True
    if name not in _listed:
        (_listed if _priced(name) else _unpriced).add(name)
    return name in _unpriced


def _priced(name: str) -> bool:
    from providers.llm.litellm_client import load_litellm

    try:
        load_litellm().cost_per_token(model=name, prompt_tokens=1, completion_tokens=1)
    except Exception:  # noqa: BLE001
        return False
    return True


def listed_price(model: LLMModel) -> tuple[float, float] | None:
    """USD per input and per output token that LiteLLM's bundled price list gives the row's model, or None when it
    lists none. Read from the file LiteLLM ships: importing LiteLLM takes seconds an admin page need not wait, and
    its live map holds the zero prices written above for free rows."""
    for name in (model.litellm_model_name, model.model_name):
        entry = _bundled_prices().get(name)
        if entry and (entry.get("input_cost_per_token") is not None or entry.get("output_cost_per_token") is not None):
            return float(entry.get("input_cost_per_token") or 0.0), float(entry.get("output_cost_per_token") or 0.0)
    return None


@functools.cache
def _bundled_prices() -> dict:
    spec = importlib.util.find_spec("litellm")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "model_prices_and_context_window_backup.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
