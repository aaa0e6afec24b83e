"""The AWS JSON 1.1 protocol: `POST /` with `X-Amz-Target: Prefix.Operation`, JSON in and out.

One endpoint per service path (`/aws/ssm`, `/aws/sagemaker`) and one (`/aws`) that picks the
service from the target's prefix. Every request is SigV4-verified before anything else, as AWS
does; the operation then runs in the thread pool (the services are synchronous) as the key's
user, through the same services and scope checks as the REST API.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from signoff.bootstrap import Context
from signoff.domain.identity import Principal
from signoff.entrypoints.aws import sigv4
from signoff.entrypoints.aws.errors import AwsError, access_denied, from_signoff
from signoff.errors import SignoffError
from signoff.adapters.db.credentials import AwsKeyVerifier

log = logging.getLogger("signoff.aws")

CONTENT_TYPE = "application/x-amz-json-1.1"


@dataclass(frozen=True)
class Call:
    """One operation's input: who, what, and where signoff stands as an AWS region/account."""

    ctx: Context
    principal: Principal
    params: dict[str, Any]
    region: str
    account: str
    operation: str

    def require(self, service: str, *scopes: str) -> None:
        """AccessDeniedException unless the key has one of `scopes` (admin has all)."""
        if not self.principal.allows(*scopes):
            raise access_denied(
                f"User: {self.user_arn()} is not authorized to perform: {service}:{self.operation} "
                f"because this signoff key lacks the {' or '.join(scopes)} scope")

    def user_arn(self, name: str | None = None) -> str:
        return f"arn:aws:iam::{self.account}:user/{name or self.principal.name}"


Operation = Callable[[Call], dict[str, Any]]


@dataclass(frozen=True)
class Service:
    signing_name: str  # the credential scope's service: "ssm", "sagemaker"
    target_prefix: str  # "AmazonSSM", "SageMaker"
    not_found: str  # the service's code for a missing resource
    operations: dict[str, Operation]


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()  # AWS JSON protocols carry timestamps as epoch seconds
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _response(status: int, body: dict[str, Any], request_id: str) -> Response:
    return Response(json.dumps(body, default=_default, separators=(",", ":")), status_code=status,
                    media_type=CONTENT_TYPE, headers={"x-amzn-RequestId": request_id})


class Door:
    """The endpoint for a set of services; `handle` is a Starlette endpoint."""

    # `now` is the wall clock, not ctx.clock: a signature's freshness is about the client's and
    # this machine's real time (replays), not the domain's notion of "now".
    def __init__(self, ctx: Context, keys: AwsKeyVerifier, services: list[Service],
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.ctx, self.keys, self.now = ctx, keys, now
        self.services = {s.target_prefix: s for s in services}
        self.single = services[0] if len(services) == 1 else None
        aws = ctx.settings.aws
        self.region, self.account = aws.region, aws.account_id
        self.max_skew = timedelta(seconds=aws.max_clock_skew_seconds)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        scope = request.scope
        raw_path = scope.get("raw_path") or scope["path"].encode()
        request_id = str(uuid.uuid4())
        try:
            status, out = await run_in_threadpool(
                self._run, request.method, raw_path.decode("latin-1"), scope.get("query_string", b"").decode("latin-1"),
                [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]], body)
        except AwsError as exc:
            return _response(exc.status, exc.body(), request_id)
        return _response(status, out, request_id)

    def _run(self, method: str, raw_path: str, query: str, headers: list[tuple[str, str]],
             body: bytes) -> tuple[int, dict[str, Any]]:
        target = next((v for k, v in headers if k.lower() == "x-amz-target"), "")
        prefix, _, operation = target.partition(".")
        service = self.single or self.services.get(prefix)
        # Authentication comes first, as at AWS: an unsigned probe learns nothing about operations.
        principal = sigv4.verify(
            method=method, raw_path=raw_path, query=query, headers=headers, body=body, keys=self.keys,
            region=self.region, service=service.signing_name if service else "", now=self.now(),
            max_skew=self.max_skew,
        ) if service else self._unknown_service(method, raw_path, query, headers, body)
        assert service is not None
        handler = service.operations.get(operation) if prefix == service.target_prefix else None
        if handler is None:
            raise AwsError("UnknownOperationException", "")
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            raise AwsError("SerializationException", "Start of structure or map found where not expected.") from None
        if not isinstance(params, dict):
            raise AwsError("SerializationException", "Start of structure or map found where not expected.")
        call = Call(self.ctx, principal, params, self.region, self.account, operation)
        try:
            return 200, handler(call)
        except AwsError:
            raise
        except SignoffError as exc:
            raise from_signoff(exc, not_found=service.not_found) from None
        except Exception:
            log.exception("AWS operation %s failed", target)
            raise AwsError("InternalServerError", "An internal error occurred.", status=500) from None

    def _unknown_service(self, method: str, raw_path: str, query: str, headers: list[tuple[str, str]],
                         body: bytes) -> Principal:
        # On the shared path a target naming no service still authenticates first (scoped to
        # whatever the client signed for), then is an unknown operation.
        credential_service = ""
        auth = next((v for k, v in headers if k.lower() == "authorization"), "")
        if auth:
            parts, _, _ = sigv4.parse_authorization(auth)
            credential_service = parts[3]
        principal = sigv4.verify(method=method, raw_path=raw_path, query=query, headers=headers, body=body,
                                 keys=self.keys, region=self.region, service=credential_service, now=self.now(),
                                 max_skew=self.max_skew)
        del principal
        raise AwsError("UnknownOperationException", "")
