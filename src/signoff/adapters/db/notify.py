"""PostgreSQL LISTEN/NOTIFY: commits announce themselves; workers and resolve caches listen.

Writers call ``pg_notify`` inside their own transaction, so PostgreSQL delivers the
notification only if and when that transaction commits, after its rows are visible to new
reads: a listener that reacts by reading never sees the old state. Two channels:

    signoff_outbox   payload ""            new events are in the outbox (workers wake up)
    signoff_live     payload model name    a live pointer of that model moved (resolve caches drop it)

A notification is a hint, never the only path. One sent while a listener is reconnecting is
lost, so subscribers hear about every (re)connect and disconnect and treat both as "anything
may have changed"; workers keep polling (slowly) and caches keep a time bound.

``Listener`` holds one dedicated autocommit psycopg connection (not a pool connection: the
pool would hand it to others and LISTEN is per session) on a daemon thread, waits on its
socket with a selector, reconnects with capped exponential backoff, and probes the
connection when quiet so a dead one is noticed. SQLite has no such channel; callers use
``supported()`` and do without.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

log = logging.getLogger("signoff.notify")

OUTBOX_CHANNEL = "signoff_outbox"
LIVE_CHANNEL = "signoff_live"

_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


def supported(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def announce(session: Session, channel: str, payload: str = "") -> None:
    """Queue a notification in the session's transaction (PostgreSQL; a no-op elsewhere)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_NOTIFY, {"channel": channel, "payload": payload})


class Listener:
    """LISTEN on some channels and call ``on_notify(channel, payload)`` for each notification.

    ``on_connect`` runs after every successful (re)connect, once LISTEN is in force;
    ``on_disconnect`` after the connection is lost. Callbacks run on the listener's thread
    and must be quick; their exceptions are logged, never raised.
    """

    def __init__(
        self,
        engine: Engine,
        channels: Iterable[str],
        on_notify: Callable[[str, str], None],
        *,
        on_connect: Callable[[], None] | None = None,
        on_disconnect: Callable[[], None] | None = None,
        name: str = "signoff",
        keepalive: float = 5.0,
        retry_min: float = 0.05,
        retry_max: float = 2.0,
    ) -> None:
        self.engine = engine
        self.channels = list(channels)
        self.on_notify, self.on_connect, self.on_disconnect = on_notify, on_connect, on_disconnect
        self.name = name
        self.keepalive, self.retry_min, self.retry_max = keepalive, retry_min, retry_max
        self.connects = 0  # successful connects so far: tests and logs see reconnects
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend of the current connection (None while disconnected)."""
        return self._pid

    def start(self) -> Listener:
        if self._thread is None:
            self._stop.clear()
            # stop() writes a byte here to interrupt the wait on the database socket.
            self._wake_r, self._wake_w = socket.socketpair()
            self._wake_r.setblocking(False)
            self._thread = threading.Thread(target=self._run, args=(self._wake_r,), name=f"{self.name}-listen",
                                            daemon=True)
            self._thread.start()
        return self

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is None:
            return
        with suppress(OSError):
            if self._wake_w is not None:  # set with the thread
                self._wake_w.send(b"x")
        self._thread.join(timeout)
        self._thread = None
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._wake_r = self._wake_w = None

    # -- the thread ----------------------------------------------------------------------

    def _run(self, wake: socket.socket) -> None:
        delay = self.retry_min
        while not self._stop.is_set():
            conn = None
            try:
                conn = self._connect()
                delay = self.retry_min
                self._serve(conn, wake)
            except Exception as exc:  # noqa: BLE001 - any failure means: reconnect
                if not self._stop.is_set():
                    log.warning("%s: LISTEN connection lost (%s); reconnecting in %.2fs",
                                self.name, " ".join(str(exc).split()) or type(exc).__name__, delay)
            finally:
                was_connected = self._connected.is_set()
                self._connected.clear()
                self._pid = None
                if conn is not None:
                    with suppress(Exception):
                        conn.close()
                if was_connected:
                    self._call(self.on_disconnect)
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self.retry_max)

    def _connect(self) -> Any:
        import psycopg
        from psycopg import sql

        cargs, cparams = self.engine.dialect.create_connect_args(self.engine.url)
        params = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
                  "keepalives_count": 3, **cparams, "autocommit": True, "application_name": self.name[:63]}
        conn = psycopg.connect(*cargs, **params)
        try:
            for channel in self.channels:
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except BaseException:
            conn.close()
            raise
        self._pid = conn.info.backend_pid
        self.connects += 1
        self._connected.set()
        self._call(self.on_connect)
        return conn

    def _serve(self, conn: Any, wake: socket.socket) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(conn.pgconn.socket, selectors.EVENT_READ, "db")
            selector.register(wake, selectors.EVENT_READ, "wake")
            while not self._stop.is_set():
                ready = {key.data for key, _ in selector.select(self.keepalive)}
                if "wake" in ready:
                    with suppress(BlockingIOError):
                        wake.recv(64)
                    continue
                if not ready:
                    conn.execute("SELECT 1")  # quiet for a while: is the server still there?
                # Reads what arrived (raising if the server closed the connection), then hands
                # out the notifications, including any that came in during the probe.
                for note in conn.notifies(timeout=0):
                    self._call(self.on_notify, note.channel, note.payload)

    def _call(self, callback: Callable[..., None] | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # a subscriber's bug must not kill the listener
            log.exception("%s: notification callback failed", self.name)
