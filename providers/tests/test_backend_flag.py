"""The rollback flag: one command moves every running process to the legacy clients and back."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

from providers.llm.factory import aclient_for, client_for
from providers.llm.litellm_client import LiteLLMClient
from providers.llm.openai_client import OpenAIClient
from providers.tests.subprocess_env import current_database_url

ROOT = Path(__file__).resolve().parents[2]


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
