"""Prints a debate's events to a terminal as they happen (for `run_debate` and `resume_debate`)."""
import asyncio
import sys
from typing import TextIO

from django.conf import settings

from debates.models import Debate
from debates.orchestrator import DebateRunner
from debates.transcripts import text_verdict


class TerminalPrinter:
    def __init__(self, debate: Debate, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.rounds = debate.rounds
        self.seats = {seat.pk: seat for seat in debate.seats.all()}
        self.round = 0

    def __call__(self, event: dict) -> None:
        handler = getattr(self, "on_" + event["type"].replace(".", "_"), None)
        if handler:
            handler(event["payload"])
        self.out.flush()

    def write(self, text: str) -> None:
        self.out.write(text)

    def on_round_started(self, payload: dict) -> None:
        self.round = payload["round"]

    def on_turn_started(self, payload: dict) -> None:
        self.written = 0  # characters of this turn's text written so far
        seat = self.seats[payload["seat_id"]]
        self.write(f"\n[round {payload['round']}/{self.rounds} · seat {seat.position}/{len(self.seats)}] "
                   f"{seat.display_name} ({seat.stance}, {seat.model.litellm_model_name}):\n")

    def on_turn_delta(self, payload: dict) -> None:
        # A delta repeats the text since the last save but one: write only what is new here.
        new = payload["text"][self.written - payload["offset"]:]
        self.written += len(new)
        self.write(new)

    def on_turn_reset(self, payload: dict) -> None:
        self.written = 0
        self.write(f"\n  [the attempt broke ({payload['reason']}); the turn starts again]\n")

    def on_turn_completed(self, payload: dict) -> None:
        tokens = payload["completion_tokens"]
        self.write(f"\n  ({tokens if tokens is not None else '?'} tokens, {payload['latency_ms']} ms)\n")
        if payload.get("fallback_reason"):
            self.write(f"  (answered by {payload['answered_by_model']} as a fallback: {payload['fallback_reason']})\n")

    def on_turn_failed(self, payload: dict) -> None:
        self.write(f"\n  !! turn failed ({payload['error_kind']}): {payload['error']}\n")

    def on_judging_started(self, payload: dict) -> None:
        self.write("\nThe judge is deliberating…\n")

    def on_verdict(self, payload: dict) -> None:
        # As the plain-text transcript words it: scores per criterion, the seat-swap check, the panel.
        seats = {pk: {"display_name": seat.display_name, "position": seat.position} for pk, seat in self.seats.items()}
        lines = text_verdict(payload["verdict"], seats)
        self.write("\nVerdict\n" + "\n".join(f"  {line}" if line else "" for line in lines) + "\n")

    def on_debate_completed(self, payload: dict) -> None:
        self.write("\nThe debate is complete.\n")

    def on_debate_failed(self, payload: dict) -> None:
        self.write(f"\nThe debate failed: {payload['reason']}\n")

    def on_debate_cancelled(self, payload: dict) -> None:
        self.write("\nThe debate was cancelled.\n")


def run_in_foreground(debate_id: int, out: TextIO = sys.stdout) -> Debate:
    """Run (or resume) a debate in this process, printing it live; returns the finished row."""
    debate = Debate.objects.prefetch_related("seats__model__provider").get(pk=debate_id)
    printer = TerminalPrinter(debate, out)
    asyncio.run(DebateRunner(debate_id, listener=printer).run())
    debate.refresh_from_db()
    out.write(f"Status: {debate.status}. Watch or share it at {settings.SITE_URL}/debates/{debate.pk}/\n")
    return debate
