"""The debates router: create, list, read, start, cancel, resume, delete and export, with their error shapes.

Debates started here do not run: `launched` records the debate instead of running it (test_api_live.py runs
one for real over HTTP). The calls still go through debates.services, as the browser's do.
"""
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from debates.models import Debate, DebateStatus, Turn, TurnStatus, Verdict
from debates.tests.factories import PersonaFactory, SeatFactory
from debates.transcripts import as_json, as_markdown, as_text, transcript_filename
from providers.tests.factories import LLMModelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(model_on, openai_server):
    """A model that can answer: starting a debate first asks each of its models for a token (pre-flight)."""
    return model_on("openai", openai_server, display_name="Model A")


def debate_body(model, **changes) -> dict:
    return {"topic": "Cities should ban cars from their centres", "rounds": 2, "judge_model_id": model.pk,
            "seats": [{"model_id": model.pk, "stance": "for", "display_name": "Ada"},
                      {"model_id": model.pk, "stance": "against", "display_name": "Bo"}], **changes}


def create(api, body):
    return api.post("/api/debates", body, content_type="application/json")


def make_debate(owner, model, status=DebateStatus.DRAFT, **fields) -> Debate:
    debate = SeatFactory(model=model, position=1, debate__judge_model=model, debate__status=status,
                         debate__rounds=1, debate__created_by=owner, display_name="Ada", **fields).debate
    SeatFactory(model=model, debate=debate, position=2, stance="against", display_name="Bo")
    return debate


def assert_error(response, status: int, code: str, errors: dict | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    if errors is None:
        assert set(body) == {"detail", "code"}
    else:
        assert set(body["errors"]) == set(errors), body["errors"]
        for field, fragment in errors.items():
            assert any(fragment in message for message in body["errors"][field]), body["errors"][field]


# ---- create --------------------------------------------------------------------------------------
def test_it_creates_a_draft(api, model):
    persona = PersonaFactory(slug="economist", name="Economist")
    body = debate_body(model)
    body["seats"][1].update(persona="economist", temperature=0.2, max_tokens=300)

    response = create(api, body)

    assert response.status_code == 201
    data = response.json()
    debate = Debate.objects.get(pk=data["id"])
    assert data["status"] == debate.status == DebateStatus.DRAFT
    assert data["can_start"] is True
    assert [seat["display_name"] for seat in data["seats"]] == ["Ada", "Bo"]
    assert data["seats"][1] | {"persona": "economist", "temperature": 0.2, "max_tokens": 300} == data["seats"][1]
    assert debate.seats.get(position=2).persona == persona
    assert debate.created_by is not None
    assert data["turns"] == [] and data["verdict"] is None
    assert data["totals"]["total_tokens"] == 0


def test_it_names_every_problem_with_a_debate_at_once(api, model):
    disabled = LLMModelFactory(enabled=False)
    body = debate_body(model, rounds=11, topic="  ")
    body["seats"][0]["model_id"] = disabled.pk
    body["seats"][1]["persona"] = "no-such-persona"

    assert_error(create(api, body), 422, "validation_error", {
        "topic": "motion", "rounds": "between 1 and 10", "seats.0.model_id": "enabled model",
        "seats.1.persona": "no persona 'no-such-persona'"})


def test_it_creates_a_debate_with_a_panel_of_judges(api, model):
    others = [LLMModelFactory(provider=model.provider) for _ in range(2)]
    body = debate_body(model) | {"panel_model_ids": [other.pk for other in others]}

    response = create(api, body)

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["judge_model_id"] == model.pk and data["panel_model_ids"] == [other.pk for other in others]
    assert data["panel_models"] == [other.litellm_model_name for other in others]
    assert list(Debate.objects.get(pk=data["id"]).panel.values_list("model_id", flat=True)) == data["panel_model_ids"]
    listed = api.get("/api/debates").json()["items"][0]
    assert listed["panel_model_ids"] == data["panel_model_ids"]


def test_it_creates_a_debate_with_topic_tags(api, model):
    response = create(api, debate_body(model) | {"tags": ["Transport", "cities", "transport"]})

    assert response.status_code == 201, response.content
    assert response.json()["tags"] == ["cities", "transport"]
    assert sorted(Debate.objects.get().tags.values_list("name", flat=True)) == ["cities", "transport"]


def test_a_tag_that_is_not_a_slug_is_refused(api, model):
    assert_error(create(api, debate_body(model) | {"tags": ["no spaces!"]}), 422, "validation_error",
                 {"tags": "lowercase letters, digits and hyphens"})
    assert not Debate.objects.exists()


def test_a_panel_with_a_judge_twice_is_refused(api, model):
    body = debate_body(model) | {"panel_model_ids": [model.pk]}

    assert_error(create(api, body), 422, "validation_error", {"panel_model_ids": "sits on the panel once"})
    assert not Debate.objects.exists()


def test_it_needs_two_seats(api, model):
    body = debate_body(model)
    body["seats"] = body["seats"][:1]

    assert_error(create(api, body), 422, "validation_error", {"seats": "2 to 6 seats"})


def test_it_refuses_a_model_of_a_disabled_provider(api, model):
    judge = LLMModelFactory(provider__enabled=False)

    assert_error(create(api, debate_body(model, judge_model_id=judge.pk)), 422, "validation_error",
                 {"judge_model_id": "enabled model"})


def test_wrong_types_are_named_in_the_same_shape(api, model):
    body = debate_body(model, rounds="many")
    body["seats"][1]["temperature"] = "hot"
    del body["topic"]

    assert_error(create(api, body), 422, "validation_error", {
        "rounds": "valid integer", "seats.1.temperature": "valid number", "topic": "required"})


@pytest.mark.parametrize("body", [
    {"topic": "x", "seats": "two", "judge_model_id": 1}, [], '"a JSON string"', 42,
    {"topic": "x", "seats": [], "judge_model_id": 2**64},
    {"topic": "nul \x00 byte", "seats": [], "judge_model_id": 1},
])
def test_odd_bodies_are_422_not_500(api, body):
    response = create(api, body)

    assert_error(response, 422, "validation_error", {field: "" for field in response.json()["errors"]})


def test_a_body_that_is_not_json_is_a_400(api):
    response = api.post("/api/debates", "{not json", content_type="application/json")

    assert_error(response, 400, "bad_request")


# ---- list and read -------------------------------------------------------------------------------
def test_it_lists_debates_newest_first_a_page_at_a_time(api, model):
    debates = [make_debate(api.user, model) for _ in range(3)]

    first = api.get("/api/debates", {"page_size": 2}).json()
    second = api.get("/api/debates", {"page_size": 2, "page": 2}).json()

    assert first["count"] == 3 and (first["page"], first["page_size"]) == (1, 2)
    assert [d["id"] for d in first["items"] + second["items"]] == [d.pk for d in reversed(debates)]


def test_it_filters_debates_by_status(api, model):
    make_debate(api.user, model)
    done = make_debate(api.user, model, status=DebateStatus.COMPLETED)

    data = api.get("/api/debates", {"status": "completed"}).json()

    assert [d["id"] for d in data["items"]] == [done.pk]
    assert data["count"] == 1


@pytest.mark.parametrize("query, field", [({"status": "sleeping"}, "status"), ({"page": 0}, "page"),
                                          ({"page_size": 1000}, "page_size")])
def test_a_bad_list_query_is_422(api, query, field):
    assert_error(api.get("/api/debates", query), 422, "validation_error", {field: ""})


def test_it_shows_a_debate_with_turns_verdict_and_totals(api, model):
    debate = make_debate(api.user, model, status=DebateStatus.COMPLETED)
    ada, bo = debate.seats.all()
    Turn.objects.create(debate=debate, seat=ada, round=1, status=TurnStatus.COMPLETED, text="Cars choke cities.",
                        prompt_tokens=10, completion_tokens=5, latency_ms=300, cost_usd=0.001)
    Turn.objects.create(debate=debate, seat=bo, round=1, status=TurnStatus.COMPLETED, text="Shops need cars.",
                        prompt_tokens=20, completion_tokens=7, latency_ms=200)
    verdict = Verdict.objects.create(debate=debate, parsed=True, summary="Close.", winner=ada,
                                     key_arguments=["congestion"])
    verdict.scores.create(seat=ada, score=7.5, reasoning="clear")
    debate.refresh_spend()  # as the orchestrator does with each turn and the verdict

    data = api.get(f"/api/debates/{debate.pk}").json()

    assert [turn["text"] for turn in data["turns"]] == ["Cars choke cities.", "Shops need cars."]
    assert data["verdict"]["winner_seat_id"] == ada.pk
    assert data["verdict"]["scores"] == [{"seat_id": ada.pk, "score": 7.5, "reasoning": "clear",
                                          "reasoning_html": "<p>clear</p>", "criteria": []}]
    # Bo's turn and the verdict have no price: the total is what is known, and says two calls are not in it.
    assert data["totals"] == {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42, "cost_usd": 0.001,
                              "unpriced_calls": 2, "latency_ms": 500, "completed_turns": 2}
    assert [(s["spent_usd"], s["unpriced_calls"]) for s in data["seats"]] == [(0.001, 0), (0.0, 1)]
    assert (data["spent_usd"], data["unpriced_calls"]) == (0.001, 2)


def test_model_text_comes_with_its_markdown_as_sanitised_html_once_a_turn_is_completed(api, model):
    debate = make_debate(api.user, model, status=DebateStatus.RUNNING)
    ada, bo = debate.seats.all()
    Turn.objects.create(debate=debate, seat=ada, round=1, status=TurnStatus.COMPLETED,
                        text="Cars **choke** cities. [x](javascript:alert(1)) ![y](http://127.0.0.1/y.png)")
    Turn.objects.create(debate=debate, seat=bo, round=1, status=TurnStatus.STREAMING, text="Shops **need")
    verdict = Verdict.objects.create(debate=debate, parsed=True, summary="*Close*.", winner=ada,
                                     key_arguments=["`congestion`", "<script>x</script>"])
    verdict.scores.create(seat=ada, score=7.5, criteria=[{"key": "evidence", "score": 7.5, "reasoning": "- one"}])

    data = api.get(f"/api/debates/{debate.pk}").json()

    assert [turn["text_html"] for turn in data["turns"]] == ["<p>Cars <strong>choke</strong> cities. x y</p>", None]
    verdict = data["verdict"]
    assert (verdict["summary_html"], verdict["key_arguments_html"]) == (
        "<p><em>Close</em>.</p>", ["<p><code>congestion</code></p>", "<p>&lt;script&gt;x&lt;/script&gt;</p>"])
    assert verdict["scores"][0]["criteria"][0]["reasoning_html"] == "<ul>\n<li>one</li>\n</ul>"


@pytest.mark.parametrize("debate_id", [999999, 2**70])
def test_a_missing_debate_is_404(api, debate_id):
    assert_error(api.get(f"/api/debates/{debate_id}"), 404, "not_found")


# ---- start, cancel, resume -----------------------------------------------------------------------
# These endpoints are async and reach the database through database_sync_to_async, which closes the connection
# it finds: that would end the transaction a plain django_db test runs in, so these tests commit for real.
lifecycle = pytest.mark.django_db(transaction=True)


@lifecycle
def test_it_starts_a_draft_through_the_service(api, model, launched):
    debate = make_debate(api.user, model)

    response = api.post(f"/api/debates/{debate.pk}/start")

    assert response.status_code == 202
    assert response.json()["status"] == "running"
    assert launched == [debate.pk]
    debate.refresh_from_db()
    assert debate.status == DebateStatus.RUNNING


@lifecycle
def test_it_refuses_to_start_a_debate_twice(api, model, launched):
    debate = make_debate(api.user, model, status=DebateStatus.RUNNING, debate__heartbeat_at=timezone.now())

    assert_error(api.post(f"/api/debates/{debate.pk}/start"), 409, "invalid_state")
    assert launched == []


@lifecycle
def test_it_cancels_a_draft(api, model):
    debate = make_debate(api.user, model)

    response = api.post(f"/api/debates/{debate.pk}/cancel")

    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    debate.refresh_from_db()
    assert debate.status == DebateStatus.CANCELLED


@lifecycle
def test_it_refuses_to_cancel_a_finished_debate(api, model):
    debate = make_debate(api.user, model, status=DebateStatus.COMPLETED)

    assert_error(api.post(f"/api/debates/{debate.pk}/cancel"), 409, "invalid_state")


@lifecycle
def test_it_resumes_a_failed_debate(api, model, launched):
    debate = make_debate(api.user, model, status=DebateStatus.FAILED, debate__failure_reason="timeout")

    response = api.post(f"/api/debates/{debate.pk}/resume")

    assert response.status_code == 202, response.content
    assert response.json()["status"] == "running"
    assert launched == [debate.pk]
    debate.refresh_from_db()
    assert (debate.status, debate.failure_reason) == (DebateStatus.RUNNING, "")


@lifecycle
def test_it_resumes_with_a_new_budget_and_keeps_the_budget_when_none_is_given(api, model_on, openai_server, launched):
    priced = model_on("openai", openai_server, model_name="gpt-4o")
    debate = make_debate(api.user, priced, status=DebateStatus.FAILED, debate__budget_usd=0.01,
                         debate__failure_reason="Budget reached: ...")

    response = api.post(f"/api/debates/{debate.pk}/resume", {"budget_usd": 0.5}, content_type="application/json")

    assert response.status_code == 202, response.content
    assert response.json()["budget_usd"] == 0.5
    Debate.objects.filter(pk=debate.pk).update(status=DebateStatus.FAILED)
    assert api.post(f"/api/debates/{debate.pk}/resume").json()["budget_usd"] == 0.5  # no body: kept
    Debate.objects.filter(pk=debate.pk).update(status=DebateStatus.FAILED)
    response = api.post(f"/api/debates/{debate.pk}/resume", {"budget_usd": None}, content_type="application/json")
    assert response.json()["budget_usd"] is None  # null: no budget any more
    assert launched == [debate.pk] * 3


def test_a_budget_with_an_unpriced_model_is_refused_with_the_reason(api, model):
    response = create(api, debate_body(model, budget_usd=1.0))

    assert_error(response, 422, "validation_error", {"budget_usd": "cannot be priced"})
    assert not Debate.objects.exists()


@lifecycle
def test_a_resume_with_a_budget_an_unpriced_model_cannot_keep_is_refused(api, model, launched):
    debate = make_debate(api.user, model, status=DebateStatus.FAILED)

    response = api.post(f"/api/debates/{debate.pk}/resume", {"budget_usd": 1.0}, content_type="application/json")

    assert_error(response, 422, "validation_error", {"budget_usd": "cannot be priced"})
    debate.refresh_from_db()
    assert (debate.status, debate.budget_usd, launched) == (DebateStatus.FAILED, None, [])


@lifecycle
@pytest.mark.parametrize("status", [DebateStatus.COMPLETED, DebateStatus.DRAFT])
def test_a_refused_resume_leaves_the_budget_it_asked_for_unsaved(api, model_on, openai_server, launched, status):
    priced = model_on("openai", openai_server, model_name="gpt-4o")
    debate = make_debate(api.user, priced, status=status, debate__budget_usd=1.0)

    response = api.post(f"/api/debates/{debate.pk}/resume", {"budget_usd": 0.01}, content_type="application/json")

    assert_error(response, 409, "invalid_state")
    debate.refresh_from_db()
    assert (debate.status, debate.budget_usd, launched) == (status, 1.0, [])


@lifecycle
def test_it_refuses_to_resume_a_draft(api, model, launched):
    debate = make_debate(api.user, model)

    assert_error(api.post(f"/api/debates/{debate.pk}/resume"), 409, "invalid_state")
    assert launched == []


@lifecycle
@pytest.mark.parametrize("action", ["start", "cancel", "resume"])
def test_actions_on_a_missing_debate_are_404(api, action, launched):
    assert_error(api.post(f"/api/debates/424242/{action}"), 404, "not_found")


# ---- delete --------------------------------------------------------------------------------------
def test_it_deletes_a_debate(api, model):
    debate = make_debate(api.user, model, status=DebateStatus.COMPLETED)

    response = api.delete(f"/api/debates/{debate.pk}")

    assert response.status_code == 204
    assert response.content == b""
    assert not Debate.objects.filter(pk=debate.pk).exists()


def test_it_refuses_to_delete_a_running_debate(api, model):
    debate = make_debate(api.user, model, status=DebateStatus.RUNNING, debate__heartbeat_at=timezone.now())

    assert_error(api.delete(f"/api/debates/{debate.pk}"), 409, "invalid_state")
    assert Debate.objects.filter(pk=debate.pk).exists()


def test_it_deletes_a_debate_whose_server_stopped(api, model):
    debate = make_debate(api.user, model, status=DebateStatus.RUNNING,
                         debate__heartbeat_at=timezone.now() - timedelta(minutes=5))

    assert api.delete(f"/api/debates/{debate.pk}").status_code == 204


def test_deleting_a_missing_debate_is_404(api):
    assert_error(api.delete("/api/debates/424242"), 404, "not_found")


# ---- transcript ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt, content_type, extension, expected", [
    ("json", "application/json", "json", '"topic": "Cities should ban cars from their centres"'),
    ("markdown", "text/markdown", "md", "# Cities should ban cars from their centres"),
    ("text", "text/plain", "txt", "Ada (for):\nCars choke cities."),
])
def test_it_exports_a_transcript_as_a_download(api, model, fmt, content_type, extension, expected):
    debate = make_debate(api.user, model, status=DebateStatus.COMPLETED)
    Turn.objects.create(debate=debate, seat=debate.seats.get(position=1), round=1, status=TurnStatus.COMPLETED,
                        text="Cars choke cities.")

    response = api.get(f"/api/debates/{debate.pk}/transcript", {"format": fmt})

    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert response["Content-Disposition"] == (
        f'attachment; filename="debate-{debate.pk}-cities-should-ban-cars.{extension}"')
    assert expected in response.content.decode()


def test_the_transcript_is_json_by_default(api, model):
    debate = make_debate(api.user, model)

    assert api.get(f"/api/debates/{debate.pk}/transcript").json()["debate"]["id"] == debate.pk


def test_an_unknown_transcript_format_is_422(api, model):
    debate = make_debate(api.user, model)

    assert_error(api.get(f"/api/debates/{debate.pk}/transcript", {"format": "pdf"}), 422, "validation_error",
                 {"format": "'json', 'markdown' or 'text'"})


def test_the_transcript_of_a_missing_debate_is_404(api):
    assert_error(api.get("/api/debates/424242/transcript"), 404, "not_found")


# ---- personas and the schema ---------------------------------------------------------------------
def test_it_lists_enabled_personas(api):
    PersonaFactory(slug="economist", name="Economist", description="Incentives.")
    PersonaFactory(slug="retired", enabled=False)

    assert api.get("/api/personas").json() == [{"slug": "economist", "name": "Economist",
                                                "description": "Incentives."}]


def test_the_openapi_schema_declares_every_error_status(client):
    paths = client.get("/api/openapi.json").json()["paths"]

    assert set(paths["/api/debates/{debate_id}/start"]["post"]["responses"]) == {
        "202", "401", "403", "404", "409", "422", "500"}
    assert set(paths["/api/debates/{debate_id}/transcript"]["get"]["responses"]["200"]["content"]) == {
        "application/json", "text/markdown", "text/plain"}


# ---- transcript documents (pure functions of a snapshot) -----------------------------------------
def snapshot(**changes) -> dict:
    debate = {"id": 7, "topic": "Cities should ban cars from their centres", "rounds": 1, "status": "failed",
              "display_status": "failed", "judge_model": "openai/gpt-4o", "created_at": "2026-01-01T10:00:00+00:00",
              "finished_at": None, "failure_reason": "Bo failed (timeout; resuming may help)", "spent_usd": 0.0002,
              "unpriced_calls": 0}
    seats = [{"id": 1, "position": 1, "display_name": "Ada", "stance": "for", "model_display_name": "GPT-4o",
              "model": "openai/gpt-4o", "spent_usd": 0.0002, "unpriced_calls": 0},
             {"id": 2, "position": 2, "display_name": "Bo | B", "stance": "against", "model_display_name": "Mistral",
              "model": "ollama/mistral", "spent_usd": 0.0, "unpriced_calls": 0}]
    turn = {"round": 1, "prompt_tokens": None, "completion_tokens": None, "latency_ms": None, "cost_usd": None,
            "error_kind": "", "error_message": "", "answered_by_model": None, "fallback_reason": ""}
    turns = [{**turn, "seat_id": 1, "status": "completed", "text": "Cars choke cities.", "prompt_tokens": 10,
              "completion_tokens": 4, "latency_ms": 1500, "cost_usd": 0.0002},
             {**turn, "seat_id": 2, "status": "failed", "text": "Shops ne", "error_kind": "timeout",
              "error_message": "no chunk\nfor 30 s"}]
    return {"debate": debate, "seats": seats, "turns": turns, "verdict": None, **changes}


def test_a_transcript_shows_failed_turns_and_a_missing_verdict():
    markdown, text = as_markdown(snapshot()), as_text(snapshot())

    assert "### Bo | B (against)\n\nShops ne\n\n*This turn failed (timeout): no chunk for 30 s*" in markdown
    assert "*No verdict yet.*" in markdown and "Failure: Bo failed (timeout; resuming may help)" in markdown
    assert "Tokens: 10 prompt + 4 completion = 14, 1.5 s speaking" in markdown
    assert "Cost: $0.0002 (Ada $0.0002; Bo | B $0.0000)" in markdown
    assert "Bo | B (against):\nShops ne\n[This turn failed (timeout): no chunk for 30 s]" in text
    assert json.loads(as_json(snapshot()))["totals"]["completed_turns"] == 1


def test_a_transcript_shows_the_verdict_with_safe_table_cells():
    verdict = {"parsed": True, "summary": "Ada was clearer.", "winner_seat_id": 1, "key_arguments": ["congestion"],
               "criteria": [{"key": "logic", "name": "Logic | rigour", "description": "", "weight": 1.0}],
               "scores": [{"seat_id": 1, "score": 8.0, "reasoning": "",
                           "criteria": [{"key": "logic", "score": 8.0, "reasoning": "clear"}]},
                          {"seat_id": 2, "score": 4.5, "reasoning": "",
                           "criteria": [{"key": "logic", "score": 4.5, "reasoning": "cut off |\nmid-sentence"}]}],
               "judge_model": "openai/gpt-4o", "answered_by_model": None, "fallback_reason": ""}

    markdown = as_markdown(snapshot(verdict=verdict))

    assert "**Winner: Ada**\n\nAda was clearer." in markdown
    assert "| Seat | Score | Logic \\| rigour |\n|---|---|---|\n| Ada | 8 | 8 |\n| Bo \\| B | 4.5 | 4.5 |" in markdown
    assert "- Logic | rigour: cut off | mid-sentence" in markdown
    assert "- congestion" in markdown
    assert "Winner: Ada" in as_text(snapshot(verdict=verdict))


def test_an_unreadable_verdict_is_shown_raw_and_cannot_break_the_markdown():
    verdict = {"parsed": False, "parse_error": "the reply holds no JSON object", "raw_text": "```\n# not a title",
               "judge_model": "openai/gpt-4o", "answered_by_model": None, "fallback_reason": ""}

    markdown = as_markdown(snapshot(verdict=verdict))

    assert "*The judge's answer could not be read: the reply holds no JSON object*" in markdown
    assert "\n````\n```\n# not a title\n````" in markdown


@pytest.mark.parametrize("topic, name", [
    ("Cities should ban cars from their centres", "debate-7-cities-should-ban-cars.md"),
    ("AI?", "debate-7-ai.md"),
    ("Supercalifragilisticexpialidocious-and-more", "debate-7-supercalifragilisticexpi.md"),
    ("Ποιος κερδίζει;", "debate-7.md"),
])
def test_a_transcript_file_is_named_after_the_debate(topic, name):
    data = snapshot()
    data["debate"]["topic"] = topic

    assert transcript_filename(data, "markdown") == name


@pytest.mark.django_db(transaction=True)  # start, cancel and resume are async endpoints
def test_only_its_creator_or_staff_may_change_a_debate(api, model, launched):
    from accounts.tests.factories import UserFactory

    theirs = make_debate(UserFactory(), model)

    for action in ("start", "cancel", "resume"):
        assert_error(api.post(f"/api/debates/{theirs.pk}/{action}"), 403, "forbidden")
    assert_error(api.delete(f"/api/debates/{theirs.pk}"), 403, "forbidden")
    assert api.get(f"/api/debates/{theirs.pk}").status_code == 200  # watching is open to everyone signed in
    api.user.is_staff = True
    api.user.save()
    assert api.delete(f"/api/debates/{theirs.pk}").status_code == 204


def test_an_unknown_api_path_answers_in_the_json_error_shape(api):
    assert_error(api.get("/api/no-such-thing"), 404, "not_found")
