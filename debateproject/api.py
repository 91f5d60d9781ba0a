"""The REST API: one NinjaAPI, who may call it, and the one error shape every endpoint answers with.

Every error is `{"detail": ..., "code": ..., "errors": {field: [messages]}}` (errors only for invalid input),
whatever raised it: a service (DebateError), ninja (validation, authentication, an unparseable body) or a bug.
"""
import logging

from django.core.exceptions import SuspiciousOperation
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema, Status
from ninja.parser import Parser
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer, SessionAuth
from ninja.utils import check_csrf

from accounts.models import ApiToken
from debates.api import router as debates_router
from ratings.api import router as ratings_router
from debates.services import DebateError
from providers.api import router as providers_router

logger = logging.getLogger("django.request")


# ---- who may call --------------------------------------------------------------------------------
class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


class BearerToken(HttpBearer):
    """`Authorization: Bearer <token>`, a token from admin or `manage.py create_api_token`."""

    def authenticate(self, request: HttpRequest, token: str):
        return ApiToken.objects.user_for(token)


class BrowserSession(SessionAuth):
    """The signed-in browser session; a change must carry the CSRF token, as a form would."""

    def __call__(self, request: HttpRequest):
        # Ninja's own SessionAuth checks CSRF before it knows whether anyone is signed in, which answers a
        # request with no credentials at all "403 CSRF failed"; that one deserves a 401.
        if not request.user.is_authenticated:
            return None
        if check_csrf(request) is not None:
            raise ApiError(403, "csrf_failed", "This change needs the CSRF token (header X-CSRFToken) "
                                               "of your browser session.")
        return request.user


class JSONBodies(Parser):
    """Bodies are JSON; an empty form reads as no body at all. Many clients (Django's test client among them) send
    a bare POST, such as a resume without a new budget, as an empty form rather than with no body."""

    FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")

    def parse_body(self, request: HttpRequest):
        if request.content_type in self.FORMS and not request.POST and not request.FILES:
            return {}
        return super().parse_body(request)


# ---- the API -------------------------------------------------------------------------------------
api = NinjaAPI(
    title="Debate Arena API", version="1", urls_namespace="api",
    description="LLM debates over REST. Authenticate with `Authorization: Bearer <token>` "
                "(`manage.py create_api_token USERNAME`) or a signed-in browser session (changes need the CSRF token).",
    auth=[BearerToken(), BrowserSession()], parser=JSONBodies(),
)
api.add_router("", providers_router)
api.add_router("", debates_router)
api.add_router("", ratings_router)


class HealthOut(Schema):
    status: str
    database: str


@api.get("/health", auth=None, response={200: HealthOut, 503: HealthOut}, tags=["health"])
def health(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.exception("Health check: the database does not answer")
        return Status(503, {"status": "error", "database": "unavailable"})
    return {"status": "ok", "database": "ok"}


# ---- errors: one shape, one place ----------------------------------------------------------------
HTTP_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "invalid_state", 422: "validation_error", 429: "throttled"}


def error_response(request: HttpRequest, status: int, code: str, detail: str,
                   errors: dict[str, list[str]] | None = None) -> HttpResponse:
    body = {"detail": detail, "code": code, **({"errors": errors} if errors else {})}
    return api.create_response(request, body, status=status)


@api.exception_handler(DebateError)
def on_debate_error(request: HttpRequest, exc: DebateError) -> HttpResponse:
    return error_response(request, exc.status, exc.code, exc.message, exc.errors)


@api.exception_handler(ApiError)
def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return error_response(request, exc.status, exc.code, exc.detail)


@api.exception_handler(ValidationError)
def on_invalid_request(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        errors.setdefault(_field_name(error["loc"]), []).append(error["msg"])
    return error_response(request, 422, "validation_error", "The request is not valid.", errors)


def _field_name(loc: tuple) -> str:
    """("body", "payload", "seats", 0, "model_id") -> "seats.0.model_id", as debate_create names fields."""
    source, *path = loc
    if source == "body":
        path = path[1:]  # the name of the endpoint's body parameter, which callers never see
    return ".".join(str(part) for part in path) or source


@api.exception_handler(AuthenticationError)
def on_not_authenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = error_response(request, 401, "not_authenticated",
                              "Sign in, or send the header 'Authorization: Bearer <token>'.")
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(request, exc.status_code, HTTP_CODES.get(exc.status_code, "error"), exc.message)


@api.exception_handler(SuspiciousOperation)
def on_bad_request(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    # e.g. a body over DATA_UPLOAD_MAX_MEMORY_SIZE: Django itself answers these with 400.
    return error_response(request, 400, "bad_request", str(exc) or "Bad request.")


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", "Not found.")


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.error("Internal Server Error: %s", request.path, exc_info=exc,
                 extra={"status_code": 500, "request": request})
    return error_response(request, 500, "server_error", "Something went wrong on the server; it has been logged.")


def unknown_endpoint(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other path under /api/: the same JSON error shape, never Django's HTML page."""
    return error_response(request, 404, "not_found", f"There is no endpoint {request.path}.")
