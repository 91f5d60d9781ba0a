"""Budgets: a debate with one never starts a call that could take its spend past it.

Before each turn and each of the judge's calls, the runner asks what the call could cost at worst: its prompt
(estimated as the prompts are trimmed, debates.prompts.estimate_tokens) plus its whole `max_tokens`, at the
prices of the dearest row that may answer it (the model or one of its fallbacks). A debate that cannot be priced
cannot keep a budget, so it is refused one.
"""
from providers.llm.base import Message
from providers.llm.pricing import call_cost
from providers.models import LLMModel

from debates.prompts import estimate_tokens

BUDGET_REACHED = "Budget reached"
MESSAGE_OVERHEAD_TOKENS = 4  # the role and separators a chat template wraps round each message


class OverBudget(Exception):
    """The next call could pass the budget; the message is the reason the debate stops with."""


def prompt_tokens(messages: list[Message]) -> int:
    return sum(estimate_tokens(message["content"]) + MESSAGE_OVERHEAD_TOKENS for message in messages)


def worst_case_cost(chain: list[LLMModel], prompt: int, max_tokens: int) -> float | None:
    """The most one call may cost: every row that may answer it, at a full answer; None when one has no price."""
    costs = [call_cost(model, prompt, max_tokens) for model in chain]
    return None if None in costs else max(costs)


def unpriced(models: list[LLMModel]) -> list[LLMModel]:
    """The rows LiteLLM's price data does not know (free and local rows cost 0 and always count as priced)."""
    return [model for model in models if call_cost(model, 1, 1) is None]


def unpriced_problem(models: list[LLMModel]) -> str:
    """Why a budget cannot be kept with these rows, or "" when it can."""
    names = sorted({model.litellm_model_name for model in unpriced(models)})
    if not names:
        return ""
    return (f"{', '.join(names)} cannot be priced from LiteLLM's price data, so a budget cannot be kept; remove "
            "the budget, or choose priced models (or mark a free one's pricing tier Free).")


def check(*, budget: float | None, spent: float, worst: float | None, what: str, chain: list[LLMModel]) -> None:
    """Raise OverBudget when `what` (for example "Ada's turn in round 2") could pass the budget."""
    if budget is None:
        return
    if worst is None:
        raise OverBudget(f"{BUDGET_REACHED}: {unpriced_problem(chain)}")
    if spent + worst > budget:
        raise OverBudget(f"{BUDGET_REACHED}: ${spent:.4f} of the ${budget:.4f} budget is spent, and {what} could "
                         f"cost up to ${worst:.4f}. Raise the budget and resume to carry on.")
