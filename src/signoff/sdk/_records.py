"""Results the SDK returns: JSON-shaped dicts that also allow attribute access."""

from __future__ import annotations

from typing import Any


class Record(dict[str, Any]):
    """A dict (so `json.dumps` and `r["version"]` work) with `r.version` as well."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def record(value: Any) -> Any:
    if isinstance(value, dict):
        return Record({k: record(v) for k, v in value.items()})
    if isinstance(value, list):
        return [record(v) for v in value]
    return value
