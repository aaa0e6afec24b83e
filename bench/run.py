"""`make bench`: every benchmark in one JSON document (compare ratios within one run)."""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

SUITES = [
    ("embedded", "embedded", "run_embedded_bench"),
    ("http", "http_api", "run_http_bench"),  # not `http`: that would shadow the standard library
    ("events", "events", "run_event_bench"),
    ("inference", "inference", "run_inference_bench"),
    ("scale", "scale", "run_scale_bench"),
]


def main() -> None:
    only = set(sys.argv[1:])
    out: dict[str, object] = {"machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()}}
    for key, module, func in SUITES:
        if only and key not in only:
            continue
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue
            raise
        started = time.perf_counter()
        out[key] = getattr(mod, func)()
        out[key]["bench_seconds"] = round(time.perf_counter() - started, 1)  # type: ignore[index]
        print(f"bench {key} done", file=sys.stderr)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
