"""Sending through SMTP: one connection, reopened after a failure, and each failure classed as worth retrying
(4xx, a dropped connection, a timeout) or final (5xx, with whether the address itself was refused)."""

from __future__ import annotations

import contextlib
import smtplib
import ssl

from paperfeed.config import Settings


class TransientError(Exception):
    """Worth trying again later: 4xx, a dropped connection, a timeout."""


class PermanentError(Exception):
    """The server refused for good (5xx)."""

    def __init__(self, message: str, address_refused: bool):
        super().__init__(message)
        self.address_refused = address_refused


class Mailer:
    """One SMTP connection, opened on first use and reopened after a failure."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.conn: smtplib.SMTP | None = None

    def _password(self) -> str:
        if self.settings.smtp_password_file:
            return self.settings.smtp_password_file.read_text().strip()
        return self.settings.smtp_password

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        if s.smtp_security == "ssl":
            conn = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=context)
        else:
            conn = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
            if s.smtp_security == "starttls":
                conn.starttls(context=context)
        if s.smtp_username:
            conn.login(s.smtp_username, self._password())
        return conn

    def send(self, sender: str, to: str, data: bytes) -> None:
        try:
            if self.conn is None:
                self.conn = self._open()
            self.conn.sendmail(sender, [to], data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            if code >= 500:
                raise PermanentError(f"{code} {_text(text)}", address_refused=True) from exc
            raise TransientError(f"{code} {_text(text)}") from exc
        except smtplib.SMTPDataError as exc:
            if exc.smtp_code >= 500:
                raise PermanentError(f"{exc.smtp_code} {_text(exc.smtp_error)}", address_refused=False) from exc
            raise TransientError(f"{exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise TransientError(f"{exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.conn.quit()
            self.conn = None


def _text(raw) -> str:
    return (raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw))[:300]
