"""`manage.py ensure_admin` (run by `make run` and `make demo`): the first admin login, printed while it works."""
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def ensure_admin() -> str:
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


def test_it_prints_the_login_it_made_and_stops_once_the_password_is_changed(settings, tmp_path):
    settings.VAR_DIR = tmp_path

    first = ensure_admin()
    password = (tmp_path / "admin_password").read_text().strip()
    assert f"login: admin / {password}" in first and ensure_admin() == first  # still the password: shown again
    admin = get_user_model().objects.get(username="admin")
    assert admin.check_password(password)

    admin.set_password("changed-by-its-owner-1")  # manage.py changepassword admin
    admin.save()

    later = ensure_admin()
    assert password not in later and "password set earlier" in later
    assert not (tmp_path / "admin_password").exists()  # no stale password left lying in var/
