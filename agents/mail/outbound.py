"""Mail for other domains, out through the smarthost (the ISP's SMTP server).

:func:`relay` is blocking (smtplib; run it in a thread): connect with the TLS
the settings name (STARTTLS, implicit TLS, or none), verify the server's
certificate, AUTH if a user is set, then one transaction for all of a
message's outside recipients, the DATA streamed from the queue file (never
held whole). Each recipient comes back accepted, failed for good (5xx: the
sender gets a bounce) or deferred (4xx, or anything that broke the
connection: retried with backoff).
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path

from peerwork.proto.dotstuff import DotStuffer

from .errors import DestinationDown
from .settings import Smarthost

READ_SIZE = 1 << 20


class SmarthostError(DestinationDown):
    """The smarthost could not be used at all (unreachable, TLS, AUTH, no password)."""

    code = "smarthost"


@dataclass(frozen=True, slots=True)
class RelayResult:
    accepted: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # (recipient, the server's reply): bounce
    deferred: tuple[tuple[str, str], ...] = ()  # (recipient, why): try again later


def read_password(path: Path) -> str:
    """The smarthost password from its secrets file, which must be the owner's alone."""
    try:
        info = path.stat()
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise SmarthostError(f"{path} must be readable by its owner only (chmod 600 it)")
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except FileNotFoundError:
        raise SmarthostError(f"smarthost_user is set but {path} holds no password") from None
    except OSError as exc:
        raise SmarthostError(f"cannot read {path}: {exc.strerror or exc}") from None


def _reply(code: int, text: bytes | str) -> str:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(message.split())}"[:500]


def relay(
    host: Smarthost,
    password: str | None,
    helo: str,
    sender: str,
    recipients: tuple[str, ...],
    data: Path,
    timeout: float = 60.0,
) -> RelayResult:
    """Send ``data`` for ``recipients``; SmarthostError when the server could not be used."""
    context = ssl.create_default_context(cafile=host.ca or None)
    where = f"smarthost {host.host}:{host.port}"
    try:
        if host.tls == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host.host, host.port, local_hostname=helo, timeout=timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(host.host, host.port, local_hostname=helo, timeout=timeout)
        try:
            smtp.ehlo()
            if host.tls == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if host.user:
                smtp.login(host.user, password or "")
            result = _transaction(smtp, sender, recipients, data)
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()  # the message is in; a lost QUIT changes nothing
            return result
        finally:
            smtp.close()
    except smtplib.SMTPAuthenticationError as exc:
        reply = _reply(exc.smtp_code, exc.smtp_error)
        raise SmarthostError(f"{where} refused the login: {reply}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise SmarthostError(f"{where}: {exc}") from None
    except smtplib.SMTPResponseException as exc:
        raise SmarthostError(f"{where}: {_reply(exc.smtp_code, exc.smtp_error)}") from None
    except ssl.SSLError as exc:
        raise SmarthostError(f"{where}: TLS failed ({exc.reason or exc})") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise SmarthostError(f"{where}: {exc}") from None


def _transaction(
    smtp: smtplib.SMTP, sender: str, recipients: tuple[str, ...], data: Path
) -> RelayResult:
    options = []
    if smtp.has_extn("size"):
        options.append(f"SIZE={data.stat().st_size}")
    if smtp.has_extn("8bitmime"):
        options.append("BODY=8BITMIME")
    code, text = smtp.mail(sender, options)
    if code != 250:
        return _all(recipients, code, text)
    accepted: list[str] = []
    failed: list[tuple[str, str]] = []
    deferred: list[tuple[str, str]] = []
    for recipient in recipients:
        code, text = smtp.rcpt(recipient)
        if code in (250, 251):
            accepted.append(recipient)
        else:
            (failed if 500 <= code < 600 else deferred).append((recipient, _reply(code, text)))
    if not accepted:
        smtp.rset()
        return RelayResult((), tuple(failed), tuple(deferred))
    code, text = smtp.docmd("DATA")
    if code != 354:
        done = _all(tuple(accepted), code, text)
        return RelayResult((), (*failed, *done.failed), (*deferred, *done.deferred))
    stuffer = DotStuffer()
    with data.open("rb") as source:
        while chunk := source.read(READ_SIZE):
            smtp.send(stuffer.feed(chunk))
    smtp.send(stuffer.end())
    code, text = smtp.getreply()
    if code != 250:
        done = _all(tuple(accepted), code, text)
        return RelayResult((), (*failed, *done.failed), (*deferred, *done.deferred))
    return RelayResult(tuple(accepted), tuple(failed), tuple(deferred))


def _all(recipients: tuple[str, ...], code: int, text: bytes) -> RelayResult:
    reply = _reply(code, text)
    pairs = tuple((r, reply) for r in recipients)
    return RelayResult(failed=pairs) if 500 <= code < 600 else RelayResult(deferred=pairs)
