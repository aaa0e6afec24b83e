"""The demo's mail catcher: an aiosmtpd server on loopback that files every message as .eml.

`signoff server --demo` points its SMTP settings here, so approval emails really go over SMTP
and the /mailbox page can show them. Messages are files in a directory, so they survive a
restart and two processes can share them.
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

LINK = re.compile(r"https?://[^\s<>\"')]+")


@dataclass(frozen=True)
class StoredMail:
    id: str
    sender: str
    to: str
    subject: str
    date: str
    message_id: str
    text: str
    html: str | None
    links: list[str]


def parse_mail(mail_id: str, raw: bytes) -> StoredMail:
    msg: EmailMessage = email.message_from_bytes(raw, policy=email.policy.default)
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    text = text_part.get_content() if text_part is not None else ""
    html = html_part.get_content() if html_part is not None else None
    links = list(dict.fromkeys(LINK.findall(text) + (re.findall(r'href="([^"]+)"', html) if html else [])))
    links = [link.replace("&amp;", "&") for link in links]
    return StoredMail(mail_id, str(msg.get("From", "")), str(msg.get("To", "")), str(msg.get("Subject", "")),
                      str(msg.get("Date", "")), str(msg.get("Message-ID", "")), text, html,
                      list(dict.fromkeys(links)))


class Mailbox:
    """Captured mail in `directory`; `start()` runs the SMTP server that fills it."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.host, self.port = host, port or _free_port(host)
        self._controller: Any = None
        self._lock = threading.Lock()

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content or envelope.content)
        with self._lock:
            stamp = time.strftime("%Y%m%dT%H%M%S")
            n = len(list(self.directory.glob("*.eml"))) + 1
            (self.directory / f"{n:05d}-{stamp}.eml").write_bytes(raw)
        return "250 Message accepted for delivery"

    def list(self) -> list[StoredMail]:
        """Newest first."""
        files = sorted(self.directory.glob("*.eml"), reverse=True)
        return [parse_mail(f.stem, f.read_bytes()) for f in files]

    def get(self, mail_id: str) -> StoredMail | None:
        if not re.fullmatch(r"[0-9A-Za-z_-]{1,64}", mail_id):
            return None
        path = self.directory / f"{mail_id}.eml"
        return parse_mail(mail_id, path.read_bytes()) if path.is_file() else None


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
