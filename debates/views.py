"""Pages: the list, the new-debate form, a debate's live page, and its Start / Cancel / Resume buttons.

Starting, cancelling and resuming launch or stop a task on the server's own event loop, so the views that
call them (and the one that creates a debate, which starts it at once) are async; their database work and
the rendering of forms (which reads the model catalog) run in a worker thread.
"""
from collections.abc import Awaitable, Callable
from itertools import groupby

from channels.db import database_sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from debateproject.ids import parse_id
from debates import services
from debates.events import live_text
from debates.formats import DEFAULT_FORMAT
from debates.forms import BudgetForm, ReplayForm, add_service_errors, blank_forms, bound_forms
from debates.models import Debate, DebateStatus, Seat, TurnStatus, Verdict
from debates.snapshot import debate_snapshot, turn_html, verdict_dict
from debates.transcripts import budget_text, cost_text
from debates.compare import compare_rows, compare_side
from debates.verdict_card import verdict_card

DEBATES_PER_PAGE = 30


@login_required
def debate_list(request: HttpRequest) -> HttpResponse:
    """Every debate, newest first; `?model=ID` those a model argued or judged in (the leaderboard links here),
    `?tag=NAME` those with a topic tag."""
    debates, model, tag = Debate.objects.with_listing(), parse_id(request.GET.get("model")), request.GET.get("tag", "")
    if model is not None:
        debates = debates.filter(Q(seats__model_id=model) | Q(judge_model_id=model) | Q(panel__model_id=model))
    if tag:
        debates = debates.filter(tags__name=tag)
    page = Paginator(debates.distinct(), DEBATES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "debates/list.html", {"page": page, "model_id": model or "",
                                                 "tag": tag})


@login_required
async def debate_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return await _render(request, "debates/new.html", await database_sync_to_async(_new_context)())
    form, seats = bound_forms(request.POST)
    debate = None
    if await database_sync_to_async(_valid)(form, seats):
        try:  # before anything is saved or spent: can every chosen model answer?
            await services.models_preflight(seat_models=[seat.cleaned_data["model"] for seat in seats.forms],
                                            judge_models=[form.cleaned_data["judge_model"], *form.cleaned_data["panel"]])
        except services.DebateValidationError as error:
            add_service_errors(error.errors, form, seats)
            form.add_error(None, error.message)
        else:
            debate = await database_sync_to_async(_create)(form, seats, await request.auser())
    if debate is None:
        return await _render(request, "debates/new.html", {"form": form, "seats": seats})
    await _run_action(request, services.debate_start, debate.pk)
    return redirect("debates:detail", debate_id=debate.pk)


@login_required
def debate_detail(request: HttpRequest, debate_id: int) -> HttpResponse:
    debate = get_object_or_404(Debate.objects.select_related("judge_model__provider"), pk=debate_id)
    seats = list(debate.seats.select_related("model", "persona"))
    turns = list(debate.turns.select_related("seat__model__provider", "answered_by_model__provider"))
    verdict = (Verdict.objects.filter(debate=debate)
               .select_related("judge_model__provider", "answered_by_model__provider").first())
    names = {seat.pk: {"display_name": seat.display_name, "position": seat.position} for seat in seats}
    debate.cost_display = cost_text(debate.spent_usd, debate.unpriced_calls)
    debate.budget_display = budget_text(debate.budget_usd)
    for seat in seats:
        seat.chip_state = _seat_state(debate, seat, turns, verdict)
        seat.cost_display = cost_text(seat.spent_usd, seat.unpriced_calls)
    for turn in turns:
        turn.meta, turn.text_html = turn_meta(turn), turn_html(turn)
        if turn.status == TurnStatus.STREAMING:
            turn.text = live_text(turn.pk, turn.text)  # to the last token when this process runs the debate
    label = debate.debate_format.label_of
    return render(request, "debates/detail.html", {
        "debate": debate, "seats": seats, "progress": progress_line(debate, turns),
        "verdict": verdict_card(verdict_dict(verdict), names) if verdict else None,
        "rounds": [(number, label(number, debate.rounds), list(group))
                   for number, group in groupby(turns, key=lambda t: t.round)],
        "replays": list(debate.replays.order_by("pk").values("pk", "replay_change")),
        "replay_form": ReplayForm(seats=seats) if debate.status in services.REPLAYABLE else None,
    })


@require_POST
@login_required
async def debate_start(request: HttpRequest, debate_id: int) -> HttpResponse:
    await _run_action(request, services.debate_start, debate_id)
    return redirect("debates:detail", debate_id=debate_id)


@require_POST
@login_required
async def debate_cancel(request: HttpRequest, debate_id: int) -> HttpResponse:
    await _run_action(request, services.debate_cancel, debate_id)
    return redirect("debates:detail", debate_id=debate_id)


@require_POST
@login_required
async def debate_resume(request: HttpRequest, debate_id: int) -> HttpResponse:
    budget = BudgetForm(request.POST)
    if not budget.is_valid():
        messages.error(request, " ".join(budget.errors["budget_usd"]))
        return redirect("debates:detail", debate_id=debate_id)
    await _run_action(request, services.debate_resume, debate_id, budget_usd=budget.cleaned_data["budget_usd"])
    return redirect("debates:detail", debate_id=debate_id)


@require_POST
@login_required
async def debate_replay(request: HttpRequest, debate_id: int) -> HttpResponse:
    """Replay with a change: the new debate is created and started at once, like one made with the form."""
    form = await database_sync_to_async(_replay_form)(request.POST, debate_id)
    replay = None
    if await database_sync_to_async(form.is_valid)():
        try:
            replay = await database_sync_to_async(services.debate_replay)(
                debate_id=debate_id, model_id=form.cleaned_data["model"].pk, seat_id=form.seat_id(),
                by=await request.auser())
        except services.DebateNotFound as error:
            raise Http404(error.message) from None
        except services.DebateError as error:
            messages.error(request, " ".join([error.message, *(m for ms in error.errors.values() for m in ms)]))
    else:
        messages.error(request, " ".join(m for ms in form.errors.values() for m in ms))
    if replay is None:
        return redirect("debates:detail", debate_id=debate_id)
    await _run_action(request, services.debate_start, replay.pk)
    return redirect("debates:detail", debate_id=replay.pk)


@login_required
def debate_compare(request: HttpRequest, debate_id: int, other_id: int) -> HttpResponse:
    """Two debates side by side, round by round (with their phases), with both verdicts and costs."""
    sides = []
    for pk in (debate_id, other_id):
        if not Debate.objects.filter(pk=pk).exists():
            raise Http404(f"There is no debate {pk}.")
        sides.append(debate_snapshot(pk))
    return render(request, "debates/compare.html", {"sides": [compare_side(s) for s in sides],
                                                    "rows": compare_rows(*sides)})


# ---- helpers -----------------------------------------------------------------------------------
def _replay_form(data, debate_id: int) -> ReplayForm:
    return ReplayForm(data, seats=list(Seat.objects.filter(debate_id=debate_id).order_by("position")))
async def _run_action(request: HttpRequest, action: Callable[..., Awaitable[Debate]], debate_id: int,
                      **options) -> None:
    try:
        await action(debate_id=debate_id, by=await request.auser(), **options)
    except services.DebateNotFound as error:
        raise Http404(error.message) from None
    except services.DebateError as error:
        # The problems too (a budget's, a model's pre-flight), without the field names a terminal gets.
        messages.error(request, " ".join([error.message, *(text for texts in error.errors.values() for text in texts)]))


async def _render(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    return await database_sync_to_async(render)(request, template, context)


def _new_context() -> dict:
    form, seats = blank_forms()
    return {"form": form, "seats": seats}


def _valid(form, seats) -> bool:
    form_ok, seats_ok = form.is_valid(), seats.is_valid()  # both, so that every error shows at once
    return form_ok and seats_ok


def _create(form, seats, user) -> Debate | None:
    """The new debate, or None with the errors put on the forms; nothing is saved when anything is wrong."""
    try:
        return services.debate_create(
            topic=form.cleaned_data["topic"], rounds=form.cleaned_data["rounds"], seats=seats.specs(),
            judge_model_id=form.cleaned_data["judge_model"].pk,
            panel_model_ids=[model.pk for model in form.cleaned_data["panel"]], budget_usd=form.cleaned_data["budget_usd"],
            blind_seats=form.cleaned_data["blind_seats"], swap_check=form.cleaned_data["swap_check"],
            tags=form.cleaned_data["tags"].split(","), format=form.cleaned_data["format"] or DEFAULT_FORMAT,
            early_stop=form.cleaned_data["early_stop"], created_by=user)
    except services.DebateValidationError as error:
        add_service_errors(error.errors, form, seats)
        return None


def _seat_state(debate: Debate, seat, turns: list, verdict: Verdict | None) -> str:
    """What a seat's chip says; debate.js computes the same from the live events."""
    if verdict is not None and verdict.winner_id == seat.pk:
        return "winner"
    current = next((t for t in turns if t.seat_id == seat.pk and t.round == debate.current_round), None)
    if current is not None and current.status == TurnStatus.STREAMING and debate.display_status == "running":
        return "speaking"
    if current is not None and current.status == TurnStatus.FAILED:
        return "failed"
    if debate.status == DebateStatus.DRAFT:
        return "ready"
    if debate.status == DebateStatus.COMPLETED:
        return "done"
    if current is not None and current.status == TurnStatus.COMPLETED:
        return "spoke"
    return "waiting" if debate.display_status == "running" else "idle"


def turn_meta(turn) -> str:
    if turn.status == TurnStatus.STREAMING:
        return "speaking…"
    if turn.status == TurnStatus.FAILED:
        return "failed"
    parts = [f"{turn.completion_tokens} tokens" if turn.completion_tokens else "",
             f"{turn.latency_ms / 1000:.1f} s" if turn.latency_ms else "",
             "cost unknown" if turn.cost_usd is None else f"${turn.cost_usd:.4f}"]
    return " · ".join(part for part in parts if part)


def progress_line(debate: Debate, turns: list) -> str:
    """ "Round 2 of 3 · Ada speaking"; debate.js keeps it current from the live events."""
    rounds = f"{debate.rounds} round{'' if debate.rounds == 1 else 's'}"
    where = f"in round {debate.current_round} of {debate.rounds}" if debate.current_round else "before round 1"
    status = debate.display_status
    if status == DebateStatus.DRAFT:
        return f"Not started · {rounds}"
    if status == DebateStatus.RUNNING:
        if not debate.current_round:
            return "Starting…"
        speaking = next((t for t in turns if t.status == TurnStatus.STREAMING), None)
        line = f"Round {debate.current_round} of {debate.rounds}"
        return line + (f" · {speaking.seat.display_name} speaking" if speaking else "")
    if status == DebateStatus.JUDGING:
        return "All rounds done · the judge is deciding"
    if status == DebateStatus.COMPLETED and debate.stopped_after_round:
        return f"Finished early after round {debate.stopped_after_round} of {debate.rounds}: the seats agreed"
    if status == DebateStatus.COMPLETED:
        return f"Finished after {rounds}"
    if status == "interrupted":
        return f"Interrupted {where}: the server running it stopped"
    return f"{debate.get_status_display()} {where}"
