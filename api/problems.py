"""Core API errors as RFC 9457 problem details (`application/problem+json`).

    Problem                        any error the Core API answers with
    ├── MalformedJson          400 the body is not JSON
    ├── InvalidHeader          400 a header this API reads is malformed (If-Match, ...)
    ├── InvalidQueryParameter  400 a list filter outside its values; `parameter` names it
    ├── Unauthenticated        401 no API key, or one that is not valid
    ├── Forbidden              403 the key may not do this (account, scope, address)
    ├── NotFoundProblem        404 no such resource, or not visible to this key
    ├── MethodNotAllowed       405
    ├── ConflictProblem        409 a uniqueness rule: that email, that member, already there
    ├── LimitReachedProblem    409 the organization's member limit
    ├── NoShardProblem         409 no active shard in the regions the issuer may live in
    ├── ApiKeyRevoked          409 a revoked account API key cannot change or come back
    ├── LockoutProblem         409 the account would have no key left that manages keys
    ├── InvitationNotPending   409 the invitation was accepted, revoked, or has expired
    ├── InvitationEmailMismatch 409 the user's email is not the one invited
    ├── WebhookDisabled        409 a disabled subscription is not delivered to; enable it
    ├── TooManyWebhooks        409 the account has as many subscriptions as it may
    ├── PreconditionFailed     412 `If-Match` names a version that is no longer current
    ├── PayloadTooLarge        413
    ├── UnsupportedMediaType   415 the body is not `application/json`
    ├── ValidationFailed       422 fields are wrong; `errors` lists each one
    ├── IdempotencyKeyReused   422 the same `Idempotency-Key` came with another request
    ├── OutOfJurisdiction      422 a region outside the issuer's jurisdiction
    ├── ServiceUnavailable     503 storage or a peer node is unavailable; retry
    └── InternalError          500 a bug; the body says nothing more

Each class has a stable `type` URI. Problems become answers in `problem_reply` only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final, TypedDict

from starlette.responses import Response

from api.reply import Reply

PROBLEM_BASE: Final = "https://authpi.dev/problems/"
PROBLEM_JSON: Final = "application/problem+json"


class FieldError(TypedDict):
    field: str
    message: str


class Problem(Exception):
    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str,
        *,
        extensions: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = dict(extensions or {})
        self.headers = dict(headers or {})

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug

    def body(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extensions,
        }


class MalformedJson(Problem):
    status, slug, title = 400, "malformed-json", "Malformed JSON"


class InvalidHeader(Problem):
    status, slug, title = 400, "invalid-header", "Invalid header"


class InvalidQueryParameter(Problem):
    status, slug, title = 400, "invalid-query-parameter", "Invalid query parameter"

    def __init__(self, parameter: str, allowed: Sequence[str]) -> None:
        super().__init__(
            f"{parameter} must be one of: {', '.join(allowed)}",
            extensions={"parameter": parameter, "allowed": list(allowed)},
        )


class Unauthenticated(Problem):
    status, slug, title = 401, "unauthenticated", "Unauthenticated"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="authpi"'})


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFoundProblem(Problem):
    status, slug, title = 404, "not-found", "Not found"


class MethodNotAllowed(Problem):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"


class ConflictProblem(Problem):
    status, slug, title = 409, "conflict", "Conflict"


class NoShardProblem(Problem):
    status, slug, title = 409, "no-shard-available", "No shard available"


class LimitReachedProblem(Problem):
    status, slug, title = 409, "member-limit-reached", "Member limit reached"


class ApiKeyRevoked(Problem):
    status, slug, title = 409, "api-key-revoked", "API key revoked"


class LockoutProblem(Problem):
    status, slug, title = 409, "would-lock-out", "Would lock the account out"


class InvitationNotPending(Problem):
    status, slug, title = 409, "invitation-not-pending", "Invitation not pending"

    def __init__(self, detail: str, invitation_status: str) -> None:
        super().__init__(detail, extensions={"invitation_status": invitation_status})


class InvitationEmailMismatch(Problem):
    status, slug, title = 409, "invitation-email-mismatch", "Invitation email mismatch"


class WebhookDisabled(Problem):
    status, slug, title = 409, "webhook-disabled", "Webhook disabled"


class TooManyWebhooksProblem(Problem):
    status, slug, title = 409, "too-many-webhooks", "Too many webhooks"


class PreconditionFailed(Problem):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class IdempotencyKeyReused(Problem):
    status, slug, title = 422, "idempotency-key-reused", "Idempotency key reused"


class PayloadTooLarge(Problem):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class UnsupportedMediaType(Problem):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class ValidationFailed(Problem):
    status, slug, title = 422, "validation-failed", "Validation failed"

    def __init__(self, errors: Sequence[FieldError]) -> None:
        fields = ", ".join(error["field"] for error in errors)
        super().__init__(f"invalid fields: {fields}", extensions={"errors": list(errors)})


class OutOfJurisdictionProblem(Problem):
    status, slug, title = 422, "out-of-jurisdiction", "Region outside the jurisdiction"


class ServiceUnavailable(Problem):
    status, slug, title = 503, "service-unavailable", "Service unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": "1"})


class InternalError(Problem):
    status, slug, title = 500, "internal-error", "Internal error"


def problem_reply(problem: Problem) -> Reply:
    """The one place a problem becomes an answer."""
    return Reply.json(
        problem.body(),
        status=problem.status,
        media_type=PROBLEM_JSON,
        headers={"Cache-Control": "no-store", **problem.headers},
    )


def problem_response(problem: Problem) -> Response:
    return problem_reply(problem).response()
