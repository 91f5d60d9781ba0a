"""One whole debate over real HTTP: a token, create, start, poll, export, against daphne and a fake OpenAI server."""
import json
import time

import httpx
import pytest

from accounts.tests.factories import bearer, issue_token
from debates.tests.api_live_server import api_live_server  # noqa: F401  (a fixture)
from debates.tests.conftest import scripted_responder

POLL_TIMEOUT_SECONDS = 45


@pytest.mark.django_db(transaction=True)
def test_a_debate_runs_from_create_to_export_over_http(openai_server, model_on, api_live_server):  # noqa: F811
    openai_server.responder = scripted_responder()
    model = model_on("openai", openai_server, display_name="Fake GPT")
    _, secret = issue_token()

    with httpx.Client(base_url=api_live_server, headers=bearer(secret), timeout=10) as http:
        response = http.post("/api/debates", json={
            "topic": "Cities should ban cars from their centres", "rounds": 1, "judge_model_id": model.pk,
            "seats": [{"model_id": model.pk, "stance": "for", "display_name": "Ada"},
                      {"model_id": model.pk, "stance": "against", "display_name": "Bo"}]})
        assert response.status_code == 201, response.text
        debate_id = response.json()["id"]

        response = http.post(f"/api/debates/{debate_id}/start")
        assert response.status_code == 202, response.text
        assert response.json()["status"] in ("running", "judging", "completed")

        debate = poll_until_finished(http, debate_id)
        assert debate["status"] == "completed", debate["failure_reason"]
        assert [(turn["round"], turn["status"]) for turn in debate["turns"]] == [(1, "completed"), (1, "completed")]
        assert all("I argue my case" in turn["text"] for turn in debate["turns"])
        ada = debate["seats"][0]
        assert debate["verdict"]["parsed"] is True
        assert debate["verdict"]["winner_seat_id"] == ada["id"]
        assert debate["totals"]["completed_turns"] == 2 and debate["totals"]["total_tokens"] > 0

        exported = {fmt: http.get(f"/api/debates/{debate_id}/transcript", params={"format": fmt})
                    for fmt in ("json", "markdown", "text")}

    for fmt, extension in (("json", "json"), ("markdown", "md"), ("text", "txt")):
        assert exported[fmt].status_code == 200
        assert exported[fmt].headers["content-disposition"] == (
            f'attachment; filename="debate-{debate_id}-cities-should-ban-cars.{extension}"')
    document = json.loads(exported["json"].text)
    assert document["debate"]["status"] == "completed"
    assert document["verdict"]["summary"] == "A close debate."
    markdown, text = exported["markdown"].text, exported["text"].text
    assert markdown.startswith("# Cities should ban cars from their centres\n")
    assert "## Round 1" in markdown and "### Ada (for)" in markdown and "**Winner: Ada**" in markdown
    assert "| Seat | Score | Argument strength | Use of evidence | Responsiveness |" in markdown
    assert "| Ada | 7.5 | 7.5 | 7.5 | 7.5 |" in markdown
    assert "Ada (for):\nI argue my case" in text and "Winner: Ada" in text and "A close debate." in text


def poll_until_finished(http: httpx.Client, debate_id: int) -> dict:
    deadline = time.monotonic() + POLL_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        debate = http.get(f"/api/debates/{debate_id}").json()
        if debate["status"] not in ("draft", "running", "judging"):
            return debate
        time.sleep(0.2)
    pytest.fail(f"debate {debate_id} still {debate['status']} after {POLL_TIMEOUT_SECONDS} s")
