"""Stdlib-only fake LLM servers speaking real wire protocols, for tests."""

from .anthropic import FakeAnthropicServer
from .base import FakeLLMServer, RecordedRequest
from .ollama import FakeOllamaServer
from .ollama_relay import OllamaRelayServer
from .openai import FakeOpenAIServer

__all__ = ["FakeAnthropicServer", "FakeLLMServer", "FakeOllamaServer", "FakeOpenAIServer", "OllamaRelayServer",
           "RecordedRequest"]
