"""The rollback flag: which backend makes LLM calls. Imports no SDK, so commands stay fast.

The choice lives in the database so that every running process follows a change on its
next call; ARENA_LLM_BACKEND pins it at deploy time and then wins over the database. A debate
reads it with each turn's model row (LLMModel.objects.with_answer_chain()), so a change applies
from its next turn without a query of the gateway's own.
"""
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from providers.models import Backend, GatewaySetting


@dataclass(frozen=True)
class BackendState:
    backend: str
    pinned: bool  # True when ARENA_LLM_BACKEND decides, whatever the database says
    stored: str  # what the database says


def pinned_backend() -> str | None:
    pin = settings.LLM_BACKEND_PIN.strip().lower()
    if pin and pin not in Backend.values:
        raise ImproperlyConfigured(f"ARENA_LLM_BACKEND must be one of {', '.join(Backend.values)}, not {pin!r}")
    return pin or None


def backend_state() -> BackendState:
    stored = GatewaySetting.load().backend
    pin = pinned_backend()
    return BackendState(backend=pin or stored, pinned=pin is not None, stored=stored)


def current_backend() -> str:
    return pinned_backend() or GatewaySetting.load().backend


async def acurrent_backend() -> str:
    pin = pinned_backend()
    if pin:
        return pin
    row, _ = await GatewaySetting.objects.aget_or_create(pk=1)
    return row.backend


def set_backend(backend: str) -> GatewaySetting:
    if backend not in Backend.values:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(Backend.values)}")
    row = GatewaySetting.load()
    row.backend = backend
    row.save()
    return row
