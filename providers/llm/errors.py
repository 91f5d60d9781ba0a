"""The one exception family at the LLM boundary: every client raises these and nothing else."""


class LLMError(Exception):
    kind = "provider_error"
    retryable = True

    def __init__(self, message: str, *, model: str = "", status_code: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.model = model
        self.status_code = status_code
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.model}: {self.message}" if self.model else self.message


class LLMAuthenticationError(LLMError):
    kind = "authentication"
    retryable = False


class LLMRateLimitError(LLMError):
    kind = "rate_limited"
    retryable = True


class LLMTimeoutError(LLMError):
    kind = "timeout"
    retryable = True


class LLMUnreachableError(LLMError):
    kind = "unreachable"
    retryable = True


class LLMBadRequestError(LLMError):
    kind = "bad_request"
    retryable = False


class LLMContextWindowError(LLMBadRequestError):
    kind = "context_window_exceeded"
    retryable = False


class LLMProviderError(LLMError):
    kind = "provider_error"
    retryable = True


class LLMConfigurationError(LLMError):
    """Our side is not set up for this call (a missing key variable, no legacy client)."""

    kind = "configuration"
    retryable = False


class LLMForbiddenAddressError(LLMConfigurationError):
    """The row's api_base points where no call may go (cloud metadata, a private network nobody allowed). Refused
    before any request is made; only an edit to the row or to the gateway setting helps."""

    kind = "forbidden_address"
    retryable = False


class LLMUntrustedCertificateError(LLMConfigurationError):
    """The server's TLS certificate is signed by no authority this process trusts. Nothing was sent; asking again
    meets the same certificate, so only trusting its authority (or fixing the server's certificate) helps."""

    kind = "untrusted_certificate"
    retryable = False


_CONTEXT_WINDOW_HINTS = ("context length", "context_length", "context window", "prompt is too long",
                         "maximum context", "too many tokens")


def looks_like_context_window(message: str) -> bool:
    lowered = message.lower()
    return any(hint in lowered for hint in _CONTEXT_WINDOW_HINTS)


def retry_after_from_headers(headers: object) -> float | None:
    try:
        value = headers.get("retry-after")  # type: ignore[attr-defined]
        return float(value) if value is not None else None
    except (AttributeError, TypeError, ValueError):
        return None


def redact(message: str, secret: str | None) -> str:
    """Providers echo (parts of) a rejected key back; it must never reach a log or a page."""
    message = message[:1000]
    if secret:
        message = message.replace(secret, "***")
        if len(secret) > 8:
            message = message.replace(secret[:8], "***").replace(secret[-4:], "***")
    return message


def map_sdk_error(exc: Exception, sdk: object, *, model: str, secret: str | None) -> LLMError:
    """Map an exception from the official anthropic or openai SDK (they share one shape)."""
    message = redact(getattr(exc, "message", None) or str(exc) or type(exc).__name__, secret)
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    kwargs = {"model": model, "status_code": status}
    if (untrusted := untrusted_certificate(exc, model=model)) is not None:  # first: it reads "cannot connect" too
        return untrusted
    if is_connection_refused(exc):  # LiteLLM reports some refused connections as a 500
        return LLMUnreachableError(message, model=model)
    if isinstance(exc, (sdk.AuthenticationError, sdk.PermissionDeniedError)):
        return LLMAuthenticationError(message, **kwargs)
    if isinstance(exc, sdk.RateLimitError):
        # LiteLLM keeps the provider's headers on its own attribute; the SDKs on the response.
        headers = getattr(exc, "litellm_response_headers", None) or getattr(response, "headers", None)
        return LLMRateLimitError(message, retry_after=retry_after_from_headers(headers), **kwargs)
    if isinstance(exc, sdk.APITimeoutError):
        return LLMTimeoutError(message, **kwargs)
    if isinstance(exc, sdk.APIConnectionError):
        # A cut stream or an unreadable answer also arrives as a "connection" error: the server was there.
        return LLMProviderError(message, **kwargs)
    if isinstance(exc, (sdk.BadRequestError, sdk.NotFoundError, sdk.UnprocessableEntityError)):
        if looks_like_context_window(message):
            return LLMContextWindowError(message, **kwargs)
        return LLMBadRequestError(message, **kwargs)
    return LLMProviderError(message, **kwargs)


def behind(exc: BaseException, kinds: type | tuple[type, ...]) -> BaseException | None:
    """The first exception of `kinds` in exc's chain of causes, however an SDK or LiteLLM wrapped it, or None."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kinds):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def is_connection_refused(exc: BaseException) -> bool:
    """True when the server could not be reached at all, as opposed to failing once reached."""
    import httpx

    if behind(exc, (httpx.ConnectError, httpx.ConnectTimeout, ConnectionRefusedError)) is not None:
        return True
    text = str(exc).lower()
    return any(hint in text for hint in ("connection refused", "connecterror", "cannot connect to host",
                                         "name or service not known", "all connection attempts failed"))


def untrusted_certificate(exc: BaseException, *, model: str) -> LLMUntrustedCertificateError | None:
    """An LLMUntrustedCertificateError when a certificate check failed behind `exc`, saying why and what to set: the
    clients say no more than "Connection error." """
    import ssl

    failed = behind(exc, ssl.SSLCertVerificationError)
    if failed is None:
        return None
    failed = getattr(failed, "certificate_error", failed)  # aiohttp's subclass holds the one ssl raised
    why = getattr(failed, "verify_message", "") or "no reason given"
    return LLMUntrustedCertificateError(
        f"the server's TLS certificate is not trusted ({why}; certificate verify "
        "failed). If an authority of your own signed it, point SSL_CERT_FILE at that authority's certificate (PEM) "
        "in the server's environment and restart it", model=model)
