"""Who may call the API: a bearer token or a signed-in browser session; everyone else gets a 401 in the error shape."""
import pytest
from django.test import Client

from accounts.models import ApiToken
from accounts.tests.factories import UserFactory, bearer, issue_token
from providers.tests.factories import LLMModelFactory

pytestmark = pytest.mark.django_db


def assert_not_authenticated(response):
    assert response.status_code == 401
    assert response.json() == {"detail": "Sign in, or send the header 'Authorization: Bearer <token>'.",
                               "code": "not_authenticated"}
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("method, path", [
    ("get", "/api/providers"), ("get", "/api/models"), ("get", "/api/personas"), ("get", "/api/debates"),
    ("post", "/api/debates"), ("get", "/api/debates/1"), ("post", "/api/debates/1/start"),
    ("post", "/api/debates/1/cancel"), ("post", "/api/debates/1/resume"), ("delete", "/api/debates/1"),
    ("get", "/api/debates/1/transcript"),
])
def test_every_endpoint_but_health_and_docs_needs_a_signed_in_user(client, method, path):
    assert_not_authenticated(getattr(client, method)(path, content_type="application/json"))


def test_health_and_docs_are_open(client):
    assert client.get("/api/health").json() == {"status": "ok", "database": "ok"}
    assert client.get("/api/openapi.json").status_code == 200
    assert client.get("/api/docs").status_code == 200


def test_a_bearer_token_works(client):
    token, secret = issue_token()
    LLMModelFactory()

    response = client.get("/api/models", headers=bearer(secret))

    assert response.status_code == 200
    assert len(response.json()) == 1
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize("header", ["Bearer wrong", "Bearer ", "Token abc", "Basic dXNlcjpwYXNz", "Bearer a b"])
def test_a_wrong_credential_is_refused(client, header):
    assert_not_authenticated(client.get("/api/debates", headers={"Authorization": header}))


def test_a_revoked_token_is_refused(client):
    token, secret = issue_token()
    ApiToken.objects.filter(pk=token.pk).revoke()

    assert_not_authenticated(client.get("/api/debates", headers=bearer(secret)))


def test_a_bearer_token_needs_no_csrf_token():
    _, secret = issue_token()
    client = Client(enforce_csrf_checks=True)

    response = client.post("/api/debates", {}, content_type="application/json", headers=bearer(secret))

    assert response.status_code == 422  # past authentication, into validation


def test_a_browser_session_reads_without_a_csrf_token():
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory())

    assert client.get("/api/debates").status_code == 200


def test_a_browser_session_cannot_change_anything_without_the_csrf_token():
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory())

    response = client.post("/api/debates", {}, content_type="application/json")

    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"


def test_a_browser_session_changes_with_the_csrf_token():
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory())
    csrf_token = client.get("/api/docs").cookies["csrftoken"].value

    response = client.post("/api/debates", {}, content_type="application/json", headers={"X-CSRFToken": csrf_token})

    assert response.status_code == 422  # past authentication and CSRF, into validation


def test_an_anonymous_change_is_a_401_not_a_csrf_complaint():
    assert_not_authenticated(Client(enforce_csrf_checks=True).post("/api/debates", {},
                                                                    content_type="application/json"))


def test_the_docs_page_needs_nothing_from_the_internet(client):
    from django.contrib.staticfiles import finders

    page = client.get("/api/docs").content.decode()

    assert "http://" not in page and "https://" not in page and "//cdn" not in page
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js"):
        assert f"/static/ninja/{asset}" in page
        assert finders.find(f"ninja/{asset}")  # served by the app itself (ASGIStaticFilesHandler)
