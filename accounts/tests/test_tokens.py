"""API tokens: issued once, stored hashed, recognised by prefix, revocable from admin and the command line."""
import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import ApiToken
from accounts.tests.factories import UserFactory, issue_token

pytestmark = pytest.mark.django_db


def test_it_stores_only_the_hash_and_a_short_prefix():
    token, secret = issue_token(name="CI")

    token.refresh_from_db()
    assert len(secret) >= 43
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.prefix == secret[:8]
    assert secret not in {token.name, token.prefix, token.token_hash}


def test_it_finds_the_user_of_a_token_and_notes_its_use():
    token, secret = issue_token()

    assert ApiToken.objects.user_for(secret) == token.user
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_it_refuses_unknown_revoked_and_inactive_users_tokens():
    revoked, revoked_secret = issue_token()
    ApiToken.objects.filter(pk=revoked.pk).revoke()
    inactive, inactive_secret = issue_token(UserFactory(is_active=False))

    assert ApiToken.objects.user_for("not-a-token") is None
    assert ApiToken.objects.user_for("") is None
    assert ApiToken.objects.user_for(revoked_secret) is None
    assert ApiToken.objects.user_for(inactive_secret) is None


def test_it_records_use_at_most_once_a_minute():
    token, secret = issue_token()
    recently = timezone.now() - timedelta(seconds=10)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=recently)

    ApiToken.objects.user_for(secret)

    token.refresh_from_db()
    assert token.last_used_at == recently


def test_the_command_prints_a_working_token_once():
    user = UserFactory(username="alice")
    out, err = StringIO(), StringIO()

    call_command("create_api_token", "alice", "--name", "laptop", stdout=out, stderr=err)

    secret = out.getvalue().strip()
    token = ApiToken.objects.get(user=user)
    assert ApiToken.objects.user_for(secret) == user
    assert token.name == "laptop"
    assert f"revoke_api_token {token.prefix}" in err.getvalue()
    assert secret not in err.getvalue()


def test_the_command_refuses_an_unknown_user():
    with pytest.raises(CommandError, match="no user 'nobody'"):
        call_command("create_api_token", "nobody", stdout=StringIO(), stderr=StringIO())


def test_the_revoke_command_revokes_by_prefix():
    token, secret = issue_token()

    call_command("revoke_api_token", token.prefix, stdout=StringIO())

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert ApiToken.objects.user_for(secret) is None


def test_no_token_prefix_reads_as_a_command_line_option():
    # One secret in 64 used to start with "-", and `revoke_api_token PREFIX` then failed on it.
    assert not any(ApiToken().assign_secret().startswith("-") for _ in range(500))


def test_the_revoke_command_says_when_no_token_matches():
    with pytest.raises(CommandError, match="No active token"):
        call_command("revoke_api_token", "nothing!", stdout=StringIO())


def test_an_admin_creates_a_token_and_sees_it_once(admin_client):
    user = UserFactory(username="bob")

    response = admin_client.post("/admin/accounts/apitoken/add/", {"user": user.pk, "name": "script"}, follow=True)

    assert response.status_code == 200
    token = ApiToken.objects.get(user=user)
    [message] = [str(m) for m in response.context["messages"] if "New API token" in str(m)]
    secret = message.split(": ", 1)[1].split(" ", 1)[0]
    assert secret.startswith(token.prefix)
    assert ApiToken.objects.user_for(secret) == user


def test_an_admin_revokes_tokens_with_the_action(admin_client):
    token, secret = issue_token()

    response = admin_client.post("/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_the_admin_list_shows_prefixes_never_hashes(admin_client):
    token, _ = issue_token(name="deploy")

    page = admin_client.get("/admin/accounts/apitoken/").content.decode()

    assert token.prefix in page and "deploy" in page
    assert token.token_hash not in page


def test_the_command_refuses_a_name_longer_than_its_column():
    UserFactory(username="alice")

    with pytest.raises(CommandError, match="--name is 101 characters long; keep it to 100"):
        call_command("create_api_token", "alice", "--name", "n" * 101, stdout=StringIO(), stderr=StringIO())
    assert not ApiToken.objects.exists()
