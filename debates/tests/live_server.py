"""A real daphne serving the test database, and Debian's Chromium driving it, for the browser tests.

Kept out of conftest.py so that only the tests that import it pay for a server and a browser.
"""
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from providers.tests.servers import FakeOpenAIServer
from providers.tests.subprocess_env import current_database_url

ROOT = Path(__file__).resolve().parents[2]
DAPHNE = ROOT / ".venv" / "bin" / "daphne"
CHROMIUM = "/usr/bin/chromium"
# Never `playwright install`: Debian's Chromium, with the flags that keep it off the (closed) network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PROVIDER_KEY_VAR, PROVIDER_KEY = "FAKE_PROVIDER_API_KEY", "sk-test-0123456789abcdef-secret"  # as in conftest.py
STARTUP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """`daphne debateproject.asgi:application` in a subprocess, on the test database."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {key: value for key, value in os.environ.items() if key != "DJANGO_ALLOW_ASYNC_UNSAFE"}
        env.update({"DATABASE_URL": database_url, "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
                    "ARENA_LLM_PREWARM": "true",
                    # Off: the tests make interrupted debates on purpose, and this process runs debates of its own.
                    "ARENA_AUTO_TAKEOVER": "false", PROVIDER_KEY_VAR: PROVIDER_KEY, "PYTHONUNBUFFERED": "1"})
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(DAPHNE), "-b", "127.0.0.1", "-p", str(self.port), "debateproject.asgi:application"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/login/", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise RuntimeError(f"daphne did not answer within {STARTUP_SECONDS} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def daphne_server(django_db_setup, tmp_path_factory):
    """The app on a free port, reading and writing the database the tests use (a file, see settings)."""
    server = LiveServer(current_database_url(), tmp_path_factory.mktemp("daphne") / "daphne.log")
    print(f"daphne log: {server.log}")  # shown with a failing test's captured output
    try:
        server.wait_until_up()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def fake_llm():
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def llm(fake_llm):
    fake_llm.reset()
    yield fake_llm
    fake_llm.reset()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running on this thread while it lives, and Django refuses ORM
    # calls from a thread with a running loop: the tests' own, and pytest-django's flush after each test.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        playwright = sync_playwright().start()
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
        finally:
            playwright.stop()


@pytest.fixture
def page(browser, daphne_server):
    context = browser.new_context(base_url=daphne_server.url, viewport={"width": 1100, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page, username: str, password: str) -> None:
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
