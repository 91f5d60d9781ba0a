"""Run a debate from the terminal, printing every turn as it is written."""
from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError

from debates.services import DebateError, SeatSpec, debate_create, debate_mark_started, error_text, models_preflight
from debates.terminal import run_in_foreground
from providers.models import LLMModel


class Command(BaseCommand):
    help = ('Run a debate and print it live, e.g. run_debate --topic "..." --seat openai/gpt-4o:for '
            "--seat ollama/mistral:against --judge openai/gpt-4o --rounds 2")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--topic", required=True)
        parser.add_argument("--seat", action="append", required=True, metavar="MODEL:STANCE[:PERSONA]",
                            help="a seat: model (id, provider/name or name), its stance, optionally a persona slug")
        parser.add_argument("--judge", action="append", required=True, metavar="MODEL",
                            help="the judge; give it up to 5 times for a panel (the first leads)")
        parser.add_argument("--rounds", type=int, default=2)
        parser.add_argument("--max-tokens", type=int, default=300)
        parser.add_argument("--temperature", type=float, default=0.7)
        parser.add_argument("--budget", type=float, default=None, metavar="USD",
                            help="stop (resumable) before a turn or the verdict that could pass this spend")

    def handle(self, *args, **options) -> None:
        try:
            seats = [self._seat(raw, options) for raw in options["seat"]]
            judges = [LLMModel.objects.lookup(ref) for ref in options["judge"]]
            seat_models = [LLMModel.objects.select_related("provider").get(pk=seat.model_id) for seat in seats]
            async_to_sync(models_preflight)(seat_models=seat_models, judge_models=judges)  # before anything is saved
            debate = debate_create(topic=options["topic"], rounds=options["rounds"], seats=seats,
                                   judge_model_id=judges[0].pk, panel_model_ids=[j.pk for j in judges[1:]],
                                   budget_usd=options["budget"])
            debate_mark_started(debate_id=debate.pk)
        except LLMModel.DoesNotExist as exc:
            raise CommandError(str(exc)) from None
        except DebateError as exc:
            raise CommandError(error_text(exc)) from None
        self.stdout.write(f"Debate {debate.pk}: {debate.topic}\n")
        self.stdout.ending = ""  # deltas are printed as they come, not one per line
        finished = run_in_foreground(debate.pk, self.stdout)
        if finished.status != "completed":
            raise CommandError(f"debate {debate.pk} ended {finished.status}: {finished.failure_reason}")

    def _seat(self, raw: str, options: dict) -> SeatSpec:
        pieces = raw.split(":")
        # A model name may hold a colon itself (llama2:13b): the longer name first, or llama2:13b:for would seat
        # llama2 arguing "13b".
        for cut in (2, 1):
            ref, rest = ":".join(pieces[:cut]), pieces[cut:]
            if not rest:
                continue
            try:
                model = LLMModel.objects.lookup(ref)
            except LLMModel.DoesNotExist:
                continue
            return SeatSpec(model_id=model.pk, stance=rest[0], persona=rest[1] if len(rest) > 1 else None,
                            max_tokens=options["max_tokens"], temperature=options["temperature"])
        raise CommandError(f"--seat {raw!r}: give MODEL:STANCE[:PERSONA] with an enabled model")
