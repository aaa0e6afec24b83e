"""Sending mail over SMTP: plain, STARTTLS or implicit TLS, with optional login.

Library errors are turned into ``DeliveryFailed`` here, marked retryable or not: a 4xx
reply or a dropped connection may succeed later, a 5xx refusal or bad credentials will not.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from signoff.config import SmtpSettings
from signoff.errors import DeliveryFailed
from signoff.services.ports import MailMessage


def build_message(message: MailMessage, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = ", ".join(message.to)
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    if message.message_id:
        mail["Message-ID"] = message.message_id
    for name, value in message.headers.items():
        mail[name] = value
    mail.set_content(message.text)
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    return mail


class SmtpMailer:
    """The Mailer port over smtplib, one connection per message."""

    def __init__(self, settings: SmtpSettings, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self.ssl_context = ssl_context

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def send(self, message: MailMessage, *, timeout: float | None = None) -> None:
        s = self.settings
        wait = min(s.timeout, timeout) if timeout else s.timeout
        mail = build_message(message, s.sender)
        try:
            if s.tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=wait, context=self._context())
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=wait)
            with client:
                if s.starttls and not s.tls:
                    client.starttls(context=self._context())
                if s.user:
                    client.login(s.user, s.password.get_secret_value() if s.password else "")
                client.send_message(mail, to_addrs=message.to)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryFailed(f"SMTP login refused: {exc.smtp_code} {_text(exc.smtp_error)}",
                                 details={"retry": False, "status_code": exc.smtp_code}) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryFailed(f"SMTP refused recipients {', '.join(exc.recipients)}",
                                 details={"retry": all(400 <= c < 500 for c in codes),
                                          "status_code": codes[0] if codes else None}) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}",
                                 details={"retry": exc.smtp_code < 500, "status_code": exc.smtp_code}) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"SMTP {s.host}:{s.port}: {type(exc).__name__}: {exc}",
                                 details={"retry": True, "status_code": None}) from None


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
