"""One exception hierarchy; every message is something a user can act on."""

from __future__ import annotations

import errno


class PeerworkError(Exception):
    """Base of every error peerwork raises on purpose.

    ``code`` is a short machine-readable identifier used by the control API
    (``{"error": code, "message": text}``); ``http_status`` is what the API
    answers with.
    """

    code = "error"
    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(PeerworkError):
    code = "config"


class NotInitialised(PeerworkError):
    code = "not-initialised"
    http_status = 409


class HomeLocked(PeerworkError):
    code = "home-locked"
    http_status = 409


class NotFound(PeerworkError):
    code = "not-found"
    http_status = 404


class AlreadyExists(PeerworkError):
    code = "exists"
    http_status = 409


class InvalidInput(PeerworkError):
    code = "invalid"
    http_status = 400


class PathEscape(PeerworkError):
    """A path tried to leave its share (``..``, absolute, symlink, stream, device name)."""

    code = "path-escape"
    http_status = 403


class AgentNotRunning(PeerworkError):
    code = "agent-not-running"
    http_status = 503


class ServiceError(PeerworkError):
    code = "service"
    http_status = 500


class LogonFailed(PeerworkError):
    """A peer refused our user name or password."""

    code = "logon-failed"
    http_status = 401


class AccessDenied(PeerworkError):
    code = "access-denied"
    http_status = 403


class ConnectFailed(PeerworkError):
    """A peer could not be reached (refused, timed out, not a peerwork/SMB server)."""

    code = "connect-failed"
    http_status = 502


class UntrustedPeer(PeerworkError):
    """A peer name whose announcement we will not act on (an impostor's, or unverified)."""

    code = "untrusted-peer"
    http_status = 403


def error_class(code: str) -> type[PeerworkError]:
    """The PeerworkError subclass whose ``code`` is ``code`` (PeerworkError if none)."""
    pending: list[type[PeerworkError]] = [PeerworkError]
    while pending:
        cls = pending.pop()
        if cls.code == code:
            return cls
        pending.extend(cls.__subclasses__())
    return PeerworkError


def describe_failure(exc: BaseException) -> str:
    """A service's start-up failure as one line a user can act on."""
    if isinstance(exc, PeerworkError):
        return exc.message
    if isinstance(exc, OSError):
        if exc.errno == errno.EADDRINUSE:
            return f"address already in use ({exc.strerror}); another program holds the port"
        if exc.errno == errno.EACCES:
            return f"permission denied ({exc.strerror}); ports below 1024 need root"
        if exc.errno == errno.EADDRNOTAVAIL:
            return f"cannot bind that address ({exc.strerror}); it is not on this machine"
        return f"{exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


def describe_os_error(exc: OSError) -> str:
    """One line for an OSError from the CLI's own file work (never a traceback)."""
    where = f": {exc.filename}" if exc.filename else ""
    if isinstance(exc, PermissionError):
        return (
            f"permission denied{where} — run as the user that owns this peerwork home "
            "(root for /var/lib/peerwork), or pick another with --home"
        )
    return f"{exc.strerror or exc}{where}"
