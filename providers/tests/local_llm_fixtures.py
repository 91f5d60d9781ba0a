"""Fixtures for the local-model tests: the real llama.cpp server with Gemma 3 270M, and an Ollama relay to it.

The model and the server are installed by `make local-model` (CI runs it). When they are missing these
tests fail and say so: a skipped test would hide that the local model was never exercised.
"""
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import override_settings

from providers import local_llm
from providers.models import LLMModel
from providers.tests.servers import OllamaRelayServer


@dataclass(frozen=True)
class LocalLLMServer:
    port: int
    var_dir: Path

    @property
    def url(self) -> str:
        return f"http://{local_llm.HOST}:{self.port}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_var_dir(path: Path, model_file: Path) -> Path:
    """A var dir of its own whose model is a link to the shared file (250 MB is not worth copying)."""
    (path / "models").mkdir(parents=True, exist_ok=True)
    link = path / "models" / local_llm.MODEL_FILE_NAME
    if not link.exists():
        link.symlink_to(model_file)
    return path


@pytest.fixture(scope="session")
def local_llm_model_file() -> Path:
    """The gguf in the project's var dir, built once (as `make local-model` does) and shared."""
    try:
        local_llm.binary_path()
        return local_llm.build_model_file()
    except local_llm.LocalLLMError as exc:
        pytest.fail(f"the local model is not installed: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def local_llm_server(tmp_path_factory, local_llm_model_file) -> Iterator[LocalLLMServer]:
    """The real llama-server, started once per test session on a free port with its own var dir."""
    server = LocalLLMServer(port=free_port(),
                            var_dir=make_var_dir(tmp_path_factory.mktemp("local-llm"), local_llm_model_file))
    with override_settings(VAR_DIR=server.var_dir):
        try:
            local_llm.start(server.port)
        except local_llm.LocalLLMError as exc:
            pytest.fail(str(exc), pytrace=False)
    yield server
    with override_settings(VAR_DIR=server.var_dir):
        local_llm.stop()


@pytest.fixture
def local_var_dir(tmp_path, settings, local_llm_model_file) -> Path:
    """settings.VAR_DIR for one test, for tests that start and stop a server of their own."""
    settings.VAR_DIR = make_var_dir(tmp_path / "var", local_llm_model_file)
    yield settings.VAR_DIR
    local_llm.stop()  # whatever the test left running


@pytest.fixture
def local_model(db, local_llm_server) -> LLMModel:
    """The catalog row `manage.py local_llm start` registers, pointing at the session's server."""
    return local_llm.register_in_catalog(local_llm_server.port)


@pytest.fixture
def ollama_relay(local_llm_server) -> Iterator[OllamaRelayServer]:
    """An Ollama server whose replies come from the real local model."""
    with OllamaRelayServer(local_llm_server.url) as relay:
        yield relay
