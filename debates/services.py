"""Workflows across debates, seats and turns. The browser, the API and `run_debate` all call these."""
import math
import re
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.db import transaction
from django.utils import timezone

from debates import budget, judge, tasks
from debates.events import emit_once
from debates.models import (
    MAX_PANEL, MAX_ROUNDS, MAX_SEATS, MIN_ROUNDS, MIN_SEATS, Criterion, Debate, DebateCriterion, DebateStatus,
    PanelJudge, Persona, Seat, Tag, Turn,
)
from debates.formats import DEFAULT_FORMAT, FORMATS, rounds_problem
from debates.prompts import CriterionView, seat_system_prompt, speaker_label
from providers import preflight
from providers.models import LLMModel


class DebateError(Exception):
    """A request the debate cannot honour. `code` is machine-readable; `status` the HTTP status it maps to."""

    status = 400
    code = "debate_error"

    def __init__(self, message: str, *, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


def error_text(error: DebateError) -> str:
    """The message and each field's problems on one line, for a terminal."""
    details = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.errors.items())
    return f"{error.message} {details}".strip()


class DebateValidationError(DebateError):
    status = 422
    code = "validation_error"


class DebateStateError(DebateError):
    status = 409
    code = "invalid_state"


class DebateNotFound(DebateError):
    status = 404
    code = "not_found"


class DebatePermissionError(DebateError):
    status = 403
    code = "forbidden"


@dataclass
class SeatSpec:
    model_id: int
    stance: str
    persona: str | None = None  # a persona slug
    display_name: str = ""
    temperature: float = 0.7
    max_tokens: int = 400
    system_prompt: str = ""


# ---- create ------------------------------------------------------------------------------------
MAX_BUDGET_USD = 1_000_000.0
UNCHANGED = object()  # debate_resume's budget_usd when the budget stays as it is


@transaction.atomic
def debate_create(*, topic: str, rounds: int, seats: list[SeatSpec], judge_model_id: int,
                  panel_model_ids: list[int] = (), budget_usd: float | None = None, blind_seats: bool = True,
                  swap_check: bool = True, tags: list[str] = (), format: str = DEFAULT_FORMAT,
                  early_stop: bool = False, created_by=None) -> Debate:
    topic = (topic or "").strip()
    panel_model_ids = list(panel_model_ids)
    errors, usable, personas = _shape_problems(topic=topic, rounds=rounds, format=format, seats=seats,
                                               judge_model_id=judge_model_id, panel_model_ids=panel_model_ids)
    wanted = [judge_model_id, *panel_model_ids, *(s.model_id for s in seats)]
    if problem := _budget_problem(budget_usd, [usable[i] for i in wanted if i in usable]):
        errors["budget_usd"] = [problem]
    tags = sorted({tag.strip().lower() for tag in tags if tag.strip()})
    if problem := _tags_problem(tags):
        errors["tags"] = [problem]
    if not errors:
        errors.update(_window_problems([usable[i] for i in [judge_model_id, *panel_model_ids]], topic=topic,
                                       seats=[(s.stance, s.max_tokens) for s in seats], rubric=[c.as_view() for c in Criterion.objects.rubric()]))
    if errors:
        raise DebateValidationError("The debate cannot be created as given.", errors=errors)

    debate = Debate.objects.create(topic=topic, rounds=rounds, judge_model=usable[judge_model_id],
                                   budget_usd=budget_usd, blind_seats=blind_seats, swap_check=swap_check,
                                   format=format, early_stop=early_stop, created_by=created_by)
    PanelJudge.objects.bulk_create(PanelJudge(debate=debate, position=position, model=usable[model_id])
                                   for position, model_id in enumerate(panel_model_ids, start=2))
    debate.tags.set([Tag.objects.get_or_create(name=name)[0] for name in tags])
    names = _display_names(seats, usable, personas)
    for position, (spec, name) in enumerate(zip(seats, names), start=1):
        persona = personas.get(spec.persona) if spec.persona else None
        stance = spec.stance.strip()
        Seat.objects.create(
            debate=debate, position=position, display_name=name, stance=stance, persona=persona,
            model=usable[spec.model_id], temperature=spec.temperature, max_tokens=spec.max_tokens,
            system_prompt=spec.system_prompt.strip() or _default_prompt(position=position, name=name, stance=stance,
                                                                        persona=persona, blind=blind_seats),
        )
    return debate


def _shape_problems(*, topic: str, rounds: int, format: str, seats: list[SeatSpec], judge_model_id: int,
                    panel_model_ids: list[int]) -> tuple[dict[str, list[str]], dict[int, LLMModel], dict[str, Persona]]:
    """What keeps this debate from being run (its motion, rounds, format, seats and judges), with the usable models
    and enabled personas it names."""
    errors: dict[str, list[str]] = {}
    if not topic:
        errors["topic"] = ["Enter the motion to debate."]
    elif len(topic) > 500:
        errors["topic"] = ["Keep the motion under 500 characters."]
    if not MIN_ROUNDS <= rounds <= MAX_ROUNDS:
        errors["rounds"] = [f"Choose between {MIN_ROUNDS} and {MAX_ROUNDS} rounds."]
    if format not in FORMATS:
        errors["format"] = [f"Choose a format: {', '.join(FORMATS)}."]
    elif "rounds" not in errors and (problem := rounds_problem(format, rounds)):
        errors["rounds"] = [problem]
    if not MIN_SEATS <= len(seats) <= MAX_SEATS:
        errors["seats"] = [f"A debate needs {MIN_SEATS} to {MAX_SEATS} seats, not {len(seats)}."]
    # An id past the database's integer range is simply not a model (SQLite would overflow on it).
    wanted = [i for i in [judge_model_id, *panel_model_ids] + [s.model_id for s in seats] if 0 < i < 2**63]
    usable = LLMModel.objects.usable().in_bulk(wanted)
    if judge_model_id not in usable:
        errors["judge_model_id"] = ["Choose an enabled model for the judge."]
    if problem := _panel_problem(judge_model_id, panel_model_ids, usable):
        errors["panel_model_ids"] = [problem]
    personas = Persona.objects.filter(enabled=True).in_bulk([s.persona for s in seats if s.persona],
                                                            field_name="slug")
    for index, spec in enumerate(seats):
        for field, message in _seat_problems(spec, usable, personas):
            errors.setdefault(f"seats.{index}.{field}", []).append(message)
    return errors, usable, personas


def stored_shape_problems(debate_id: int) -> dict[str, list[str]]:
    """The same of a debate as it is stored: a draft added in admin never went through debate_create, and a
    model may have been disabled since. Its personas are already in its seats' prompts: not asked again."""
    debate = Debate.objects.select_related("judge_model").get(pk=debate_id)
    seats = list(debate.seats.select_related("model").order_by("position"))
    specs = [SeatSpec(model_id=seat.model_id, stance=seat.stance, display_name=seat.display_name,
                      temperature=seat.temperature, max_tokens=seat.max_tokens) for seat in seats]
    panel = [place.model for place in debate.panel.select_related("model").order_by("position")]
    errors, usable, _ = _shape_problems(topic=debate.topic.strip(), rounds=debate.rounds, format=debate.format,
                                        seats=specs, judge_model_id=debate.judge_model_id,
                                        panel_model_ids=[model.pk for model in panel])
    # Its models are chosen already: say which one is off and how to turn it back on, not "choose".
    for index, seat in enumerate(seats):
        if seat.model_id not in usable:
            errors[f"seats.{index}.model_id"] = [f"{seat.model.display_name} is disabled (or its provider is): "
                                                 "enable it in admin to run this debate."]
    if debate.judge_model_id not in usable:
        errors["judge_model_id"] = [f"The judge, {debate.judge_model.display_name}, is disabled (or its provider "
                                    "is): enable it in admin to run this debate."]
    if off := [model.display_name for model in panel if model.pk not in usable]:
        errors["panel_model_ids"] = [f"Of the panel, {', '.join(off)} {'is' if len(off) == 1 else 'are'} disabled "
                                     "(or a provider is): enable them in admin to run this debate."]
    names = [seat.display_name.strip() for seat in seats]
    for index, name in enumerate(names):
        if not name:
            errors.setdefault(f"seats.{index}.display_name", []).append("Name the seat: the transcript shows it.")
        elif names.index(name) < index:  # two seats of one name make the transcript ambiguous
            errors.setdefault(f"seats.{index}.display_name", []).append(
                f"Seat {names.index(name) + 1} is named {name!r} too: give each seat its own name.")
    return errors


def _default_prompt(*, position: int, name: str, stance: str, persona: Persona | None, blind: bool) -> str:
    return seat_system_prompt(display_name=speaker_label(position) if blind else name, stance=stance,
                              persona_prompt=persona.render(stance) if persona else "")


def _seat_problems(spec: SeatSpec, usable: dict, personas: dict):
    if spec.model_id not in usable:
        yield "model_id", "Choose an enabled model."
    if not (spec.stance or "").strip():
        yield "stance", "Enter the seat's stance, for example 'for' or 'against'."
    elif len(spec.stance) > 100:
        yield "stance", "Keep the stance under 100 characters."
    if spec.persona and spec.persona not in personas:
        yield "persona", f"There is no persona '{spec.persona}'."
    if not 0.0 <= spec.temperature <= 2.0:
        yield "temperature", "Choose a temperature from 0 to 2."
    if not 16 <= spec.max_tokens <= 8192:
        yield "max_tokens", "Choose max tokens from 16 to 8192."
    if len(spec.display_name) > 100:
        yield "display_name", "Keep the name under 100 characters."


MAX_TAGS = 10
TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def _tags_problem(tags: list[str]) -> str:
    if len(tags) > MAX_TAGS:
        return f"Give at most {MAX_TAGS} tags."
    if bad := [tag for tag in tags if not TAG_PATTERN.match(tag)]:
        return (f"A tag is up to 40 lowercase letters, digits and hyphens (not: {', '.join(bad[:3])}).")
    return ""


def _panel_problem(judge_model_id: int, panel_model_ids: list[int], usable: dict) -> str:
    """Why these further judges cannot sit on the panel beside the lead judge, or ""."""
    if len(panel_model_ids) > MAX_PANEL - 1:
        return f"A panel has at most {MAX_PANEL} judges: choose at most {MAX_PANEL - 1} besides the lead judge."
    if len(set(panel_model_ids)) < len(panel_model_ids) or judge_model_id in panel_model_ids:
        return "Each judge sits on the panel once: choose different models, none of them the lead judge."
    if unknown := [str(i) for i in panel_model_ids if i not in usable]:
        return f"Choose enabled models for the panel (not: {', '.join(unknown)})."
    return ""


def _window_problems(judges: list[LLMModel], *, topic: str, seats: list[tuple[str, int]],
                     rubric: list[CriterionView]) -> dict[str, list[str]]:
    """The judges whose window cannot hold a round and the verdict, under the field that chose them."""
    errors: dict[str, list[str]] = {}
    for position, model in enumerate(judges, start=1):
        if problem := judge.window_problem(model, topic=topic, seats=seats, rubric=rubric):
            errors.setdefault("judge_model_id" if position == 1 else "panel_model_ids", []).append(problem)
    return errors


def _budget_problem(budget_usd: float | None, models: list[LLMModel]) -> str:
    """Why this budget cannot be set for a debate of these models (and their fallbacks), or ""."""
    if budget_usd is None:
        return ""
    if isinstance(budget_usd, bool) or not isinstance(budget_usd, (int, float)) or not math.isfinite(budget_usd) \
            or not 0 <= budget_usd <= MAX_BUDGET_USD:
        return f"Enter a budget from 0 to {MAX_BUDGET_USD:,.0f} USD, or none."
    return budget.unpriced_problem([row for model in models for row in model.answer_chain()])


def _display_names(seats: list[SeatSpec], models: dict, personas: dict) -> list[str]:
    """Each seat's name, all different: two seats with one name would make the transcript ambiguous, for readers
    and for the models. A shared name gets its seat's number ("Ada #2"), or the next free one when another seat is
    called that already; every name fits the column (a model's display name may be longer)."""
    limit = Seat._meta.get_field("display_name").max_length
    names = []
    for spec in seats:
        persona = personas.get(spec.persona) if spec.persona else None
        name = spec.display_name.strip() or (persona.name if persona else models[spec.model_id].display_name)
        names.append(name[:limit].rstrip())
    taken = set(names)
    unique = []
    for position, name in enumerate(names, start=1):
        if names.count(name) > 1:
            number = position
            while (numbered := _numbered(name, number, limit)) in taken:
                number += 1
            taken.add(numbered)
            name = numbered
        unique.append(name)
    return unique


def _numbered(name: str, number: int, limit: int) -> str:
    suffix = f" #{number}"
    return name[:limit - len(suffix)].rstrip() + suffix


# ---- replay ------------------------------------------------------------------------------------
REPLAYABLE = (DebateStatus.COMPLETED, DebateStatus.FAILED, DebateStatus.CANCELLED)


@transaction.atomic
def debate_replay(*, debate_id: int, model_id: int, seat_id: int | None = None, by=None) -> Debate:
    """A new draft of the same debate (topic, format, seats, settings, panel, tags and rubric) with one change:
    seat `seat_id`'s model, or, without a seat, the lead judge, replaced by `model_id`."""
    original = _get(debate_id)
    if original.status not in REPLAYABLE:
        raise DebateStateError(f"This debate is {original.display_status}; only a finished, failed or cancelled "
                               "debate can be replayed.")
    model = LLMModel.objects.usable().filter(pk=model_id).first() if 0 < model_id < 2**63 else None
    seats = list(original.seats.select_related("model").order_by("position"))
    seat = next((s for s in seats if s.pk == seat_id), None)
    errors = {}
    if model is None:
        errors["model_id"] = ["Choose an enabled model."]
    if seat_id is not None and seat is None:
        errors["seat_id"] = ["Choose a seat of this debate, or none to replace the judge."]
    if errors:
        raise DebateValidationError("The replay cannot be made as given.", errors=errors)
    was = seat.model if seat else original.judge_model
    panel = [place.model for place in original.panel.select_related("model__provider")]
    judges = [original.judge_model if seat else model, *panel]
    if was.pk == model.pk:
        errors["model_id"] = [f"{'That seat' if seat else 'The judge'} already uses {model.display_name}: "
                              "choose another."]
    elif not seat and model in panel:
        errors["model_id"] = [f"{model.display_name} already sits on the panel: choose another judge."]
    elif problem := _budget_problem(original.budget_usd, [model]):
        errors["model_id"] = [problem]
    elif window := _window_problems(judges, topic=original.topic, seats=[(s.stance, s.max_tokens) for s in seats],
                                    rubric=[c.as_view() for c in original.rubric()]):
        errors["model_id"] = [message for messages in window.values() for message in messages]
    if errors:
        raise DebateValidationError("The replay cannot be made as given.", errors=errors)
    who = f"{seat.display_name}'s model" if seat else "the judge"
    replay = Debate.objects.create(
        topic=original.topic, rounds=original.rounds, format=original.format, early_stop=original.early_stop,
        judge_model=original.judge_model if seat else model, budget_usd=original.budget_usd,
        blind_seats=original.blind_seats, swap_check=original.swap_check, created_by=by, replay_of=original,
        replay_change=f"{who}: {was.display_name} → {model.display_name}")
    PanelJudge.objects.bulk_create(PanelJudge(debate=replay, position=position, model=judge)
                                   for position, judge in enumerate(panel, start=2))
    replay.tags.set(original.tags.all())
    # The same rubric as the original's (its copy), so both verdicts are scored alike; a draft has none yet.
    DebateCriterion.objects.bulk_create(
        DebateCriterion(debate=replay, position=c.position, key=c.key, name=c.name, description=c.description,
                        weight=c.weight) for c in original.criteria.all())
    Seat.objects.bulk_create(Seat(
        debate=replay, position=s.position, display_name=s.display_name, stance=s.stance, persona_id=s.persona_id,
        system_prompt=s.system_prompt, model=model if s.pk == seat_id else s.model, temperature=s.temperature,
        max_tokens=s.max_tokens) for s in seats)
    return replay


# ---- lifecycle ---------------------------------------------------------------------------------
def _get(debate_id: int, *, by=None, lock: bool = False) -> Debate:
    """The debate, if it exists and `by` may change it; `by=None` is an operator at the terminal."""
    query = Debate.objects.select_for_update() if lock else Debate.objects
    try:
        debate = query.get(pk=debate_id)
    except Debate.DoesNotExist:
        raise DebateNotFound(f"There is no debate {debate_id}.") from None
    if by is not None and not debate.can_be_changed_by(by):
        raise DebatePermissionError("Only the person who created this debate, or staff, may change it.")
    return debate


@transaction.atomic
def debate_mark_started(*, debate_id: int, by=None) -> Debate:
    debate = _get(debate_id, by=by, lock=True)
    if not debate.can_start:
        raise DebateStateError(f"This debate is {debate.display_status}; only a draft can be started.")
    debate.status, debate.heartbeat_at = DebateStatus.RUNNING, timezone.now()
    debate.save(update_fields=["status", "heartbeat_at"])
    # A seat added in admin has no prompt of its own: it gets the one debate_create gives, from the settings the
    # draft starts with (else the model would be asked to speak without being told it debates, or for whom).
    for position, seat in enumerate(debate.seats.select_related("persona").order_by("position"), start=1):
        if not seat.system_prompt.strip():
            seat.system_prompt = _default_prompt(position=position, name=seat.display_name, stance=seat.stance,
                                                 persona=seat.persona, blind=debate.blind_seats)
            seat.save(update_fields=["system_prompt"])
    return debate


@transaction.atomic
def debate_mark_resumed(*, debate_id: int, by=None, budget_usd=UNCHANGED) -> Debate:
    """Resumed, with a new budget if one is given: set here, with the rest, so that a resume refused (a debate
    that cannot resume, a budget that cannot be) changes nothing."""
    debate = _get(debate_id, by=by, lock=True)
    if not debate.can_resume:
        raise DebateStateError(f"This debate is {debate.display_status}; only a failed, cancelled or "
                               "interrupted debate can be resumed.")
    # A cancel asked of a runner that had died meanwhile was never acted on: it must not cancel this new run.
    changed = ["status", "heartbeat_at", "failure_reason", "runner_token", "runner", "cancel_requested"]
    debate.cancel_requested = False
    if budget_usd is not UNCHANGED:
        _check_budget(debate_id, budget_usd)
        debate.budget_usd = budget_usd
        changed.append("budget_usd")
    # Failed, cancelled or interrupted: no live runner. The lease is freed for the one about to be launched
    # (an interrupted runner that comes back finds it taken and stops: its writes are fenced).
    debate.status, debate.heartbeat_at, debate.failure_reason = DebateStatus.RUNNING, timezone.now(), ""
    debate.runner_token = debate.runner = ""
    debate.save(update_fields=changed)
    return debate


async def debate_start(*, debate_id: int, by=None) -> Debate:
    """Start a draft as a background task of this server process, once each of its models can answer."""
    debate = await database_sync_to_async(_get)(debate_id, by=by)
    if debate.can_start:  # else marking it started says why it cannot, without a call to any model
        await debate_preflight(debate_id=debate_id)
    debate = await database_sync_to_async(debate_mark_started)(debate_id=debate_id, by=by)
    tasks.launch(debate.pk)
    return debate


async def debate_resume(*, debate_id: int, by=None, budget_usd=UNCHANGED) -> Debate:
    """Carry on from the last completed turn: completed turns stay, the cut one is rewritten. With a new budget
    (a float, or None for none) the pre-flight checks the debate against it, so a debate stopped by its budget can
    carry on with a higher one; it is saved only as the debate resumes."""
    debate = await database_sync_to_async(_get)(debate_id, by=by)
    if debate.can_resume:
        await debate_preflight(debate_id=debate_id, budget_usd=budget_usd)
    debate = await database_sync_to_async(debate_mark_resumed)(debate_id=debate_id, by=by, budget_usd=budget_usd)
    tasks.launch(debate.pk)
    return debate


@transaction.atomic
def debate_set_budget(*, debate_id: int, budget_usd: float | None, by=None) -> Debate:
    debate = _get(debate_id, by=by, lock=True)
    if debate.is_active and not debate.is_interrupted:
        raise DebateStateError("This debate is running; its budget can change once it has stopped.")
    _check_budget(debate_id, budget_usd)
    debate.budget_usd = budget_usd
    debate.save(update_fields=["budget_usd"])
    return debate


def _check_budget(debate_id: int, budget_usd: float | None) -> None:
    seats, judges, _, _ = _models_and_budget(debate_id)
    if problem := _budget_problem(budget_usd, [*(seat.model for seat in seats), *judges]):
        raise DebateValidationError("The budget cannot be set.", errors={"budget_usd": [problem]})


# ---- pre-flight --------------------------------------------------------------------------------
async def debate_preflight(*, debate_id: int, budget_usd=UNCHANGED) -> None:
    """Refuse (422, a reason per seat) to start a debate one of whose models cannot answer: nothing is spent.
    `budget_usd`: the budget it is about to run with, when not the one it has."""
    if errors := await database_sync_to_async(stored_shape_problems)(debate_id):
        raise DebateValidationError("The debate cannot run as it stands.", errors=errors)
    seats, judges, stored_budget, topic = await database_sync_to_async(_models_and_budget)(debate_id)
    budget_usd = stored_budget if budget_usd is UNCHANGED else budget_usd
    models = [seat.model for seat in seats]
    # A model that lost its price since the debate was created cannot keep the budget: refused, like a dead one.
    if problem := await database_sync_to_async(_budget_problem)(budget_usd, [*models, *judges]):
        raise DebateValidationError("The debate cannot start within its budget.", errors={"budget_usd": [problem]})
    # Likewise a judge whose window was made smaller than a round and its verdict (on the rubric it will copy).
    rubric = await database_sync_to_async(_debate_rubric)(debate_id)
    if errors := _window_problems(judges, topic=topic, seats=[(s.stance, s.max_tokens) for s in seats],
                                  rubric=rubric):
        raise DebateValidationError("The judge cannot read this debate.", errors=errors)
    await models_preflight(seat_models=models, judge_models=judges)


async def models_preflight(*, seat_models: list[LLMModel], judge_models: list[LLMModel]) -> None:
    """The same check for models about to be seated (the form and run_debate ask before they create anything)."""
    ready = await preflight.check_models([*seat_models, *judge_models])
    errors = {f"seats.{index}.model_id": [f"{model.display_name} cannot answer: {ready[model.pk].problem}"]
              for index, model in enumerate(seat_models) if not ready[model.pk].ok}
    for position, model in enumerate(judge_models, start=1):
        if not ready[model.pk].ok:
            errors.setdefault("judge_model_id" if position == 1 else "panel_model_ids", []).append(
                f"{model.display_name} cannot judge: {ready[model.pk].problem}")
    if errors:
        seats = ", ".join(f"seat {int(key.split('.')[1]) + 1}" for key in errors if key.startswith("seats."))
        judging = "judge_model_id" in errors or "panel_model_ids" in errors
        who = " and ".join(part for part in (seats, "the judge" if judging else "") if part)
        raise DebateValidationError(f"The debate cannot start: a model of {who} cannot answer. Nothing was "
                                    "spent.", errors=errors)


def _models_and_budget(debate_id: int) -> tuple[list[Seat], list[LLMModel], float | None, str]:
    """The debate's seats, its judges (lead first), budget and topic."""
    debate = Debate.objects.select_related("judge_model__provider").get(pk=debate_id)
    seats = list(debate.seats.select_related("model__provider").order_by("position"))
    judges = [debate.judge_model, *(place.model for place in debate.panel.select_related("model__provider"))]
    return seats, judges, debate.budget_usd, debate.topic


def _debate_rubric(debate_id: int) -> list[CriterionView]:
    return [c.as_view() for c in Debate.objects.get(pk=debate_id).rubric()]


async def debate_cancel(*, debate_id: int, by=None) -> Debate:
    debate = await database_sync_to_async(_get)(debate_id, by=by)
    if not debate.can_cancel:
        raise DebateStateError(f"This debate is {debate.display_status} and cannot be cancelled.")
    if tasks.cancel_here(debate_id):
        return debate  # the runner marks it cancelled and tells the watchers
    if debate.is_active and not debate.is_interrupted:
        # Its runner lives in another process: it sees the request at its next heartbeat.
        await database_sync_to_async(_set_cancel_requested)(debate_id)
        return debate
    await emit_once(debate_id, "debate.cancelled", {"status": DebateStatus.CANCELLED},
                    lambda: _mark_cancelled(debate_id))
    return await database_sync_to_async(_get)(debate_id)


def _set_cancel_requested(debate_id: int) -> None:
    Debate.objects.filter(pk=debate_id).update(cancel_requested=True)


def _mark_cancelled(debate_id: int) -> None:
    Turn.objects.filter(debate_id=debate_id).cut_off(DebateStatus.CANCELLED)
    Debate.objects.filter(pk=debate_id).update(status=DebateStatus.CANCELLED, finished_at=timezone.now(),
                                               cancel_requested=False)


@transaction.atomic
def debate_delete(*, debate_id: int, by=None) -> None:
    debate = _get(debate_id, by=by, lock=True)
    if debate.is_active and not debate.is_interrupted:
        raise DebateStateError("This debate is running; cancel it before deleting it.")
    debate.delete()
