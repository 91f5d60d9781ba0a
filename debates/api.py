"""The debates router: every change goes through debates.services, as the browser's do, so a debate started here
streams to browser watchers like any other. Errors are raised as DebateError and rendered by debateproject.api."""
from channels.db import database_sync_to_async
from django.http import HttpResponse
from ninja import Body, Query, Router, Status

from debates.models import Debate, Persona
from debates.schemas import (
    DebateDetailOut, DebateIn, DebateListQuery, DebateOut, DebatePage, PersonaOut, ReplayIn, ResumeIn,
    TranscriptQuery,
)
from debates.services import (
    UNCHANGED, DebateNotFound, SeatSpec, debate_cancel, debate_create, debate_delete, debate_replay, debate_resume,
    debate_start,
)
from debates.snapshot import debate_dict, debate_snapshot
from debates.transcripts import FORMATS, debate_totals, render_transcript, transcript_filename
from providers.schemas import error_responses

router = Router(tags=["debates"])


@router.get("/personas", response={200: list[PersonaOut], **error_responses()})
def list_personas(request):
    return Persona.objects.filter(enabled=True)


@router.post("/debates", response={201: DebateDetailOut, **error_responses(400)})
def create_debate(request, payload: DebateIn):
    debate = debate_create(topic=payload.topic, rounds=payload.rounds, judge_model_id=payload.judge_model_id,
                           panel_model_ids=payload.panel_model_ids, seats=[SeatSpec(**seat.model_dump()) for seat in payload.seats],
                           budget_usd=payload.budget_usd, blind_seats=payload.blind_seats,
                           swap_check=payload.swap_check, tags=payload.tags, format=payload.format,
                           early_stop=payload.early_stop, created_by=request.auth)
    return Status(201, _detail(debate.pk))


@router.post("/debates/{debate_id}/replay", response={201: DebateDetailOut, **error_responses(400, 404, 409)})
def replay_debate(request, debate_id: int, payload: ReplayIn):
    """A new draft of this finished, failed or cancelled debate with one seat's model (or the judge) replaced;
    start it like any draft. Compare both at /debates/{id}/compare/{other}/."""
    replay = debate_replay(debate_id=debate_id, model_id=payload.model_id, seat_id=payload.seat_id,
                           by=request.auth)
    return Status(201, _detail(replay.pk))


@router.get("/debates", response={200: DebatePage, **error_responses()})
def list_debates(request, query: Query[DebateListQuery]):
    debates = Debate.objects.select_related("judge_model__provider").prefetch_related("panel__model", "criteria",
                                                                                      "tags")
    if query.status:
        debates = debates.filter(status=query.status)
    start = (query.page - 1) * query.page_size
    return {"items": [debate_dict(debate) for debate in debates[start:start + query.page_size]],
            "count": debates.count(), "page": query.page, "page_size": query.page_size}


@router.get("/debates/{debate_id}", response={200: DebateDetailOut, **error_responses(404)})
def get_debate(request, debate_id: int):
    return _detail(debate_id)


# Starting and resuming launch the debate as an asyncio task on the server's own event loop: these must be async.
@router.post("/debates/{debate_id}/start", response={202: DebateOut, **error_responses(404, 409)})
async def start_debate(request, debate_id: int):
    debate = await debate_start(debate_id=debate_id, by=request.auth)
    return Status(202, await database_sync_to_async(_summary)(debate.pk))


@router.post("/debates/{debate_id}/cancel", response={202: DebateOut, **error_responses(404, 409)})
async def cancel_debate(request, debate_id: int):
    debate = await debate_cancel(debate_id=debate_id, by=request.auth)
    return Status(202, await database_sync_to_async(_summary)(debate.pk))


@router.post("/debates/{debate_id}/resume", response={202: DebateOut, **error_responses(400, 404, 409)})
async def resume_debate(request, debate_id: int, payload: ResumeIn | None = Body(None)):
    given = payload is not None and "budget_usd" in payload.model_fields_set
    debate = await debate_resume(debate_id=debate_id, by=request.auth,
                                 budget_usd=payload.budget_usd if given else UNCHANGED)
    return Status(202, await database_sync_to_async(_summary)(debate.pk))


@router.delete("/debates/{debate_id}", response={204: None, **error_responses(404, 409)})
def delete_debate(request, debate_id: int):
    debate_delete(debate_id=debate_id, by=request.auth)
    return Status(204, None)


@router.get("/debates/{debate_id}/transcript", response={200: None, **error_responses(404)}, openapi_extra={
    "responses": {200: {"description": "The transcript, as a file to save.", "content": {
        content_type.split(";")[0]: {"schema": {"type": "object"} if fmt == "json" else {"type": "string"}}
        for fmt, (content_type, _) in FORMATS.items()}}}})
def export_transcript(request, debate_id: int, query: Query[TranscriptQuery]):
    snapshot = _snapshot(debate_id)
    response = HttpResponse(render_transcript(snapshot, query.format), content_type=FORMATS[query.format][0])
    response["Content-Disposition"] = f'attachment; filename="{transcript_filename(snapshot, query.format)}"'
    return response


def _snapshot(debate_id: int) -> dict:
    try:
        return debate_snapshot(debate_id)
    except Debate.DoesNotExist:
        raise DebateNotFound(f"There is no debate {debate_id}.") from None


def _detail(debate_id: int) -> dict:
    snapshot = _snapshot(debate_id)
    return {**snapshot["debate"], "seats": snapshot["seats"], "turns": snapshot["turns"],
            "verdict": snapshot["verdict"], "totals": debate_totals(snapshot),
            "last_seq": snapshot["last_seq"]}


def _summary(debate_id: int) -> dict:
    return debate_dict(Debate.objects.select_related("judge_model__provider").get(pk=debate_id))
