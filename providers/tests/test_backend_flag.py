"""The rollback flag: one command moves every running process to the legacy clients and back."""
import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from asgiref.sync import SyncToAsync
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from providers.llm import gateway
from providers.llm.factory import aclient_for, client_for
from providers.llm.litellm_client import LiteLLMClient
from providers.llm.openai_client import OpenAIClient
from providers.models import GatewaySetting, LLMModel, ModelFallback, Provider
from providers.tests.factories import LLMModelFactory
from providers.tests.subprocess_env import current_database_url

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = [{"role": "user", "content": "hi"}]


def manage(*args: str) -> str:
    """Run a management command in its own process, as an operator would, against the test database."""
    env = {**os.environ, "DATABASE_URL": current_database_url()}
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout


@pytest.mark.django_db(transaction=True)
async def test_the_next_call_in_a_running_process_follows_the_command(model_on, openai_server):
    model = await _model(model_on, openai_server)
    first = await (await aclient_for(model)).send_message([{"role": "user", "content": "hi"}])

    manage("llm_backend", "legacy")
    second = await (await aclient_for(model)).send_message([{"role": "user", "content": "hi"}])

    manage("llm_backend", "litellm")
    third = await (await aclient_for(model)).send_message([{"role": "user", "content": "hi"}])

    assert [first.backend, second.backend, third.backend] == ["litellm", "legacy", "litellm"]
    assert len(openai_server.requests) == 3


async def _model(model_on, server):
    from channels.db import database_sync_to_async

    return await database_sync_to_async(lambda: _with_provider(model_on("openai", server)))()


def _with_provider(model):
    model.provider  # load the provider while in a sync context  # noqa: B018
    return model


@pytest.mark.django_db(transaction=True)
def test_status_reports_the_backend_and_whether_it_is_pinned():
    assert "backend: litellm" in manage("llm_backend", "status")
    assert "backend: legacy" in manage("llm_backend", "legacy")

    env_pinned = subprocess.run(
        [sys.executable, "manage.py", "llm_backend", "status"], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "ARENA_LLM_BACKEND": "litellm",
             "DATABASE_URL": current_database_url()}, check=True,
    ).stdout
    assert "backend: litellm" in env_pinned
    assert "pinned by ARENA_LLM_BACKEND" in env_pinned


@pytest.mark.django_db
def test_a_pin_wins_over_the_database(model_on, openai_server):
    model = model_on("openai", openai_server)
    call_command("llm_backend", "legacy")
    assert isinstance(client_for(model), OpenAIClient)

    with override_settings(LLM_BACKEND_PIN="litellm"):
        assert isinstance(client_for(model), LiteLLMClient)


@pytest.mark.django_db(transaction=True)  # committed: the command reads the database from its own process
def test_the_command_does_not_import_litellm():
    env = {**os.environ, "DATABASE_URL": current_database_url()}
    done = subprocess.run([sys.executable, "-X", "importtime", "manage.py", "llm_backend", "status"], cwd=ROOT,
                          env=env, capture_output=True, text=True, check=True)

    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "django" in imported  # the probe works
    assert not imported & {"litellm", "openai", "anthropic"}


# ---- a turn's row brings the flag with it -------------------------------------------------------------------
async def _ask(row: LLMModel, mode: str) -> gateway.Answer:
    """The call as a judge (send) or a debate turn (stream) makes it."""
    if mode == "send":
        return await gateway.answer(row, MESSAGES)
    async for item in gateway.stream_answer(row, MESSAGES):
        if isinstance(item, gateway.Answer):
            return item
    raise AssertionError("the stream ended without an answer")


def _count_thread_trips(monkeypatch) -> list:
    """Every sync_to_async call from now on (database_sync_to_async is one), whoever makes it."""
    trips = []
    real_call = SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        trips.append(self.func)
        return await real_call(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counted)
    return trips


@pytest.mark.parametrize("mode", ["send", "stream"])
@pytest.mark.django_db
def test_a_turns_row_answers_with_the_flag_read_with_it_and_the_call_reads_nothing(model_on, openai_server, mode,
                                                                                  django_db_blocker, monkeypatch):
    model = model_on("openai", openai_server)
    call_command("llm_backend", "legacy")
    row = LLMModel.objects.with_answer_chain().get(pk=model.pk)  # as the orchestrator reads each turn's model
    call_command("llm_backend", "litellm")  # after the read: this turn keeps what it read
    trips = _count_thread_trips(monkeypatch)

    with django_db_blocker.block():  # a query from any thread now raises
        answer = asyncio.run(_ask(row, mode))

    assert answer.result.backend == "legacy"
    assert trips == []
    assert len(openai_server.requests) == 1


@pytest.mark.django_db(transaction=True)  # committed: the command writes the flag from its own process
async def test_a_rollback_between_two_turns_applies_to_the_second(model_on, openai_server):
    model = await _model(model_on, openai_server)
    first = await gateway.answer(await LLMModel.objects.with_answer_chain().aget(pk=model.pk), MESSAGES)

    manage("llm_backend", "legacy")
    second = await gateway.answer(await LLMModel.objects.with_answer_chain().aget(pk=model.pk), MESSAGES)

    assert [first.result.backend, second.result.backend] == ["litellm", "legacy"]
    assert len(openai_server.requests) == 2


@pytest.mark.django_db(transaction=True)
async def test_a_row_read_without_its_chain_follows_the_flag_on_every_call(model_on, openai_server):
    model = await _model(model_on, openai_server)
    first = await gateway.answer(model, MESSAGES)

    manage("llm_backend", "legacy")
    second = await gateway.answer(model, MESSAGES)  # the same row object: the gateway reads the flag itself

    assert [first.result.backend, second.result.backend] == ["litellm", "legacy"]


@pytest.mark.django_db
def test_a_pin_wins_over_the_flag_read_with_the_row(model_on, openai_server):
    model = model_on("openai", openai_server)
    call_command("llm_backend", "legacy")
    row = LLMModel.objects.with_answer_chain().get(pk=model.pk)

    with override_settings(LLM_BACKEND_PIN="litellm"):
        answer = asyncio.run(gateway.answer(row, MESSAGES))

    assert answer.result.backend == "litellm"


@pytest.mark.django_db
def test_before_the_flag_is_ever_set_a_row_reads_the_default_and_creates_nothing(model_on, openai_server):
    model = model_on("openai", openai_server)

    row = LLMModel.objects.with_answer_chain().get(pk=model.pk)

    assert row.fetched_backend == "litellm"
    assert not GatewaySetting.objects.exists()  # reading the flag never writes it
    assert GatewaySetting.load().backend == row.fetched_backend  # what load() would have created
    assert LLMModel.objects.get(pk=model.pk).fetched_backend is None  # any other read: the gateway reads it itself


@pytest.mark.django_db
def test_a_turns_read_of_its_row_brings_the_flag_and_only_the_usable_fallbacks(django_assert_num_queries):
    """get_with_answer_chain, read at every turn, gives what with_answer_chain gives, in one query without fallbacks."""
    model, backup, off = LLMModelFactory(), LLMModelFactory(), LLMModelFactory(enabled=False)

    with django_assert_num_queries(1):
        alone = LLMModel.objects.get_with_answer_chain(backup.pk)
    assert alone.fetched_backend == "litellm" and alone.answer_chain() == [backup]  # no flag row yet: the default

    ModelFallback.objects.create(model=model, fallback=off, position=1)
    ModelFallback.objects.create(model=model, fallback=backup, position=2)
    call_command("llm_backend", "legacy")
    row = LLMModel.objects.get_with_answer_chain(model.pk)

    assert row.fetched_backend == "legacy"
    assert row.answer_chain() == [model, backup]  # the disabled fallback is skipped
    with_chain = LLMModel.objects.with_answer_chain().get(pk=model.pk)
    assert (with_chain.fetched_backend, with_chain.answer_chain()) == (row.fetched_backend, row.answer_chain())


@pytest.mark.django_db
def test_a_turns_read_of_its_row_gives_every_field_as_the_orm_reads_it():
    """Its SQL is written by hand: each value must come back as the model holds it (JSON, times, empty booleans)."""
    model = LLMModelFactory(extra_params={"top_p": 0.9, "stop": ["\n\n"]}, structured_output=None,
                            timeout_seconds=12.5, max_retries=1, last_check_ok=False, last_check_latency_ms=40,
                            last_checked_at=timezone.now(), last_check_error="refused")

    row, orm = LLMModel.objects.get_with_answer_chain(model.pk), LLMModel.objects.select_related("provider").get(
        pk=model.pk)

    for field in LLMModel._meta.concrete_fields:
        assert getattr(row, field.attname) == getattr(orm, field.attname), field.name
    for field in Provider._meta.concrete_fields:
        assert getattr(row.provider, field.attname) == getattr(orm.provider, field.attname), field.name
    assert row.extra_params["stop"] == ["\n\n"] and row.structured_output is None and row.last_check_ok is False
    assert row.has_fallbacks is False and not row._state.adding and row.provider.pk == model.provider_id
    with pytest.raises(LLMModel.DoesNotExist):
        LLMModel.objects.get_with_answer_chain(model.pk + 1000)
