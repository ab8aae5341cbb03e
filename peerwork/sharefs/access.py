"""Access masks and share modes for the share file store.

Share-level permissions map onto NT rights like this (SPEC §4):

* ``read``: list, read data, read attributes/EAs/security, execute/traverse.
* ``change``: also write and append data, write EAs, write attributes (times;
  the READONLY flag needs ``full``, checked where it is set), delete and
  delete-child, create.
* ``full``: also WRITE_DAC and WRITE_OWNER.

``ACCESS_SYSTEM_SECURITY`` (SACLs) is never granted: PRIVILEGE_NOT_HELD.

Share modes follow MS-FSA 2.1.5.1.2.1: an open whose access includes none of
read/write/append/execute/delete never conflicts, in either direction.
"""

from __future__ import annotations

from peerwork.proto.ntstatus import NtStatus, NtStatusError
from peerwork.proto.smb2_constants import (
    ACCESS_SYSTEM_SECURITY,
    DELETE,
    FILE_APPEND_DATA,
    FILE_DELETE_CHILD,
    FILE_EXECUTE,
    FILE_READ_ATTRIBUTES,
    FILE_READ_DATA,
    FILE_READ_EA,
    FILE_SHARE_DELETE,
    FILE_SHARE_READ,
    FILE_SHARE_WRITE,
    FILE_WRITE_ATTRIBUTES,
    FILE_WRITE_DATA,
    FILE_WRITE_EA,
    MAXIMUM_ALLOWED,
    READ_CONTROL,
    SYNCHRONIZE,
    WRITE_DAC,
    WRITE_OWNER,
    map_generic,
)
from peerwork.shares import Access

READ_RIGHTS = (
    FILE_READ_DATA | FILE_READ_EA | FILE_EXECUTE | FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE
)
CHANGE_RIGHTS = (
    READ_RIGHTS
    | FILE_WRITE_DATA
    | FILE_APPEND_DATA
    | FILE_WRITE_EA
    | FILE_WRITE_ATTRIBUTES
    | DELETE
    | FILE_DELETE_CHILD
)
FULL_RIGHTS = CHANGE_RIGHTS | WRITE_DAC | WRITE_OWNER
# Rights that change file data: refused on a file whose READONLY attribute is set.
DATA_WRITE_RIGHTS = FILE_WRITE_DATA | FILE_APPEND_DATA
_SHARING_RIGHTS = FILE_READ_DATA | FILE_EXECUTE | FILE_WRITE_DATA | FILE_APPEND_DATA | DELETE


def rights_for(access: Access) -> int:
    """Every right a share grant allows."""
    if access >= Access.FULL:
        return FULL_RIGHTS
    if access >= Access.CHANGE:
        return CHANGE_RIGHTS
    if access >= Access.READ:
        return READ_RIGHTS
    return 0


def grant(access: Access, desired: int, *, readonly_file: bool = False) -> int:
    """The granted mask for ``desired`` (GENERIC_* mapped, MAXIMUM_ALLOWED expanded).

    Raises ACCESS_DENIED when the grant lacks a requested right and
    PRIVILEGE_NOT_HELD for ACCESS_SYSTEM_SECURITY. ``readonly_file``: the target
    has the READONLY attribute, so data-write rights are refused when asked for
    explicitly and left out of MAXIMUM_ALLOWED.
    """
    if access <= Access.NONE:
        raise NtStatusError(NtStatus.ACCESS_DENIED, "no access to this share")
    if desired & ACCESS_SYSTEM_SECURITY:
        raise NtStatusError(NtStatus.PRIVILEGE_NOT_HELD, "SACL access is not available")
    allowed = rights_for(access)
    if readonly_file:
        allowed &= ~DATA_WRITE_RIGHTS
    wanted = map_generic(desired) & ~MAXIMUM_ALLOWED
    missing = wanted & ~allowed
    if missing:
        status = NtStatus.ACCESS_DENIED
        reason = "the file is read-only" if readonly_file and missing & DATA_WRITE_RIGHTS else ""
        raise NtStatusError(status, reason or f"share grant {access} lacks rights {missing:#x}")
    if desired & MAXIMUM_ALLOWED:
        return allowed
    return wanted


def sharing_conflict(
    held_access: int, held_share: int, wanted_access: int, wanted_share: int
) -> bool:
    """Would a new open (wanted) conflict with an existing one (held)? MS-FSA 2.1.5.1.2.1."""
    if not held_access & _SHARING_RIGHTS or not wanted_access & _SHARING_RIGHTS:
        return False
    return _denied(held_share, wanted_access) or _denied(wanted_share, held_access)


def _denied(share: int, access: int) -> bool:
    return bool(
        (not share & FILE_SHARE_READ and access & (FILE_READ_DATA | FILE_EXECUTE))
        or (not share & FILE_SHARE_WRITE and access & (FILE_WRITE_DATA | FILE_APPEND_DATA))
        or (not share & FILE_SHARE_DELETE and access & DELETE)
    )
