"""AWS Signature Version 4 verification of incoming requests.

The signature is recomputed with botocore's own signer (`SigV4Auth`) on an `AWSRequest` rebuilt
from what arrived: the signed headers only, the raw path and query, the body; then compared in
constant time. The checks AWS makes come first, each with AWS's error code and wording, so a
client sees what a real endpoint would have told it: the credential scope (region, service,
terminator, date), the access key, the clock (±15 minutes), the payload hash, the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from signoff.domain.identity import Principal
from signoff.entrypoints.aws.errors import AwsError
from signoff.adapters.db.credentials import AwsKeyVerifier, KeyRefused

ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_DATE = "%Y%m%dT%H%M%SZ"
_PARAM = re.compile(r"\s*([A-Za-z]+)\s*=\s*([^,\s]*)\s*")

INVALID_TOKEN = "The security token included in the request is invalid."
MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS "
            "Secret Access Key and signing method. Consult the service documentation for details.")


def _incomplete(message: str) -> AwsError:
    return AwsError("IncompleteSignatureException", message)


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidSignatureException", message)


def _same(a: str, b: str) -> bool:
    # As bytes: compare_digest refuses non-ASCII str, and a header may carry anything.
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


def parse_authorization(header: str) -> tuple[list[str], list[str], str]:
    """(credential parts, signed header names, signature); raises AwsError as AWS words it."""
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _incomplete(f"Authorization header requires the '{ALGORITHM}' algorithm. Authorization={header[:64]}")
    params: dict[str, str] = {}
    for part in rest.split(","):
        found = _PARAM.fullmatch(part)
        if found:
            params[found.group(1)] = found.group(2)
    missing = [name for name in ("Credential", "Signature", "SignedHeaders") if not params.get(name)]
    if missing:
        raise _incomplete(" ".join(f"Authorization header requires '{m}' parameter." for m in missing)
                          + f" Authorization={header[:64]}")
    credential = params["Credential"].split("/")
    if len(credential) != 5:
        raise _incomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term,"
                          f" got '{params['Credential']}'")
    return credential, params["SignedHeaders"].split(";"), params["Signature"]


def verify(
    *, method: str, raw_path: str, query: str, headers: Iterable[tuple[str, str]], body: bytes,
    keys: AwsKeyVerifier, region: str, service: str, now: datetime, max_skew: timedelta,
) -> Principal:
    """The principal of a correctly signed request; raises AwsError otherwise."""
    received: dict[str, list[str]] = {}
    for name, value in headers:
        received.setdefault(name.lower(), []).append(value)
    authorization = (received.get("authorization") or [""])[0]
    if not authorization:
        raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token")
    credential, signed_headers, signature = parse_authorization(authorization)
    amz_date = (received.get("x-amz-date") or [""])[0]
    if not amz_date:
        raise _incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
                          f"Authorization={authorization[:64]}")
    try:
        signed_at = datetime.strptime(amz_date, AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise _incomplete(f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. See "
                          "http://en.wikipedia.org/wiki/ISO_8601") from None
    access_key_id, day, scoped_region, scoped_service, terminator = credential
    problems = []
    if scoped_region != region:
        problems.append(f"Credential should be scoped to a valid region, not '{scoped_region}'. ")
    if scoped_service != service:
        problems.append(f"Credential should be scoped to correct service: '{service}'. ")
    if terminator != "aws4_request":
        problems.append(f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. ")
    if day != amz_date[:8]:
        problems.append(f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                        f"'{day}' != '{amz_date[:8]}', from '{amz_date}'.")
    if problems:
        raise _invalid("".join(problems).strip())
    if "host" not in signed_headers:
        raise _invalid("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    if received.get("x-amz-security-token"):
        # signoff issues long-term keys only; a session token belongs to some other issuer.
        raise AwsError("UnrecognizedClientException", INVALID_TOKEN)
    try:
        identity = keys.lookup(access_key_id)
    except KeyRefused:
        raise AwsError("UnrecognizedClientException", INVALID_TOKEN) from None
    declared_hash = (received.get("x-amz-content-sha256") or [""])[0]
    if declared_hash and not _same(declared_hash, hashlib.sha256(body).hexdigest()):
        raise _invalid("The provided 'x-amz-content-sha256' header does not match what was computed.")
    # botocore is loaded with the first signed request: a server nobody calls over the AWS doors
    # does not carry it (~5 MB resident).
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=f"http://{(received.get('host') or [''])[0]}{raw_path}"
                         + (f"?{query}" if query else ""), data=body)
    for name in signed_headers:
        for value in received.get(name, []):
            request.headers.add_header(name, value)
        if name not in received:
            raise _invalid(MISMATCH)  # signed a header that did not arrive
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(access_key_id, identity.secret), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not _same(expected, signature):
        raise _invalid(MISMATCH)
    # After the signature: the clock only matters for a request that is otherwise genuine (a replay).
    if signed_at < now - max_skew:
        raise _invalid(f"Signature expired: {amz_date} is now earlier than {(now - max_skew).strftime(AMZ_DATE)} "
                       f"({now.strftime(AMZ_DATE)} - {int(max_skew.total_seconds() // 60)} min.)")
    if signed_at > now + max_skew:
        raise _invalid(f"Signature not yet current: {amz_date} is still later than "
                       f"{(now + max_skew).strftime(AMZ_DATE)} ({now.strftime(AMZ_DATE)} + "
                       f"{int(max_skew.total_seconds() // 60)} min.)")
    return identity.principal
