"""Roll every LLM call back to the legacy SDK clients, or return to LiteLLM, without a restart."""
from django.core.management.base import BaseCommand, CommandError

from providers.llm.backend import backend_state, set_backend


class Command(BaseCommand):
    help = ("Show or switch the LLM backend: status | legacy | litellm. Running processes follow on their next call "
            "(a running debate on its next turn).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["status", "legacy", "litellm"])

    def handle(self, *args, action: str, **options) -> None:
        if action != "status":
            try:
                set_backend(action)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(self.style.SUCCESS(
                f"LLM backend set to {action}; every process uses it from its next call (a running debate: from its "
                "next turn)."))
        state = backend_state()
        self.stdout.write(f"backend: {state.backend}")
        if state.pinned:
            self.stdout.write(self.style.WARNING(
                f"pinned by ARENA_LLM_BACKEND={state.backend}: the stored setting ({state.stored}) "
                "takes effect only once that variable is unset."
            ))
        else:
            self.stdout.write("source: database (not pinned by ARENA_LLM_BACKEND)")
