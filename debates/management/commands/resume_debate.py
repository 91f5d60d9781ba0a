"""Resume a failed, cancelled or interrupted debate in this process, from its last completed turn."""
from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError

from debates.models import Debate
from debates.services import UNCHANGED, DebateError, debate_mark_resumed, debate_preflight, error_text
from debates.terminal import run_in_foreground


class Command(BaseCommand):
    help = "Resume a failed, cancelled or interrupted debate from its last completed turn, printing it live."

    def add_arguments(self, parser) -> None:
        parser.add_argument("debate_id", type=int)
        budget = parser.add_mutually_exclusive_group()
        budget.add_argument("--budget", type=float, metavar="USD", help="resume with this budget (raise a reached one)")
        budget.add_argument("--no-budget", action="store_true", help="resume without a budget")

    def handle(self, *args, debate_id: int, **options) -> None:
        budget = options["budget"] if options["budget"] is not None or options["no_budget"] else UNCHANGED
        try:
            debate = Debate.objects.filter(pk=debate_id).first()
            if debate is not None and debate.can_resume:  # else resuming says why it cannot, asking no model
                async_to_sync(debate_preflight)(debate_id=debate_id, budget_usd=budget)
            debate_mark_resumed(debate_id=debate_id, budget_usd=budget)
        except DebateError as exc:
            raise CommandError(error_text(exc)) from None
        self.stdout.ending = ""  # deltas are printed as they come, not one per line
        finished = run_in_foreground(debate_id, self.stdout)
        if finished.status != "completed":
            raise CommandError(f"debate {debate_id} ended {finished.status}: {finished.failure_reason}")
