"""Outgoing e-mail (password reset codes), through the SMTP server of OVC_SMTP_*.

The standard library's client runs in a worker thread, off the event loop. A refused or
unreachable server is a 503: the caller's transaction rolls back, so nothing changed that
the user was not told about.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

import anyio.to_thread

from ovc_api.errors import ServiceUnavailable
from ovc_api.settings import Settings, SmtpSecurity

logger = logging.getLogger("ovc_api.mail")


def mail_configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def _send(settings: Settings, message: EmailMessage) -> None:
    security = settings.smtp_security
    timeout = settings.smtp_timeout_seconds
    client: smtplib.SMTP
    if security is SmtpSecurity.ssl:
        client = smtplib.SMTP_SSL(
            settings.smtp_host,
            settings.smtp_port,
            timeout=timeout,
            context=ssl.create_default_context(),
        )
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    with client:
        if security is SmtpSecurity.starttls:
            client.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            client.login(settings.smtp_user, settings.smtp_password)
        client.send_message(message)


async def send_mail(settings: Settings, *, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    try:
        await anyio.to_thread.run_sync(_send, settings, message)
    except (OSError, smtplib.SMTPException) as exc:
        # The exception's class only: its text may carry the recipient's address.
        logger.warning("sending mail failed", extra={"error": type(exc).__name__})
        raise ServiceUnavailable("The mail server did not accept the message: try again") from exc
