"""Resume a failed, cancelled or interrupted debate in this process, from its last completed turn."""
from django.core.management.base import BaseCommand, CommandError

from debates.services import DebateError, debate_mark_resumed
from debates.terminal import run_in_foreground


class Command(BaseCommand):
    help = "Resume a failed, cancelled or interrupted debate from its last completed turn, printing it live."

    def add_arguments(self, parser) -> None:
        parser.add_argument("debate_id", type=int)

    def handle(self, *args, debate_id: int, **options) -> None:
        try:
            debate_mark_resumed(debate_id=debate_id)
        except DebateError as exc:
            raise CommandError(exc.message) from None
        self.stdout.ending = ""  # deltas are printed as they come, not one per line
        finished = run_in_foreground(debate_id, self.stdout)
        if finished.status != "completed":
            raise CommandError(f"debate {debate_id} ended {finished.status}: {finished.failure_reason}")
