"""HTTP targets: signed webhooks (the CloudEvent as body) and Slack incoming webhooks.

Every request carries ``Signoff-Idempotency-Key`` (stable per event, rule and target, so a
receiver drops duplicates) and, when the target has a secret, ``Signoff-Signature:
t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`` in the style of Stripe and Standard Webhooks; the
timestamp inside the MAC lets receivers refuse replays of old requests.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from signoff.domain.deliveries import Job, Outcome, http_outcome
from signoff.domain.notifications import render

SIGNATURE_HEADER = "Signoff-Signature"
IDEMPOTENCY_HEADER = "Signoff-Idempotency-Key"
USER_AGENT = "signoff-webhooks/1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The Signoff-Signature header value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, header: str, body: bytes, *, tolerance: float = 300,
                     now: float | None = None) -> bool:
    """What a receiver does: recompute the MAC (constant-time compare) and check the timestamp."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def _timeout(own: float, cap: float | None) -> float:
    return min(own, cap) if cap else own


class HttpTargets:
    """Runs `webhook` and `slack` targets over one pooled, thread-safe httpx connection pool.

    Requests go straight to the pool's transport: redirects are never followed and there are
    no cookies or auth to apply, and skipping the Client's machinery halves the CPU a delivery
    costs (what bounds a worker's deliveries per second). When proxy variables are set, the
    full Client is used so that HTTP(S)_PROXY and NO_PROXY are honoured.
    """

    def __init__(self, *, public_url: str = "", client: httpx.Client | None = None,
                 environ: Mapping[str, str] | None = None, wall_clock: Callable[[], float] = time.time,
                 max_connections: int = 32, aws_place: Any = None) -> None:
        from signoff.domain.aws_events import AwsPlace

        self.public_url = public_url
        self.aws_place = aws_place or AwsPlace()
        self.environ = os.environ if environ is None else environ
        self.wall_clock = wall_clock
        self._owns_client = client is None
        # TCP_NODELAY: headers and body are separate writes; without it the body can wait for
        # the receiver's delayed ACK (40 ms on Linux) on a keep-alive connection.
        self.transport = httpx.HTTPTransport(
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        self.client = client or httpx.Client(follow_redirects=False, headers={"User-Agent": USER_AGENT},
                                             transport=self.transport)
        self._direct = client is None and not _proxies_configured(os.environ)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()
        self.transport.close()

    def _secret(self, target: Any) -> tuple[str | None, str | None]:
        if target.secret:
            return target.secret, None
        if target.secret_env:
            value = self.environ.get(target.secret_env)
            if not value:
                return None, f"environment variable {target.secret_env} (the webhook secret) is not set"
            return value, None
        return None, None

    def _configured_headers(self, target: Any) -> tuple[dict[str, str], str | None]:
        headers = dict(target.headers)
        for name, variable in target.headers_env.items():
            value = self.environ.get(variable)
            if not value:
                return {}, f"environment variable {variable} (the value of header {name}) is not set"
            headers[name] = value
        return headers, None

    def _url(self, target: Any) -> tuple[str, str | None]:
        if target.url_env is None:
            return str(target.url), None
        value = self.environ.get(target.url_env, "")
        if not value.startswith(("http://", "https://")):
            return "", f"environment variable {target.url_env} (the target's URL) is not set to an http(s) URL"
        return value, None

    def webhook(self, job: Job, cap: float | None) -> Outcome:
        secret, problem = self._secret(job.target)
        configured, missing = self._configured_headers(job.target)
        full_url, no_url = self._url(job.target)
        if problem or missing or no_url:
            return Outcome.final(problem or missing or no_url or "")
        url, basic = _without_userinfo(full_url)
        if getattr(job.target, "format", "cloudevents") == "aws":
            sent = self._aws_webhook(job, secret, cap, url, {**({"Authorization": basic} if basic else {}), **configured})
            return _scrubbed(sent, [full_url, url, secret, basic, *configured.values(), *_url_secrets(url)])
        body = json.dumps(job.event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        headers = {**({"Authorization": basic} if basic else {}), **configured,
                   "Content-Type": "application/cloudevents+json; charset=utf-8",
                   IDEMPOTENCY_HEADER: job.key, "Signoff-Delivery-Id": str(job.id),
                   "Signoff-Attempt": str(job.attempt), "Signoff-Event-Type": str(job.event.get("type", ""))}
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, int(self.wall_clock()), body)
        outcome = self._post(url, body, headers, _timeout(job.target.timeout, cap))
        return _scrubbed(outcome, [full_url, url, secret, basic, *configured.values(), *_url_secrets(url)])

    def _aws_webhook(self, job: Job, secret: str | None, cap: float | None, url: str,
                     auth: dict[str, str]) -> Outcome:
        from signoff.domain.aws_events import to_aws

        shaped = to_aws(job.event, self.aws_place)
        outcome = Outcome.ok(aws_events=0)
        for index, event in enumerate(shaped):
            body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            headers = {**auth, "Content-Type": "application/json; charset=utf-8",
                       IDEMPOTENCY_HEADER: f"{job.key}/aws/{index}", "Signoff-Delivery-Id": str(job.id),
                       "Signoff-Attempt": str(job.attempt), "Signoff-Event-Type": str(job.event.get("type", ""))}
            if secret:
                headers[SIGNATURE_HEADER] = sign(secret, int(self.wall_clock()), body)
            outcome = self._post(url, body, headers, _timeout(job.target.timeout, cap))
            if outcome.kind != "ok":
                return outcome
        return outcome

    def slack(self, job: Job, cap: float | None) -> Outcome:
        rendered = render(job.event, self.public_url)
        text = f"*{rendered.subject.removeprefix('[signoff] ')}*"
        if rendered.link:
            text += f"\n<{rendered.link}|Open in signoff>"
        body = json.dumps({"text": text}).encode("utf-8")
        headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: job.key}
        full_url, no_url = self._url(job.target)
        if no_url:
            return Outcome.final(no_url)
        url, basic = _without_userinfo(full_url)
        if basic:
            headers["Authorization"] = basic
        outcome = self._post(url, body, headers, _timeout(job.target.timeout, cap))
        return _scrubbed(outcome, [full_url, url, basic, *_url_secrets(url), urlsplit(url).path])

    def _send(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, str]:
        if not self._direct:
            response = self.client.post(url, content=body, headers=headers, timeout=timeout)
            return response.status_code, response.text if response.status_code >= 300 else ""
        request = httpx.Request("POST", url, content=body, headers={"User-Agent": USER_AGENT, **headers},
                                extensions={"timeout": httpx.Timeout(timeout).as_dict()})
        response = self.transport.handle_request(request)
        try:
            response.read()
            return response.status_code, response.text if response.status_code >= 300 else ""
        finally:
            response.close()

    def _post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
        try:
            status, text = self._send(url, body, headers, timeout)
        except httpx.TimeoutException:
            return Outcome.retry(f"no answer within {timeout:g}s")
        except httpx.TransportError as exc:  # refused, reset, DNS: the receiver may come back
            return Outcome.retry(f"connection failed: {exc or type(exc).__name__}")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # a URL httpx cannot use: retrying will not fix it
            return Outcome.final(f"{type(exc).__name__}: {exc}")
        return http_outcome(status, text)


def _without_userinfo(url: str) -> tuple[str, str | None]:
    """The URL without `user:password@`, and the Basic authorization header it stood for.

    Requests go to the transport directly, which would drop the credentials in the URL."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii")
    return urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment)), f"Basic {token}"


def _url_secrets(url: str) -> list[str]:
    """Every query value and path segment of a URL: an error text may quote any of them."""
    parts = urlsplit(url)
    values = [pair.partition("=")[2] for pair in parts.query.split("&")]
    return [v for v in (*values, *parts.path.split("/"), parts.fragment) if len(v) >= 6]


def _scrubbed(outcome: Outcome, secrets: Iterable[str | None]) -> Outcome:
    """The outcome with any secret taken out of its error text (stored, listed and logged)."""
    if not outcome.error:
        return outcome
    error = outcome.error
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        error = error.replace(secret, "***")
    return outcome if error == outcome.error else dataclasses.replace(outcome, error=error)


def _proxies_configured(environ: Mapping[str, str]) -> bool:
    return any(environ.get(name) or environ.get(name.lower()) for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"))
