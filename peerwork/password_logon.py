"""Checking a user name and password against the workgroup accounts: SMTP AUTH, POP3
and IPPS (HTTP Basic) alike.

The account store keeps NT hashes only, so a presented password is checked by
computing its NT hash. Failures go through one :class:`ThrottleTable` (by
account and by client address) per service: guessing over SMTP and POP3 at once
earns the same growing delays.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from peerwork.accounts import AccountStore, nt_hash
from peerwork.logon_throttle import Key, KeyKind, ThrottleLimits, ThrottleTable

log = logging.getLogger("peerwork.logon")


@dataclass(frozen=True, slots=True)
class LogonResult:
    """``account`` is set on success; ``delay`` is how long to hold back a failure's answer."""

    account: str | None
    delay: float = 0.0


class PasswordLogon:
    def __init__(
        self,
        accounts: AccountStore,
        limits: ThrottleLimits | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.accounts = accounts
        self.throttle = ThrottleTable(limits or ThrottleLimits())
        self.monotonic = monotonic

    def check(self, user: str, password: str, address: str, protocol: str) -> LogonResult:
        name = user.strip().lower()
        keys = (Key(KeyKind.ACCOUNT, name), Key(KeyKind.ADDRESS, address))
        stored = self.accounts.nt_hash_of(name) if name else None
        if stored is not None and hmac.compare_digest(stored, nt_hash(password)):
            self.throttle.succeeded(keys[0], self.monotonic())
            return LogonResult(name)
        verdict = self.throttle.failed(keys, self.monotonic())
        if verdict.log:
            log.warning("%s: failed logon for %r from %s", protocol, name, address)
        for burst in verdict.bursts:
            log.warning(
                "%s: %d failed logons for %s %r; answering with growing delays",
                protocol,
                burst.failures,
                burst.key.kind.value,
                burst.key.name,
            )
        return LogonResult(None, verdict.delay)
