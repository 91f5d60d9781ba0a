"""Stdlib-only fake LLM servers speaking real wire protocols, for tests."""

from .anthropic import FakeAnthropicServer
from .base import FakeLLMServer, RecordedRequest
from .ollama import FakeOllamaServer
from .ollama_relay import OllamaRelayServer
from .openai import FakeOpenAIServer

__all__ = ["FakeAnthropicServer", "FakeLLMServer", "FakeOllamaServer", "FakeOpenAIServer", "OllamaRelayServer",
           "RecordedRequest"]


def closed_port_server():
    """A "server" at a loopback port where nothing listens: every connection to it is refused."""
    import socket
    from types import SimpleNamespace

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return SimpleNamespace(url=f"http://127.0.0.1:{port}")  # the port is free again once the probe closes
