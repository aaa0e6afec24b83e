"""SSM Parameter Store, read side, over signoff's parameter store (`/signoff/models/M/ENV`).

Values are the JSON documents signoff stores (type `String`, one JSON text). Writes are refused
with AccessDeniedException: what is live changes only through an approval in signoff.
Limits follow AWS: GetParameters takes at most 10 names, GetParametersByPath and
DescribeParameters pages hold at most 10 and 50, GetParameterHistory at most 50.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from signoff.entrypoints.aws import paging
from signoff.entrypoints.aws.errors import AwsError, access_denied, validation
from signoff.entrypoints.aws.protocol import Call, Service
from signoff.errors import NotFound
from signoff.services import queries

SCOPE = "resolve"
WRITES = ("PutParameter", "DeleteParameter", "DeleteParameters", "LabelParameterVersion",
          "UnlabelParameterVersion", "AddTagsToResource", "RemoveTagsFromResource")
HISTORY_MAX, BY_PATH_MAX, DESCRIBE_MAX, GET_MANY_MAX = 50, 10, 50, 10


def _arn(call: Call, name: str) -> str:
    return f"arn:aws:ssm:{call.region}:{call.account}:parameter{name}"


def _strip_arn(call: Call, name: str) -> str:
    prefix = f"arn:aws:ssm:{call.region}:{call.account}:parameter"
    return name.removeprefix(prefix)


def _value(stored: dict[str, Any]) -> str:
    return json.dumps(stored["value"], separators=(",", ":"), ensure_ascii=False)


def _when(stored: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(stored["created_at"])


def parameter(call: Call, stored: dict[str, Any], selector: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Name": stored["name"], "Type": "String", "Value": _value(stored), "Version": stored["version"],
        "LastModifiedDate": _when(stored), "ARN": _arn(call, stored["name"]), "DataType": "text",
    }
    if selector:
        out["Selector"] = selector
    return out


def _metadata(call: Call, stored: dict[str, Any]) -> dict[str, Any]:
    return {
        "Name": stored["name"], "ARN": _arn(call, stored["name"]), "Type": "String",
        "LastModifiedDate": _when(stored), "LastModifiedUser": call.user_arn(stored["created_by"]),
        "Version": stored["version"], "Tier": "Standard", "Policies": [], "DataType": "text",
    }


def _history_entry(call: Call, stored: dict[str, Any]) -> dict[str, Any]:
    return {**_metadata(call, stored), "Value": _value(stored), "Labels": []}


def _name(call: Call, key: str = "Name") -> str:
    name = call.params.get(key)
    if not isinstance(name, str) or not name:
        raise validation(f"1 validation error detected: Value null at '{key[0].lower() + key[1:]}' failed to "
                         "satisfy constraint: Member must not be null")
    return _strip_arn(call, name)


def _max_results(call: Call, default: int, top: int) -> int:
    value = call.params.get("MaxResults", default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1 or value > top:
        raise validation(f"1 validation error detected: Value '{value}' at 'maxResults' failed to satisfy "
                         f"constraint: Member must have value {'less than or equal to ' + str(top) if isinstance(value, int) and value > top else 'greater than or equal to 1'}")
    return value


def _lookup(call: Call, requested: str) -> tuple[dict[str, Any], str | None]:
    """A `name`, `name:version` or `name:label` selector → (stored version, selector)."""
    name, colon, selector = requested.partition(":")
    if not name.startswith("/"):
        raise AwsError("ParameterNotFound", f"Parameter {requested} not found.")
    if not colon:
        try:
            return queries.get_parameter(uow=call.ctx.uow(), name=name), None
        except NotFound:
            raise AwsError("ParameterNotFound", f"Parameter {requested} not found.") from None
    if not selector.isdigit() or len(selector) > 9:
        # signoff has no labels: the version number is the only selector that can match.
        raise AwsError("ParameterNotFound", f"Parameter {requested} not found.")
    try:
        return queries.get_parameter(uow=call.ctx.uow(), name=name, version=int(selector)), f":{selector}"
    except NotFound:
        if _exists(call, name):
            raise AwsError("ParameterVersionNotFound", f"Systems Manager could not find version {selector} of "
                           f"{name}. Verify the version and try again.") from None
        raise AwsError("ParameterNotFound", f"Parameter {requested} not found.") from None


def _exists(call: Call, name: str) -> bool:
    return bool(queries.latest_parameters(uow=call.ctx.uow(), names=[name]))


def get_parameter(call: Call) -> dict[str, Any]:
    call.require("ssm", SCOPE)
    stored, selector = _lookup(call, _name(call))
    return {"Parameter": parameter(call, stored, selector)}


def get_parameters(call: Call) -> dict[str, Any]:
    call.require("ssm", SCOPE)
    names = call.params.get("Names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise validation("1 validation error detected: Value null at 'names' failed to satisfy constraint: "
                         "Member must not be null")
    if len(names) > GET_MANY_MAX:
        raise validation(f"1 validation error detected: Value '[{', '.join(names)}]' at 'names' failed to satisfy "
                         f"constraint: Member must have length less than or equal to {GET_MANY_MAX}.")
    found, invalid = [], []
    for requested in dict.fromkeys(names):
        try:
            stored, selector = _lookup(call, _strip_arn(call, requested))
        except AwsError:
            invalid.append(requested)
            continue
        found.append(parameter(call, stored, selector))
    return {"Parameters": found, "InvalidParameters": invalid}


def get_parameter_history(call: Call) -> dict[str, Any]:
    call.require("ssm", SCOPE)
    name = _name(call)
    limit = _max_results(call, HISTORY_MAX, HISTORY_MAX)
    offset = paging.offset(call.params)
    if not name.startswith("/"):
        raise AwsError("ParameterNotFound", f"Parameter {name} not found.")
    try:
        # Versions count from 1 without gaps, so the offset is the version to continue after.
        rows = queries.parameter_history(uow=call.ctx.uow(), name=name, after=offset or None, limit=limit + 1)
    except NotFound:
        raise AwsError("ParameterNotFound", f"Parameter {name} not found.") from None
    out: dict[str, Any] = {"Parameters": [_history_entry(call, r) for r in rows[:limit]]}
    if len(rows) > limit:
        out["NextToken"] = paging.token(rows[limit - 1]["version"])
    return out


def _under(path: str, names: list[str], recursive: bool) -> list[str]:
    base = path.rstrip("/") + "/"
    return [n for n in names if n.startswith(base) and (recursive or "/" not in n[len(base):])]


def get_parameters_by_path(call: Call) -> dict[str, Any]:
    call.require("ssm", SCOPE)
    path = _name(call, "Path")
    if not path.startswith("/"):
        raise validation("The parameter doesn't meet the parameter name requirements. The parameter name must "
                         "begin with a forward slash \"/\".")
    if call.params.get("ParameterFilters"):
        raise validation("ParameterFilters are not supported by signoff's parameter store.")
    limit = _max_results(call, BY_PATH_MAX, BY_PATH_MAX)
    offset = paging.offset(call.params)
    names = _under(path, queries.parameter_names(uow=call.ctx.uow(), prefix=path.rstrip("/") + "/"),
                   bool(call.params.get("Recursive", False)))
    page = names[offset:offset + limit]
    out: dict[str, Any] = {"Parameters": [parameter(call, p) for p in
                                          queries.latest_parameters(uow=call.ctx.uow(), names=page)]}
    if offset + limit < len(names):
        out["NextToken"] = paging.token(offset + limit)
    return out


def _describe_filter(call: Call) -> tuple[str, bool, list[str], list[str]]:
    """(path, recursive, name equals, name begins-with) from ParameterFilters (and legacy Filters)."""
    path, recursive = "/", True
    equals: list[str] = []
    begins: list[str] = []
    filters = list(call.params.get("ParameterFilters") or [])
    for legacy in call.params.get("Filters") or []:
        if legacy.get("Key") == "Name":
            filters.append({"Key": "Name", "Option": "BeginsWith", "Values": legacy.get("Values", [])})
        elif legacy.get("Key") == "Type":
            filters.append({"Key": "Type", "Values": legacy.get("Values", [])})
        else:
            raise AwsError("InvalidFilterKey", f"The following filter key is not valid: {legacy.get('Key')}")
    for f in filters:
        key, option, values = f.get("Key"), f.get("Option", "Equals"), list(f.get("Values") or [])
        if key == "Name" and option in ("Equals", "BeginsWith"):
            (equals if option == "Equals" else begins).extend("/" + v.lstrip("/") for v in values)
        elif key == "Path" and option in ("OneLevel", "Recursive") and len(values) == 1:
            path, recursive = values[0], option == "Recursive"
        elif key == "Type" and option == "Equals":
            if "String" not in values:
                equals.append("\0none")  # every signoff parameter is a String
        elif key in ("Name", "Path", "Type"):
            raise AwsError("InvalidFilterOption", f"The following filter option is not valid: {option}.")
        else:
            raise AwsError("InvalidFilterKey", f"The following filter key is not valid: {key}")
    return path, recursive, equals, begins


def describe_parameters(call: Call) -> dict[str, Any]:
    call.require("ssm", SCOPE)
    limit = _max_results(call, DESCRIBE_MAX, DESCRIBE_MAX)
    offset = paging.offset(call.params)
    path, recursive, equals, begins = _describe_filter(call)
    prefix = "/" if path == "/" else path.rstrip("/") + "/"
    names = queries.parameter_names(uow=call.ctx.uow(), prefix=prefix)
    if path != "/" or not recursive:
        names = _under(path, names, recursive)
    names = [n for n in names if (not equals or n in equals) and (not begins or any(n.startswith(b) for b in begins))]
    page = names[offset:offset + limit]
    out: dict[str, Any] = {"Parameters": [_metadata(call, p) for p in
                                          queries.latest_parameters(uow=call.ctx.uow(), names=page)]}
    if offset + limit < len(names):
        out["NextToken"] = paging.token(offset + limit)
    return out


def _refuse(call: Call) -> dict[str, Any]:
    raise access_denied(f"User: {call.user_arn()} is not authorized to perform: ssm:{call.operation}: "
                        "signoff's parameters change only when a version is approved, rolled back or revoked "
                        "in signoff")


SERVICE = Service(
    signing_name="ssm",
    target_prefix="AmazonSSM",
    not_found="ParameterNotFound",
    operations={
        "GetParameter": get_parameter,
        "GetParameters": get_parameters,
        "GetParameterHistory": get_parameter_history,
        "GetParametersByPath": get_parameters_by_path,
        "DescribeParameters": describe_parameters,
        **{name: _refuse for name in WRITES},
    },
)
