"""One exception hierarchy; every message is something a user can act on."""

from __future__ import annotations


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


def error_class(code: str) -> type[PeerworkError]:
    """The PeerworkError subclass whose ``code`` is ``code`` (PeerworkError if none)."""
    pending: list[type[PeerworkError]] = [PeerworkError]
    while pending:
        cls = pending.pop()
        if cls.code == code:
            return cls
        pending.extend(cls.__subclasses__())
    return PeerworkError
