"""An admin tests a model's connection from the model list: one tiny real call, recorded on the row."""
import pytest

from conftest import PROVIDER_KEY

pytestmark = pytest.mark.django_db


def check(admin_client, *models):
    response = admin_client.post("/admin/providers/llmmodel/", {
        "action": "test_connection", "_selected_action": [model.pk for model in models],
    }, follow=True)
    assert response.status_code == 200
    return [(message.level_tag, message.message) for message in response.context["messages"]], response


def test_it_records_a_working_model_and_shows_it_in_the_list(admin_client, model_on, openai_server):
    model = model_on("openai", openai_server, display_name="Fake GPT")
    openai_server.enqueue_reply("OK")

    [(level, message)], page = check(admin_client, model)

    model.refresh_from_db()
    assert level == "success"
    assert message == f"{model}: answered in {model.last_check_latency_ms} ms"
    assert model.last_check_ok is True and model.last_check_latency_ms is not None
    assert model.last_check_error == "" and model.last_checked_at is not None
    assert openai_server.requests[-1].body["max_tokens"] == 5
    assert openai_server.requests[-1].body["messages"] == [{"role": "user", "content": "Say OK."}]
    assert 'alt="True"' in page.content.decode()  # the list page the admin lands on shows the tick


def test_it_records_a_rejected_key_without_showing_the_key(admin_client, model_on, openai_server):
    model = model_on("openai", openai_server, display_name="Fake GPT")
    openai_server.enqueue_error(401, message=f"Incorrect API key provided: {PROVIDER_KEY}")

    [(level, message)], page = check(admin_client, model)

    model.refresh_from_db()
    assert level == "error"
    assert message.startswith(f"{model}: authentication (HTTP 401): ")
    assert "Incorrect API key provided" in message
    assert (model.last_check_ok, model.last_check_latency_ms) == (False, None)
    assert model.last_check_error.startswith("authentication (HTTP 401): ")
    listing = page.content.decode()
    assert 'alt="False"' in listing and "authentication (HTTP 401)" in listing
    assert PROVIDER_KEY not in listing and PROVIDER_KEY not in model.last_check_error


def test_it_reports_each_selected_model(admin_client, model_on, openai_server, monkeypatch):
    working = model_on("openai", openai_server, display_name="Working")
    keyless = model_on("openai", openai_server, display_name="Keyless", api_key_env_var="MISSING_TEST_KEY")
    monkeypatch.delenv("MISSING_TEST_KEY", raising=False)

    messages, _ = check(admin_client, working, keyless)

    assert ("success", f"{working}: answered in {_latency(working)} ms") in messages
    assert ("error", f"{keyless}: configuration: the environment variable MISSING_TEST_KEY that should hold "
                     "the API key is not set") in messages


def test_it_checks_the_local_model_for_real(admin_client, local_model):
    [(level, message)], _ = check(admin_client, local_model)

    local_model.refresh_from_db()
    assert level == "success", message
    assert local_model.last_check_ok is True


def _latency(model) -> int:
    model.refresh_from_db()
    return model.last_check_latency_ms

