"""HTTP statuses, CLI exit codes and the SDK's status fallback are a public contract: every error
class answers with exactly these, whichever door it leaves by (the API, the web pages, the CLI,
the SDK rebuilding an error from a status)."""

from __future__ import annotations

import pytest

from signoff import errors
from signoff.entrypoints.api.errors import status_for
from signoff.entrypoints.cli import exit_code_for
from signoff.entrypoints.web.common import status_of
from signoff.errors import error_for_status

# class: (HTTP status, CLI exit code)
CONTRACT = {
    errors.SignoffError: (500, 1),
    errors.InvalidInput: (400, 2),
    errors.PatternInvalid: (400, 2),
    errors.InvalidArtifact: (422, 2),
    errors.NotFound: (404, 3),
    errors.Conflict: (409, 4),
    errors.AlreadyExists: (409, 4),
    errors.InvalidTransition: (409, 4),
    errors.PolicyViolation: (409, 4),
    errors.GateFailed: (409, 4),
    errors.ArtifactMismatch: (409, 4),
    errors.PermissionDenied: (403, 5),
    errors.AuthenticationFailed: (401, 6),
    errors.ReauthRequired: (401, 6),
    errors.VerificationFailed: (500, 1),
    errors.RateLimited: (429, 7),
    errors.ServiceUnavailable: (503, 7),
    errors.DeliveryFailed: (502, 8),
}


def every_class(cls: type[errors.SignoffError] = errors.SignoffError) -> list[type[errors.SignoffError]]:
    return [cls, *(c for sub in cls.__subclasses__() for c in every_class(sub))]


def test_every_error_class_is_in_the_contract() -> None:
    assert set(every_class()) == set(CONTRACT)


@pytest.mark.parametrize("cls", list(CONTRACT), ids=lambda c: c.__name__)
def test_each_door_answers_with_the_class_status_and_exit_code(cls: type[errors.SignoffError]) -> None:
    exc = cls("x")
    status, exit_code = CONTRACT[cls]
    assert (status_for(exc), status_of(exc), exit_code_for(exc)) == (status, status, exit_code)


def test_the_sdk_rebuilds_an_unknown_code_from_the_status() -> None:
    expected = {400: errors.InvalidInput, 401: errors.AuthenticationFailed, 403: errors.PermissionDenied,
                404: errors.NotFound, 409: errors.Conflict, 413: errors.InvalidInput, 422: errors.InvalidInput,
                429: errors.RateLimited, 405: errors.SignoffError, 418: errors.SignoffError,
                500: errors.SignoffError, 501: errors.SignoffError, 502: errors.ServiceUnavailable,
                503: errors.ServiceUnavailable, 504: errors.ServiceUnavailable}
    assert {status: error_for_status(status) for status in expected} == expected
