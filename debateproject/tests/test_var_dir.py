"""The var dir exists before anything needs it, however the secret key is given (as any deployment gives it)."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "DJANGO_SECRET_KEY_FILE")}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


def test_migrate_on_a_fresh_checkout_with_an_exported_secret_key_creates_the_var_dir(tmp_path):
    var = tmp_path / "fresh" / "var"

    done = manage("migrate", "-v0", ARENA_VAR_DIR=str(var), DJANGO_SECRET_KEY="exported-by-the-deployment")

    assert done.returncode == 0, done.stderr
    assert (var / "db.sqlite3").stat().st_size > 0
    assert not (var / "secret_key").exists()  # the exported key is used, none generated


def test_a_var_dir_that_cannot_be_created_names_the_setting(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    done = manage("check", ARENA_VAR_DIR=str(blocker / "var"))

    assert done.returncode != 0
    assert "ARENA_VAR_DIR: cannot create" in done.stderr and "point it at a writable folder" in done.stderr
