"""Run the embedded local model (llama.cpp + Gemma 3 270M) and put it in the catalog."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from providers import local_llm


class Command(BaseCommand):
    help = ("Run the embedded local model: start | stop | status | check. `start` also adds it to the catalog as "
            f"{local_llm.MODEL_DISPLAY_NAME!r}; `check` proves the installed server runs on this machine (exit "
            "status 3 when it cannot: rebuild it). Install it first with `make local-model`.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["start", "stop", "status", "check"])
        parser.add_argument("--port", type=int, default=None,
                            help="Port for llama-server (default: ARENA_LOCAL_LLM_PORT, else 8080).")

    def handle(self, *args, action: str, port: int | None, **options) -> None:
        port = port or settings.LOCAL_LLM_PORT
        if not 1 <= port <= 65535:
            raise CommandError(f"--port must be between 1 and 65535, not {port}")
        try:
            getattr(self, f"_{action}")(port)
        except local_llm.LocalLLMError as exc:
            cannot_run = isinstance(exc, local_llm.BinaryCannotRun)  # `make local-model` rebuilds on status 3
            raise CommandError(f"local_llm {action} failed while {exc}", returncode=3 if cannot_run else 1) from None

    def _start(self, port: int) -> None:
        server = local_llm.start(port)
        verb = "is already running; reusing it" if server.reused else "started"
        self.stdout.write(self.style.SUCCESS(f"Local model {verb} (pid {server.pid}) at {server.api_base}"))
        model = local_llm.register_in_catalog(port)
        self.stdout.write(f"catalog: {model.display_name!r} is {model.litellm_model_name} "
                          f"at {model.effective_api_base}")
        self.stdout.write(f"log: {local_llm.log_path()}")

    def _stop(self, port: int) -> None:
        pid = local_llm.stop()
        self.stdout.write(f"Local model stopped (pid {pid})" if pid else "Local model was not running")

    def _status(self, port: int) -> None:
        server = local_llm.status()
        if not server.running:
            self.stdout.write("Local model is not running (start it with `manage.py local_llm start`)")
        elif server.healthy:
            self.stdout.write(f"Local model is running (pid {server.pid}) at {server.api_base} and healthy")
        else:
            self.stdout.write(self.style.WARNING(
                f"Local model is running (pid {server.pid}) on port {server.port} but /health does not answer "
                f"200; see {local_llm.log_path()}"))

    def _check(self, port: int) -> None:
        result = local_llm.self_test()
        self.stdout.write(self.style.SUCCESS(
            f"llama-server runs on this machine: healthy after {result.healthy_after_seconds:.1f} s, one token in "
            f"{result.one_token_ms:.0f} ms ({result.binary})"))
