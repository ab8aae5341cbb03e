"""QUERY_DIRECTORY (folder listings, attributes included) and CHANGE_NOTIFY.

The first query on an open (or one with RESTART_SCANS/REOPEN) takes the
pattern and asks ShareFS for every match, "." and ".." included; later
queries continue from the cursor until NO_MORE_FILES.
"""

from __future__ import annotations

import asyncio

from peerwork.proto import smb2_constants as c
from peerwork.proto.ntstatus import NtStatus
from peerwork.proto.smb2_directory import (
    REOPEN,
    RESTART_SCANS,
    RETURN_SINGLE_ENTRY,
    DirInfoClass,
    QueryDirectoryRequest,
    fixed_size,
    pack_entries,
    query_directory_response,
)

from .api import CHANGE_NOTIFY, QUERY_DIRECTORY, Reply, Request, handler
from .opens import DirCursor, find_file, require


@handler(QUERY_DIRECTORY)
async def query_directory(req: Request) -> Reply:
    parsed = QueryDirectoryRequest.parse(req.body)
    found = find_file(req, parsed.file_id)
    if not found.is_dir:
        return Reply(NtStatus.INVALID_PARAMETER)
    try:
        klass = DirInfoClass(parsed.info_class)
    except ValueError:
        return Reply(NtStatus.INVALID_INFO_CLASS)
    require(found.granted, c.FILE_LIST_DIRECTORY)
    if parsed.output_length < fixed_size(klass):
        return Reply(NtStatus.INFO_LENGTH_MISMATCH)
    limit = min(parsed.output_length, req.max_transact or parsed.output_length)
    pattern = parsed.pattern or "*"
    cursor = found.cursor
    first = cursor is None or bool(parsed.flags & (RESTART_SCANS | REOPEN))
    if cursor is None or first:
        if cursor is not None and not parsed.flags & REOPEN and not parsed.pattern:
            pattern = cursor.pattern  # RESTART_SCANS keeps the pattern unless a new one is given
        # Listing a big folder stats every entry: off the event loop, and the
        # matching bounded by [files] max_listing_work.
        work = req.server.server.max_listing_work
        entries = await asyncio.to_thread(found.handle.list, pattern, max_work=work)
        cursor = found.cursor = DirCursor(pattern, list(entries))
    # No more entries than could fit: copying the whole rest on every call would make
    # a big listing quadratic on the event loop.
    remaining = cursor.entries[cursor.sent : cursor.sent + limit // fixed_size(klass) + 1]
    if not remaining:
        none_matched = first and not cursor.entries
        return Reply(NtStatus.NO_SUCH_FILE if none_matched else NtStatus.NO_MORE_FILES)
    data, taken = pack_entries(klass, remaining, limit, bool(parsed.flags & RETURN_SINGLE_ENTRY))
    if taken == 0:
        return Reply(NtStatus.BUFFER_TOO_SMALL)
    cursor.sent += taken
    return Reply(NtStatus.SUCCESS, query_directory_response(data))


@handler(CHANGE_NOTIFY)
async def change_notify(req: Request) -> Reply:
    """Not yet: a later issue watches folders; clients fall back to polling."""
    return Reply(NtStatus.NOT_SUPPORTED)
