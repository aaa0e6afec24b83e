"""Garbage collection while a process starts, and after.

Importing FastAPI, pydantic, SQLAlchemy and the app, and building the routes, allocates about a
million objects, most of which live as long as the process. The cyclic collector scans them
again and again while they pile up (300+ collections, ~0.25 s of a `signoff server` start on
these machines) and finds almost nothing. So the `signoff` command starts with the collector off
(`starting`); a long-running process, once ready, moves what it built into the permanent
generation that later collections never scan (`gc.freeze`, which also makes them cheaper) and
turns the collector back on (`ready`). Short commands exit before it would matter; reference
counting still frees everything that is not in a cycle.
"""

from __future__ import annotations

import gc

_paused = False


def starting() -> None:
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def ready() -> None:
    """The process has built what it keeps: stop scanning it, and collect as usual from now on."""
    global _paused
    if _paused:
        gc.freeze()
        gc.enable()
        _paused = False
