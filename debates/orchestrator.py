"""Runs a debate's rounds: streams each turn through the gateway, commits it, then asks the judge.

It never sees a request, a socket or a template: it writes rows and emits events, nothing else.
"""
import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from debates import budget, convergence, judge, panel
from debates.events import DeltaBuffer, EventStream, LeaseLost, Listener, until_done
from debates.models import (
    Debate, DebateStatus, JudgeVerdict, Seat, SeatScore, Turn, TurnStatus, Verdict, VerdictReading,
)
from debates.leases import lease_expired, this_process
from debates.ledger import Ledger
from debates.row_writes import RowWrite, Writes
from debates.prompts import CriterionView, SeatView, SpokenTurn, seat_messages
from debates.snapshot import turn_dict, verdict_dict
from providers.llm import gateway
from providers.llm.errors import LLMError
from providers.models import LLMModel

logger = logging.getLogger("debates.orchestrator")
HEARTBEAT_SECONDS = 2.0  # a fifth of the lease (RUNNER_STALE_AFTER): a slow write or two never loses it
SERVER_STOPPING = "the server is stopping"  # the cancel message that means "interrupted", not "cancelled"
LEASE_LOST = "another runner holds this debate"  # the runner stops and writes nothing more
HEARTBEAT_FAILED = "the heartbeat failed"
# The debates this process is stopping because it shuts down (debates.tasks.stop_all). Kept beside the cancel
# message because a cancel that lands inside some awaits (a trip to the database thread) arrives without it.
stopped_by_server: set[int] = set()


class DebateStopped(Exception):
    """A turn or the judge failed; the message is the reason shown to the user."""


def _reason(who: str, error: LLMError) -> str:
    advice = "resuming may help" if error.retryable else "fix the model's settings, then resume"
    return f"{who} failed ({error.kind.replace('_', ' ')}; {advice}): {error}"


@dataclass
class DebatePlan:
    debate: Debate
    seats: list[Seat]
    transcript: list[SpokenTurn]
    done: set[tuple[int, int]]  # (seat id, round) of completed turns
    judge_ids: list[int]  # the panel, lead judge first
    rubric: list[CriterionView]  # the debate's own copy, taken when it first ran
    cut: list[Turn]  # turns left streaming by a runner that stopped without ending them (it died)
    unfinished: dict[tuple[int, int], int]  # (seat id, round): the id of a turn row that is there, not completed
    judged: bool = False  # its verdict is committed: a runner stopped between it and the debate's completion


class DebateRunner:
    def __init__(self, debate_id: int, *, listener: Listener | None = None, token: str = "") -> None:
        self.debate_id = debate_id
        self.listener = listener
        self.token = token  # a lease claimed for this runner already (debates.takeover), else it claims one
        self.events: EventStream | None = None
        self.ledger: Ledger | None = None  # what the debate spent as of the last commit, for the budget checks
        self.ending = False  # set as the ending event is committed
        self.unjudged: list[float | None] = []  # the judges' paid calls when every judge failed (Debate.unjudged_usd)

    async def run(self) -> None:
        token = self.token or uuid.uuid4().hex
        # The claim and the plan run to their end whatever cancel lands meanwhile (a Cancel right after Start, the
        # server stopping): the cancel then ends the debate as one during its turns does, never leaving the lease
        # held by a runner that is gone (a takeover would run the cancelled debate to its end).
        setting_up = asyncio.ensure_future(self._set_up(token))
        try:
            plan = await asyncio.shield(setting_up)
        except asyncio.CancelledError as cancel:
            await until_done(setting_up)
            if setting_up.cancelled() or setting_up.exception() is not None or setting_up.result() is None:
                raise
            self._ready(setting_up.result(), token)
            if await self._stopped(cancel, token):
                raise
            return
        if plan is None:
            logger.warning("debate %s: not run, another runner holds it", self.debate_id)
            return
        self._ready(plan, token)
        main = asyncio.current_task()
        # Supervised: a heartbeat that fails, or finds the lease taken, stops the runner (see _supervise).
        heartbeat = asyncio.create_task(self._beat(main, token))
        heartbeat.add_done_callback(lambda beat: _supervise(beat, main))
        try:
            await self._run(plan)
        except LeaseLost:
            logger.warning("debate %s: the lease was lost; this runner stops and writes nothing more",
                           self.debate_id)
        except asyncio.CancelledError as cancel:
            if await self._stopped(cancel, token):
                raise
        except DebateStopped as stopped:
            await self._finish_failed(str(stopped))
        except Exception as error:  # noqa: BLE001 - a bug must still end the debate visibly, not hang it
            logger.exception("debate %s crashed", self.debate_id)
            while isinstance(error, BaseExceptionGroup):  # a task group's (the judge's readings): name the cause
                error = error.exceptions[0]
            await self._finish_failed(f"internal error: {type(error).__name__}: {error}")
        finally:
            heartbeat.cancel()

    async def _set_up(self, token: str) -> DebatePlan | None:
        """The lease (unless claimed for this runner already), then the plan; None when another runner holds it."""
        if not self.token and not await database_sync_to_async(_claim)(self.debate_id, token):
            return None
        return await database_sync_to_async(_load_plan)(self.debate_id)

    def _ready(self, plan: DebatePlan, token: str) -> None:
        self.events = EventStream(self.debate_id, plan.debate.last_seq, listener=self.listener, token=token)
        self.ledger = Ledger.of(plan.debate, plan.seats)

    async def _stopped(self, cancel: asyncio.CancelledError, token: str) -> bool:
        """End the debate as the cancel means it; whether the cancel goes on up (the task was cancelled)."""
        if cancel.args == (LEASE_LOST,):
            logger.warning("debate %s: another runner took the lease; this one stops", self.debate_id)
            return False
        if cancel.args == (HEARTBEAT_FAILED,):
            await self._finish_failed("The runner could not keep its heartbeat (the database did not answer); "
                                      "resume it to carry on from the last completed turn.")
            return False
        if cancel.args == (SERVER_STOPPING,) or self.debate_id in stopped_by_server:
            stopped_by_server.discard(self.debate_id)
            if settings.AUTO_TAKEOVER:  # another process, or this server restarted, carries on at once
                await database_sync_to_async(_release)(self.debate_id, token)
                return True
            await self._finish_failed("The server running this debate stopped; resume it to carry on from "
                                      "the last completed turn.")
        else:
            await self._finish_cancelled()
        return True

    async def _run(self, plan: DebatePlan) -> None:
        for turn in plan.cut:  # its runner stopped mid-turn (the process died): what it said so far is void
            await self.events.emit(
                "turn.reset", {"turn_id": turn.pk, "seat_id": turn.seat_id, "round": turn.round,
                               "reason": "the process running this debate stopped"},
                lambda turn_id=turn.pk: Turn.objects.filter(pk=turn_id).update(text=""))
        await self.events.emit("debate.started", {"resumed": bool(plan.done or plan.cut)},
                               lambda: _mark_running(self.debate_id))
        debate, chosen = plan.debate, plan.debate.debate_format
        for round_number in range(1, debate.last_round + 1):
            pending = [seat for seat in plan.seats if (seat.pk, round_number) not in plan.done]
            if not pending:
                continue
            phase = chosen.phase_of(round_number, debate.rounds)
            await self.events.emit("round.started", {"round": round_number, "phase": phase.key,
                                                     "phase_name": phase.name},
                                   debate_fields={"current_round": round_number})
            for seat in pending:
                await self._turn(plan, seat, round_number)
            if debate.early_stop and 2 <= round_number < debate.rounds and await self._converged(plan, round_number):
                break
        if plan.judged:  # judged and paid for once: what watchers saw stays the verdict
            await self._end("debate.completed", {"status": DebateStatus.COMPLETED}, DebateStatus.COMPLETED)
            return
        await self._judge(plan)

    async def _converged(self, plan: DebatePlan, round_number: int) -> bool:
        """Ask the judge model whether the seats now agree; when they do, record where and why it stops."""
        model = await _fresh_model(plan.debate.judge_model_id)
        context = {"topic": plan.debate.topic, "seats": [_view(seat) for seat in plan.seats],
                   "transcript": plan.transcript}
        messages = convergence.messages_for(model, **context)
        await self._within_budget(plan, [(model, budget.prompt_tokens(messages), convergence.MAX_TOKENS)],
                                  f"the consensus check after round {round_number}")
        try:
            found = await convergence.ask(model, **context)
        except LLMError as error:
            raise DebateStopped(_reason(f"The consensus check after round {round_number}", error)) from error
        reason = (f"Stopped early after round {round_number} of {plan.debate.rounds}: the seats agree. "
                  f"{found.reason}").strip() if found.converged else ""
        payload = {"round": round_number, "converged": found.converged, "reason": reason}

        def save() -> dict:
            _record_convergence(self.debate_id, round_number if found.converged else None, reason, found.cost_usd)
            return {"spend": self._refresh_spend()}

        await self.events.emit("round.checked", payload, save)
        if found.converged:
            plan.debate.stopped_after_round, plan.debate.early_stop_reason = round_number, reason
        return found.converged

    # ---- one turn -----------------------------------------------------------------------------
    async def _turn(self, plan: DebatePlan, seat: Seat, round_number: int) -> None:
        model = await _fresh_model(seat.model_id)  # an admin's edit applies from the next turn
        debate = plan.debate
        messages = seat_messages(topic=debate.topic, seat=_view(seat), round_number=round_number,
                                 rounds=debate.rounds, transcript=plan.transcript,
                                 context_window=model.context_window, max_tokens=seat.max_tokens,
                                 blind=debate.blind_seats, phase=debate.debate_format.brief_of(round_number,
                                                                                              debate.rounds))
        await self._within_budget(plan, [(model, budget.prompt_tokens(messages), seat.max_tokens)],
                                  f"{seat.display_name}'s turn in round {round_number}")
        turn = await self._start_turn(plan, seat, round_number)
        buffer = DeltaBuffer(self.events, turn)
        try:
            answer = None
            async for item in gateway.stream_answer(model, messages, temperature=seat.temperature,
                                                    max_tokens=seat.max_tokens):
                if isinstance(item, gateway.Answer):
                    answer = item
                elif isinstance(item, gateway.StreamReset):
                    await buffer.reset(item.reason)
                else:
                    await buffer.add(item)
            await buffer.flush(persist=False)  # turn.completed, next, saves the whole text
        except LLMError as error:
            kind, message = error.kind, str(error)
            await self.events.emit("turn.failed", {"turn_id": turn.pk, "seat_id": seat.pk, "round": round_number,
                                                   "text": buffer.text, "error_kind": kind, "error": message,
                                                   "retryable": error.retryable},
                                   lambda: _fail_turn(turn.pk, buffer.text, kind, message))
            raise DebateStopped(_reason(f"{seat.display_name}'s turn in round {round_number}", error)) from error
        else:
            await self._complete_turn(turn, answer)
        finally:
            buffer.close()
        plan.transcript.append(SpokenTurn(round=round_number, position=seat.order, speaker=seat.display_name,
                                          stance=seat.stance, text=answer.result.text,
                                          phase=debate.debate_format.label_of(round_number, debate.rounds)))

    async def _within_budget(self, plan: DebatePlan, calls: list[tuple[LLMModel, int, int]], what: str) -> None:
        """Stop before `calls` ((model, prompt tokens, max tokens) each) when at worst they would pass the budget."""
        if plan.debate.budget_usd is None:
            return
        chains = [model.answer_chain() for model, _, _ in calls]  # fetched with the rows (_fresh_model): no query
        worst = [budget.worst_case_cost(chain, prompt, max_tokens)
                 for chain, (_, prompt, max_tokens) in zip(chains, calls)]
        try:
            budget.check(budget=plan.debate.budget_usd, spent=self.ledger.spent_usd, what=what,
                         chain=[row for chain in chains for row in chain], worst=None if None in worst else sum(worst))
        except budget.OverBudget as over:
            raise DebateStopped(str(over)) from None

    async def _start_turn(self, plan: DebatePlan, seat: Seat, round_number: int) -> Turn:
        existing = plan.unfinished.get((seat.pk, round_number))
        # A retried turn rewrites its row: there is exactly one turn per seat and round. The lease fences writers,
        # so the rows the plan read are all there are (update_or_create took six statements: a locking read, an
        # insert and two savepoints).
        turn = Turn(pk=existing, seat=seat, round=round_number, debate_id=self.debate_id,
                    status=TurnStatus.STREAMING, started_at=timezone.now())

        def started(ids: list[int]) -> dict:
            turn.pk = existing if existing is not None else ids[0]
            return {"turn": turn_dict(turn)}

        await self.events.emit("turn.started", {"seat_id": seat.pk, "round": round_number,
                                                "display_name": seat.display_name},
                               Writes([RowWrite.save(turn, insert=existing is None)], then=started))
        return turn

    async def _complete_turn(self, turn: Turn, answer: gateway.Answer) -> None:
        result = answer.result
        turn.status, turn.text, turn.completed_at = TurnStatus.COMPLETED, result.text, timezone.now()
        turn.prompt_tokens, turn.completion_tokens = result.prompt_tokens, result.completion_tokens
        turn.latency_ms, turn.cost_usd, turn.answered_by = result.latency_ms, result.cost_usd, result.model
        turn.answered_by_model, turn.fallback_reason = answer.model, answer.fallback_reason

        counted = self.ledger.with_turn(turn.seat_id, turn.cost_usd)
        await self.events.emit("turn.completed", {**turn_dict(turn), "spend": counted.spend()},
                               Writes([RowWrite.save(turn, insert=False), counted.seat_row(turn.seat_id)]),
                               debate_fields=counted.debate_fields())
        self.ledger = counted  # once the rows hold it

    # ---- the verdict --------------------------------------------------------------------------
    async def _judge(self, plan: DebatePlan) -> None:
        judges = [await _fresh_model(judge_id) for judge_id in plan.judge_ids]
        seats = [_view(seat) for seat in plan.seats]
        # The judge reads the phases the format has it read (every phase of the built-in formats).
        judged = [turn for turn in plan.transcript
                  if plan.debate.debate_format.judged(turn.round, plan.debate.rounds)]
        context = {"topic": plan.debate.topic, "seats": seats, "rubric": plan.rubric, "transcript": judged}
        calls = [(model, *size) for model in judges for size in judge.call_sizes(model, **context)]
        swap, skipped = plan.debate.swap_check, ""
        try:
            await self._within_budget(plan, calls * (2 if swap else 1), "the verdict")
        except DebateStopped:
            if not swap:
                raise
            # On by default when affordable: a budget that pays for one reading per judge gets that, and says so.
            await self._within_budget(plan, calls, "the verdict")
            swap, skipped = False, "Seat-swap check skipped: the budget could not pay for a second reading."
        await self.events.emit("judging.started", {"judges": len(judges)},
                               debate_fields={"status": DebateStatus.JUDGING})
        names = {seat.order: seat.display_name for seat in plan.seats}
        # Every judge at once, each with its readings; a judge's LLMError stays on its result, leaving the others be.
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(panel.judge_alone(model, swap=swap, skipped=skipped, names=names, **context))
                     for model in judges]
        results = [task.result() for task in tasks]
        if all(result.error for result in results):
            first = results[0]
            self.unjudged = [cost for result in results for cost in result.spent]  # counted as the debate fails
            raise DebateStopped(_reason(f"The judge ({first.model.litellm_model_name})", first.error)) from first.error
        combined = panel.combine_panel(results, names, plan.rubric)

        def save() -> dict:
            verdict = verdict_dict(_save_verdict(plan, results, combined))
            return {"verdict": verdict, "spend": self._refresh_spend()}

        await self.events.emit("verdict", {}, save)
        await self._end("debate.completed", {"status": DebateStatus.COMPLETED}, DebateStatus.COMPLETED)

    def _refresh_spend(self) -> dict:
        """Recompute the ledger from the rows (in the commit's worker thread): the round checks and the verdict."""
        spend = Debate.objects.get(pk=self.debate_id).refresh_spend()
        self.ledger.reload(spend)
        return spend

    # ---- endings ------------------------------------------------------------------------------
    async def _finish_failed(self, reason: str) -> None:
        costs = self.unjudged

        def count_unjudged() -> dict:
            _record_unjudged(self.debate_id, costs)
            return {"spend": self._refresh_spend()}

        await self._end("debate.failed", {"status": DebateStatus.FAILED, "reason": reason}, DebateStatus.FAILED, reason,
                        count_unjudged if costs else None)

    async def _finish_cancelled(self) -> None:
        await self._end("debate.cancelled", {"status": DebateStatus.CANCELLED}, DebateStatus.CANCELLED)

    async def _end(self, event_type: str, payload: dict, status: str, reason: str = "",
                   also: Callable[[], dict] | None = None) -> None:
        """`also`: more to write in the ending commit (what it returns is added to the payload)."""
        # The ending commit frees the lease: a heartbeat that finds it free from then on is not looking at a theft.
        self.ending = True

        def finish() -> dict | None:
            _finish(self.debate_id, status, reason)
            return also() if also else None

        await self.events.emit(event_type, payload, finish)

    async def _beat(self, main: asyncio.Task, token: str) -> None:
        """Renew the lease (other processes see the debate alive) and stop the runner when one of them asks for a
        cancel, or has taken the lease."""
        while True:
            held, cancel = await database_sync_to_async(_beat_once)(self.debate_id, token)
            if self.ending:  # the runner freed the lease itself, ending the debate
                return
            if not held:
                main.cancel(LEASE_LOST)
                return
            if cancel:
                main.cancel()
                return
            await asyncio.sleep(HEARTBEAT_SECONDS)


# ---- database work, run in a worker thread ---------------------------------------------------
def _load_plan(debate_id: int) -> DebatePlan:
    debate = Debate.objects.get(pk=debate_id)
    seats = list(debate.seats.select_related("model__provider").order_by("position"))
    for order, seat in enumerate(seats, start=1):
        # 1, 2, 3... in speaking order whatever the stored positions: the labels (A, B, C...) and the seat-swap
        # check's reversal count on it.
        seat.order = order
    names = {seat.pk: seat for seat in seats}
    turns = list(debate.turns.order_by("round", "seat__position"))
    completed = [turn for turn in turns if turn.status == TurnStatus.COMPLETED]
    label = debate.debate_format.label_of
    transcript = [SpokenTurn(round=t.round, position=names[t.seat_id].order, speaker=names[t.seat_id].display_name,
                             stance=names[t.seat_id].stance, text=t.text, phase=label(t.round, debate.rounds))
                  for t in completed]
    debate.copy_rubric()
    return DebatePlan(debate=debate, seats=seats, transcript=transcript, done={(t.seat_id, t.round) for t in completed},
                      judge_ids=debate.judge_model_ids(), rubric=[c.as_view() for c in debate.criteria.all()],
                      cut=[turn for turn in turns if turn.status == TurnStatus.STREAMING],
                      unfinished={(t.seat_id, t.round): t.pk for t in turns if t.status != TurnStatus.COMPLETED},
                      judged=Verdict.objects.filter(debate=debate).exists())


@database_sync_to_async
def _fresh_model(model_id: int) -> LLMModel:
    return LLMModel.objects.get_with_answer_chain(model_id)  # the gateway then reads no fallbacks itself


def _view(seat: Seat) -> SeatView:
    return SeatView(position=seat.order, display_name=seat.display_name, stance=seat.stance,
                    system_prompt=seat.system_prompt)


def _mark_running(debate_id: int) -> None:
    """Running: a cancel asked meanwhile (cancel_requested, from another process) stays asked, and the heartbeat
    acts on it; the flag is cleared where a new run is asked for (debate_mark_resumed)."""
    now = timezone.now()
    Debate.objects.filter(pk=debate_id).update(
        status=DebateStatus.RUNNING, failure_reason="", heartbeat_at=now, finished_at=None,
        started_at=Coalesce(F("started_at"), Value(now)))


def _supervise(beat: asyncio.Task, main: asyncio.Task) -> None:
    """The heartbeat's end: cancelled with the runner (nothing to do), or failed, which stops the runner cleanly."""
    if beat.cancelled() or beat.exception() is None:
        return
    logger.error("debate heartbeat failed", exc_info=beat.exception())
    if not main.done():
        main.cancel(HEARTBEAT_FAILED)


def _claim(debate_id: int, token: str) -> bool:
    """Take the lease: free, or its holder silent for RUNNER_STALE_AFTER. One claimer wins; the rest see 0 rows."""
    free = Q(runner_token="") | lease_expired()
    return bool(Debate.objects.filter(free, pk=debate_id).update(runner_token=token, runner=this_process(),
                                                                 heartbeat_at=timezone.now()))


def _release(debate_id: int, token: str) -> None:
    """Give the lease up, leaving the debate active: any process may take it over at once (debates.takeover)."""
    Debate.objects.filter(pk=debate_id, runner_token=token).update(runner_token="", runner="", heartbeat_at=None)


def _beat_once(debate_id: int, token: str) -> tuple[bool, bool]:
    """(whether this runner still holds the lease, whether a cancel was asked)."""
    held = Debate.objects.filter(pk=debate_id, runner_token=token).update(heartbeat_at=timezone.now())
    return bool(held), held and Debate.objects.filter(pk=debate_id, cancel_requested=True).exists()


def _record_convergence(debate_id: int, stopped_after: int | None, reason: str, cost_usd: float | None) -> None:
    debate = Debate.objects.get(pk=debate_id)
    if cost_usd is None:
        debate.convergence_unpriced += 1
    else:
        debate.convergence_usd += cost_usd
    debate.stopped_after_round, debate.early_stop_reason = stopped_after, reason
    debate.save(update_fields=["convergence_usd", "convergence_unpriced", "stopped_after_round", "early_stop_reason"])


def _record_unjudged(debate_id: int, costs: list[float | None]) -> None:
    Debate.objects.filter(pk=debate_id).update(unjudged_usd=F("unjudged_usd") + sum(c for c in costs if c is not None),
                                               unjudged_unpriced=F("unjudged_unpriced") + costs.count(None))


def _fail_turn(turn_id: int, text: str, kind: str, message: str) -> None:
    Turn.objects.filter(pk=turn_id).update(status=TurnStatus.FAILED, text=text, error_kind=kind,
                                           error_message=message, completed_at=timezone.now())


def _finish(debate_id: int, status: str, reason: str = "") -> None:
    Turn.objects.filter(debate_id=debate_id).cut_off(status)
    Debate.objects.filter(pk=debate_id).update(status=status, failure_reason=reason, finished_at=timezone.now(),
                                               cancel_requested=False, runner_token="", runner="")  # the lease is free


def _save_verdict(plan: DebatePlan, results: list[panel.JudgeResult], combined: panel.PanelVerdict) -> Verdict:
    """The panel's verdict, each judge's verdict, and each reading as its judge gave it."""
    seats = {seat.order: seat for seat in plan.seats}
    parsed, lead = combined.verdict, results[0]
    outcomes = [outcome for result in results for outcome in result.outcomes]
    costs = [cost for result in results for cost in result.spent]  # a failed judge's paid calls too
    Verdict.objects.filter(debate_id=plan.debate.pk).delete()  # a resumed debate is judged afresh
    verdict = Verdict.objects.create(
        debate_id=plan.debate.pk, judge_model=lead.model, **_answered(lead),
        cost_usd=None if None in costs else sum(costs), raw_text=lead.outcomes[0].raw_text if lead.outcomes else "",
        parsed=parsed is not None, parse_error="" if parsed else _parse_error(lead), repaired=any(o.repaired for o in outcomes),
        summary=parsed.summary if parsed else "", key_arguments=parsed.key_arguments if parsed else [],
        winner=seats[parsed.winner] if parsed and parsed.winner else None,
        swap_held=combined.held, swap_note=lead.combined.note if len(results) == 1 and lead.combined else "",
        agreement=combined.agreement, panel_note=combined.note,
    )
    if parsed:
        SeatScore.objects.bulk_create(
            SeatScore(verdict=verdict, seat=seats[s.seat], score=s.score, criteria=_criteria(s)) for s in parsed.scores)
    for position, result in enumerate(results, start=1):
        mine = result.verdict
        row = JudgeVerdict.objects.create(
            verdict=verdict, position=position, judge_model=result.model, **_answered(result),
            cost_usd=result.cost_usd, error=str(result.error) if result.error else "",
            raw_text=result.outcomes[0].raw_text if result.outcomes else "", parsed=mine is not None,
            parse_error="" if mine else _parse_error(result), repaired=any(o.repaired for o in result.outcomes),
            summary=mine.summary if mine else "", key_arguments=mine.key_arguments if mine else [],
            winner=seats[mine.winner] if mine and mine.winner else None, scores=_scores(mine, seats),
            swap_held=result.combined.held if result.combined else None,
            swap_note=result.combined.note if result.combined else "")
        VerdictReading.objects.bulk_create(VerdictReading(
            judge=row, swapped=outcome.swapped, answered_by_model=outcome.answer.model,
            cost_usd=outcome.cost_usd, raw_text=outcome.raw_text, parsed=outcome.verdict is not None,
            parse_error=outcome.parse_error, winner=seats[outcome.verdict.winner] if outcome.verdict else None,
            scores=_scores(outcome.verdict, seats),
        ) for outcome in result.outcomes)
    return verdict


def _answered(result: panel.JudgeResult) -> dict:
    """Which row answered this judge's (first) reading, and why not the judge itself."""
    if not result.outcomes:
        return {"answered_by": "", "answered_by_model": None, "fallback_reason": ""}
    answer = result.outcomes[0].answer
    return {"answered_by": answer.result.model, "answered_by_model": answer.model,
            "fallback_reason": answer.fallback_reason}


def _parse_error(result: panel.JudgeResult) -> str:
    if result.error is not None:
        return f"The judge's calls failed: {result.error}"
    return next((outcome.parse_error for outcome in result.outcomes if outcome.parse_error), "")


def _criteria(score: judge.SeatScoreData) -> list[dict]:
    return [{"key": c.key, "score": c.score, "reasoning": c.reasoning} for c in score.criteria]


def _scores(verdict: judge.ParsedVerdict | None, seats: dict[int, Seat]) -> list[dict]:
    return [{"seat_id": seats[s.seat].pk, "score": s.score, "criteria": _criteria(s)}
            for s in (verdict.scores if verdict else [])]
