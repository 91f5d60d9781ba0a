"""Stopping the server mid-debate: it exits promptly and the debate is left resumable, saying why."""
import signal
import time

import pytest

from debates.models import Debate
from debates.tests.api_live_server import daphne_on_test_db, start_speaking

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_server_stopped_mid_debate_exits_promptly_and_leaves_it_resumable(model_on, openai_server, provider_key):
    openai_server.responder = lambda body: " ".join(f"point{i}" for i in range(400))
    openai_server.chunk_delay = 0.02
    model = model_on("openai", openai_server)

    with daphne_on_test_db() as (url, server):
        debate_id = start_speaking(url, model, topic="Stop me")
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    # Stopped, not finished: the turn in progress (8 s of speech) was cut and the debate says why.
    debate = Debate.objects.get(pk=debate_id)
    assert debate.status == "failed" and debate.can_resume
    assert "server running this debate stopped" in debate.failure_reason
    assert debate.turns.get().status == "failed"


def test_with_takeover_on_a_stopped_server_hands_the_debate_on_and_a_restart_finishes_it(model_on, openai_server,
                                                                                          provider_key):
    openai_server.responder = lambda body: ("{}" if "impartial" in str(body) else " ".join(f"w{i}" for i in range(60)))
    openai_server.chunk_delay = 0.03
    model = model_on("openai", openai_server)

    with daphne_on_test_db(takeover=True) as (url, server):
        debate_id = start_speaking(url, model, topic="Restart me")
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    # Not failed: interrupted, its lease given up, for whichever process comes next.
    debate = Debate.objects.get(pk=debate_id)
    assert debate.display_status == "interrupted" and debate.runner_token == ""

    with daphne_on_test_db(takeover=True):  # the same server, restarted
        deadline = time.monotonic() + 60
        while Debate.objects.get(pk=debate_id).is_active:
            assert time.monotonic() < deadline, "the restarted server never finished the debate"
            time.sleep(0.2)

    debate = Debate.objects.get(pk=debate_id)
    assert debate.status == "completed"
    assert [t.status for t in debate.turns.all()] == ["completed", "completed"]
