"""A model row's extra LiteLLM parameters: passed to every call, so they may not set what the row's own fields set
(a `base_url` went around the API base check), hold a secret, or be anything but an object. Admin says so on the
form; a row saved before the check fails its calls with that reason, and nothing is sent."""
import asyncio
import json

import pytest

from providers import connection_test
from providers.llm.errors import LLMConfigurationError
from providers.models import LLMModel
from providers.tests.servers import FakeOpenAIServer
from providers.tests.streaming import gateway_answer as ask
from providers.tests.test_admin import NO_FALLBACKS

pytestmark = pytest.mark.django_db(transaction=True)


def add_model(admin_client, provider, extra_params: str):
    return admin_client.post("/admin/providers/llmmodel/add/", {
        "provider": provider.pk, "model_name": "checked", "display_name": "Checked", "pricing_tier": "free",
        "enabled": "on", "context_window": 8192, "extra_params": extra_params, **NO_FALLBACKS})


@pytest.mark.parametrize(("extra_params", "said"), [
    ('{"base_url": "http://169.254.169.254/"}', "base_url: set by the row&#x27;s own fields"),
    ('{"api_key": "sk-live-123", "top_p": 0.9}', "api_key: set by the row&#x27;s own fields"),
    ('{"stream": true}', "stream: set by the row&#x27;s own fields"),
    ('{"mock_response": "I win."}', "mock_response: set by the row&#x27;s own fields"),
    ('{"aws_secret_access_key": "abc"}', "aws_secret_access_key: would keep a secret in the database"),
    ('{"extra_headers": {"Authorization": "Bearer sk-1"}}', "the Authorization header: would keep a secret"),
    ('["top_p", 0.9]', "Enter a JSON object of parameter names and values"),
    ("0.9", "Enter a JSON object of parameter names and values"),
])
def test_admin_refuses_extra_parameters_that_a_call_cannot_take(admin_client, model_on, openai_server,
                                                               extra_params, said):
    provider = model_on("openai", openai_server).provider

    response = add_model(admin_client, provider, extra_params)

    assert response.status_code == 200 and said in response.content.decode()
    assert not LLMModel.objects.filter(model_name="checked").exists()


def test_admin_keeps_ordinary_sampling_parameters(admin_client, model_on, openai_server):
    provider = model_on("openai", openai_server).provider
    extra = {"top_p": 0.9, "max_tokens": 50, "stop": ["\n\n"], "extra_headers": {"X-Trace": "debates"}}

    response = add_model(admin_client, provider, json.dumps(extra))

    assert response.status_code == 302
    assert LLMModel.objects.get(model_name="checked").extra_params == extra


@pytest.mark.parametrize("mode", ["send", "stream"])
@pytest.mark.parametrize("route", ["openai", "hosted_vllm"])
def test_a_row_saved_with_a_base_url_before_the_check_sends_nothing_anywhere(model_on, openai_server, route, mode):
    with FakeOpenAIServer() as elsewhere:
        row = model_on(route, openai_server, model_name="redirected")
        LLMModel.objects.filter(pk=row.pk).update(extra_params={"base_url": elsewhere.url + "/v1"})
        row = LLMModel.objects.select_related("provider").get(pk=row.pk)

        with pytest.raises(LLMConfigurationError, match="extra parameters cannot be used: base_url: set by"):
            asyncio.run(ask(row, mode))

        assert elsewhere.requests == [] and openai_server.requests == []


def test_test_connection_names_a_row_whose_extra_parameters_are_not_an_object(model_on, openai_server):
    row = model_on("openai", openai_server)
    LLMModel.objects.filter(pk=row.pk).update(extra_params=["top_p", 0.9])

    result = connection_test.test_connection(LLMModel.objects.select_related("provider").get(pk=row.pk))

    assert result.ok is False and "Enter a JSON object of parameter names and values" in result.error
    assert openai_server.requests == []


def test_a_factory_row_with_sampling_parameters_still_answers(model_on, openai_server):
    openai_server.responder = lambda body: f"top_p was {body.get('top_p')}"
    row = model_on("openai", openai_server)
    LLMModel.objects.filter(pk=row.pk).update(extra_params={"top_p": 0.5})

    answer = asyncio.run(ask(LLMModel.objects.select_related("provider").get(pk=row.pk), "send"))

    assert answer.result.text == "top_p was 0.5"
