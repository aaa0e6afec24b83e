"""AWS JSON-protocol errors: HTTP 400 with `{"__type": CODE, "message": …}`, as AWS answers.

botocore turns `__type` into `ClientError.response["Error"]["Code"]` (the part after any `#`),
so a pipeline's `except ssm.exceptions.ParameterNotFound` works against signoff unchanged.
"""

from __future__ import annotations

from signoff.errors import (
    AlreadyExists,
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PolicyViolation,
    ServiceUnavailable,
    SignoffError,
)


class AwsError(Exception):
    def __init__(self, code: str, message: str = "", status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status

    def body(self) -> dict[str, str]:
        return {"__type": self.code, "message": self.message}


def validation(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def access_denied(message: str) -> AwsError:
    return AwsError("AccessDeniedException", message)


def from_signoff(exc: SignoffError, *, not_found: str) -> AwsError:
    """A signoff refusal in AWS's words; `not_found` is the service's code for a missing resource.

    A decision the policy refuses (not an approver now, own registration, freeze, gates) is
    AccessDeniedException: to an AWS client that is what "this principal may not do this" is.
    """
    if isinstance(exc, (PermissionDenied, PolicyViolation)):
        return access_denied(exc.message)
    if isinstance(exc, AuthenticationFailed):
        return AwsError("UnrecognizedClientException", exc.message)
    if isinstance(exc, NotFound):
        return AwsError(not_found, exc.message)
    if isinstance(exc, AlreadyExists):
        return AwsError("ResourceInUse", exc.message)
    if isinstance(exc, Conflict):
        return AwsError("ConflictException", exc.message)
    if isinstance(exc, InvalidInput):
        return validation(exc.message)
    if isinstance(exc, ServiceUnavailable):
        return AwsError("ServiceUnavailable", exc.message, status=503)
    return AwsError("InternalServerError", exc.message, status=500)
