"""Errors the queue runner tells apart."""

from __future__ import annotations

from peerwork.errors import PeerworkError


class DestinationDown(PeerworkError):
    """A home PC or the smarthost could not be reached or used at all (not one message's
    problem): the rest of a queue pass does not try it again, so a PC that is off costs
    one timeout per pass, not one per waiting message."""

    code = "mail-destination-down"
