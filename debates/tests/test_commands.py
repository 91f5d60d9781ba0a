"""`run_debate` and `resume_debate` as an operator runs them: real processes, a real kill in between."""
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from debates.models import Debate, Turn
from debates.tests.conftest import valid_verdict, is_preflight
from providers.tests.subprocess_env import current_database_url

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def manage(*args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": current_database_url(),
           "ARENA_SITE_URL": "http://arena.test"}
    return subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("the condition never became true")


def test_run_debate_prints_each_turn_live_and_the_verdict(model_on, openai_server):
    openai_server.responder = lambda body: valid_verdict(body) if "impartial" in str(body) else "Cars clog streets."
    model = model_on("openai", openai_server)

    process = manage("run_debate", "--topic", "Ban cars", "--seat", f"{model.pk}:for", "--seat",
                     f"{model.litellm_model_name}:against", "--judge", str(model.pk), "--rounds", "1")
    out, err = process.communicate(timeout=120)

    assert process.returncode == 0, err
    assert "[round 1/1 · seat 1/2]" in out and "[round 1/1 · seat 2/2]" in out
    assert out.count("Cars clog streets.") == 2
    assert "Winner:" in out and "7.5/10" in out
    debate = Debate.objects.get()
    assert f"http://arena.test/debates/{debate.pk}/" in out
    assert debate.status == "completed" and debate.turns.count() == 2


def test_run_debate_explains_a_bad_seat(model_on, openai_server):
    model_on("openai", openai_server)

    process = manage("run_debate", "--topic", "Ban cars", "--seat", "no-such-model:for", "--seat", "x:y",
                     "--judge", "no-such-model")
    out, err = process.communicate(timeout=60)

    assert process.returncode != 0
    assert "give MODEL:STANCE" in err
    assert not Debate.objects.exists()


def test_a_killed_debate_resumes_from_its_last_completed_turn(model_on, openai_server):
    answers = iter(["Opening for.", "Opening against.", "A long rebuttal " * 200])
    openai_server.responder = lambda body: (valid_verdict(body) if "impartial" in str(body) else "OK" if is_preflight(body)
                                            else next(answers, "Closing."))
    openai_server.chunk_delay = 0.02
    model = model_on("openai", openai_server)
    process = manage("run_debate", "--topic", "Ban cars", "--seat", f"{model.pk}:for", "--seat",
                     f"{model.pk}:against", "--judge", str(model.pk), "--rounds", "2")
    wait_for(lambda: Turn.objects.filter(round=2, status="streaming").exclude(text="").exists())

    process.send_signal(signal.SIGKILL)  # the server stops: no clean-up runs
    process.wait(timeout=10)
    debate = Debate.objects.get()
    kept = {t.pk: t.text for t in debate.turns.filter(status="completed")}
    assert debate.status == "running" and len(kept) == 2
    Debate.objects.filter(pk=debate.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    debate.refresh_from_db()
    assert debate.is_interrupted and debate.can_resume

    resumed = manage("resume_debate", str(debate.pk))
    out, err = resumed.communicate(timeout=120)

    assert resumed.returncode == 0, err
    debate.refresh_from_db()
    turns = list(debate.turns.order_by("round", "seat__position").values_list("round", "seat__position", "text"))
    assert debate.status == "completed"
    assert turns == [(1, 1, "Opening for."), (1, 2, "Opening against."), (2, 1, "Closing."), (2, 2, "Closing.")]
    assert {t.pk: t.text for t in debate.turns.filter(pk__in=kept)} == kept
    assert "[round 2/2 · seat 1/2]" in out and "[round 1/2" not in out


def test_resume_refuses_a_completed_debate(model_on, openai_server):
    from debates.tests.factories import DebateFactory

    debate = DebateFactory(status="completed")

    process = manage("resume_debate", str(debate.pk))
    _, err = process.communicate(timeout=60)

    assert process.returncode != 0
    assert "only a failed, cancelled or interrupted debate can be resumed" in err


def test_a_budget_stops_run_debate_and_resume_debate_raises_it(model_on, openai_server):
    openai_server.responder = lambda body: valid_verdict(body) if "impartial" in str(body) else "Cars clog streets."
    model = model_on("openai", openai_server, model_name="gpt-4o")  # priced: each turn's worst case is ~$0.003

    process = manage("run_debate", "--topic", "Ban cars", "--seat", f"{model.pk}:for", "--seat",
                     f"{model.pk}:against", "--judge", str(model.pk), "--rounds", "1", "--budget", "0.001")
    _, err = process.communicate(timeout=120)

    assert process.returncode != 0
    assert "ended failed: Budget reached: $0.0000 of the $0.0010 budget is spent" in err
    debate = Debate.objects.get()
    assert debate.turns.count() == 0 and debate.budget_usd == 0.001

    process = manage("resume_debate", str(debate.pk), "--budget", "0.5")
    out, err = process.communicate(timeout=120)

    assert process.returncode == 0, err
    debate.refresh_from_db()
    assert (debate.status, debate.budget_usd, debate.turns.count()) == ("completed", 0.5, 2)
    assert "Winner:" in out


def test_run_debate_seats_a_model_whose_name_holds_a_colon_beside_a_shorter_one(db):
    from debates.management.commands.run_debate import Command
    from providers.tests.factories import LLMModelFactory

    short = LLMModelFactory(model_name="llama2")
    tagged = LLMModelFactory(model_name="llama2:13b", provider=short.provider)
    options = {"max_tokens": 100, "temperature": 0.7}

    seat = Command()._seat("llama2:13b:for", options)
    assert (seat.model_id, seat.stance, seat.persona) == (tagged.pk, "for", None)
    seat = Command()._seat("llama2:against:lawyer", options)
    assert (seat.model_id, seat.stance, seat.persona) == (short.pk, "against", "lawyer")
