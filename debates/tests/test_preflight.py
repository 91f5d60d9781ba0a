"""Pre-flight: a debate whose models cannot answer never starts, and says which seat and why, before anything is
spent; models that can answer are asked once (one token), in parallel, and not again for a minute."""
import os
import subprocess
import sys
import time

import pytest

from debates.models import Debate, DebateStatus, Turn
from debates.tests.test_api import assert_error, make_debate
from providers import preflight
from providers.models import ModelFallback
from providers.tests.servers import FakeAnthropicServer, closed_port_server
from providers.tests.subprocess_env import current_database_url

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_memory():
    preflight.forget()
    yield
    preflight.forget()


def debate_with(api, seat_models, judge):
    debate = make_debate(api.user, judge)
    for seat, model in zip(debate.seats.order_by("position"), seat_models):
        seat.model = model
        seat.save()
    return debate


def test_a_seat_whose_key_is_unset_stops_the_start_naming_the_seat(api, launched, model_on, openai_server,
                                                                   monkeypatch):
    ready = model_on("openai", openai_server, display_name="Ready")
    keyless = model_on("openai", openai_server, display_name="Keyless",
                       api_key_env_var="UNSET_KEY_FOR_PREFLIGHT")
    monkeypatch.delenv("UNSET_KEY_FOR_PREFLIGHT", raising=False)
    debate = debate_with(api, [ready, keyless], judge=ready)

    response = api.post(f"/api/debates/{debate.pk}/start")

    assert_error(response, 422, "validation_error", {"seats.1.model_id": ""})
    problem = response.json()["errors"]["seats.1.model_id"][0]
    assert "Keyless cannot answer" in problem and "UNSET_KEY_FOR_PREFLIGHT" in problem
    assert "seat 2" in response.json()["detail"] and "Nothing was spent" in response.json()["detail"]
    debate.refresh_from_db()
    assert debate.status == DebateStatus.DRAFT and launched == [] and not Turn.objects.exists()


def test_an_unreachable_judge_stops_the_start_and_a_reachable_one_lets_it_go(api, launched, model_on, openai_server):
    seat = model_on("openai", openai_server, display_name="Seat model")
    down = model_on("openai", closed_port_server(), display_name="Down judge")
    debate = debate_with(api, [seat, seat], judge=down)
    debate.judge_model = down
    debate.save()

    response = api.post(f"/api/debates/{debate.pk}/start")

    assert_error(response, 422, "validation_error", {"judge_model_id": ""})
    assert "Down judge cannot judge: unreachable" in response.json()["errors"]["judge_model_id"][0]
    assert launched == []
    ModelFallback.objects.create(model=down, fallback=seat)  # a judge with a working fallback can start
    assert api.post(f"/api/debates/{debate.pk}/start").status_code == 202
    assert launched == [debate.pk]


def test_models_are_checked_once_in_parallel_and_remembered_for_a_minute(api, launched, model_on, openai_server):
    with FakeAnthropicServer() as slow:
        openai_server.chunk_delay = slow.chunk_delay = 0
        seat = model_on("openai", openai_server, display_name="Seat model")
        judge = model_on("anthropic", slow, display_name="Judge model")
        slow.enqueue_hang(seconds=1.0)  # the judge's check takes a second...
        first, second = debate_with(api, [seat, seat], judge), debate_with(api, [seat, seat], judge)
        began = time.monotonic()
        assert api.post(f"/api/debates/{first.pk}/start").status_code == 202
        took = time.monotonic() - began
        assert api.post(f"/api/debates/{second.pk}/start").status_code == 202

        # ...and the seat's model was checked beside it, once for both debates (one model, two seats).
        assert len(openai_server.requests) == 1 and len(slow.requests) == 1
        assert 1.0 <= took < 1.9
    assert launched == [first.pk, second.pk]


def test_run_debate_refuses_before_creating_anything(model_on, openai_server):
    down = model_on("openai", closed_port_server(), display_name="Down")
    ready = model_on("openai", openai_server, display_name="Ready")
    env = {**os.environ, "DATABASE_URL": current_database_url()}

    done = subprocess.run([sys.executable, "manage.py", "run_debate", "--topic", "Nope", "--seat", f"{ready.pk}:for",
                           "--seat", f"{down.pk}:against", "--judge", str(ready.pk), "--rounds", "1"],
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))), env=env,
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 1
    assert "The debate cannot start: a model of seat 2 cannot answer" in done.stderr
    assert "Down cannot answer: unreachable" in done.stderr
    assert not Debate.objects.exists()


# ---- a stored debate must be one that can run, whoever made it ---------------------------------------------------
# A draft added in admin never went through debate_create, and a model can be disabled after a debate seats it:
# starting such a debate is refused with the reasons, before any model is asked anything.
def test_a_draft_of_one_seat_and_a_disabled_model_is_refused_before_any_model_is_asked(api, launched, model_on,
                                                                                      openai_server):
    ready = model_on("openai", openai_server, display_name="Ready")
    debate = debate_with(api, [ready, ready], judge=ready)
    debate.seats.get(position=2).delete()
    off = model_on("openai", openai_server, display_name="Switched off", enabled=False)
    debate.seats.update(model=off)

    response = api.post(f"/api/debates/{debate.pk}/start")

    assert_error(response, 422, "validation_error", {
        "seats": "needs 2 to 6 seats, not 1",
        "seats.0.model_id": "Switched off is disabled (or its provider is): enable it in admin to run this debate."})
    assert "cannot run as it stands" in response.json()["detail"]
    debate.refresh_from_db()
    assert debate.status == DebateStatus.DRAFT and launched == [] and openai_server.requests == []


def test_a_panel_judge_that_was_disabled_is_named(api, launched, model_on, openai_server):
    from debates.models import PanelJudge

    ready = model_on("openai", openai_server, display_name="Ready")
    debate = debate_with(api, [ready, ready], judge=ready)
    PanelJudge.objects.create(debate=debate, position=2,
                              model=model_on("openai", openai_server, display_name="Retired judge", enabled=False))

    response = api.post(f"/api/debates/{debate.pk}/start")

    assert_error(response, 422, "validation_error", {"panel_model_ids": "Of the panel, Retired judge is disabled"})
    assert launched == [] and openai_server.requests == []


def test_two_seats_of_one_name_are_refused_and_a_seat_without_a_prompt_gets_the_default_one(api, launched, model_on,
                                                                                          openai_server):
    ready = model_on("openai", openai_server, display_name="Ready")
    debate = debate_with(api, [ready, ready], judge=ready)
    debate.seats.update(display_name="Ada", system_prompt="")

    refused = api.post(f"/api/debates/{debate.pk}/start")
    debate.seats.filter(position=2).update(display_name="Bo")
    started = api.post(f"/api/debates/{debate.pk}/start")

    assert_error(refused, 422, "validation_error", {"seats.1.display_name": "Seat 1 is named 'Ada' too"})
    assert started.status_code == 202 and launched == [debate.pk]
    prompts = list(debate.seats.order_by("position").values_list("system_prompt", flat=True))
    # Blind seats (the default): each is told its label, not its name, as debate_create tells it.
    assert prompts[0].startswith("You are Speaker A, a debater arguing for the motion")
    assert prompts[1].startswith("You are Speaker B, a debater arguing against the motion")
