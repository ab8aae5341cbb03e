"""The print spool's journal records: a job and its small document, appended as one unit.

Sans-IO. A record is ``PWJ1``, three big-endian u32 (job length, document
length, CRC-32 of both), the job as JSON, the document bytes. A journal is
records back to back; :func:`parse_records` returns every whole record from
the start and stops at the first that is torn or damaged (a crash while
appending leaves at most one such tail, which no client was told of).
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any

MAGIC = b"PWJ1"
_HEAD = struct.Struct(">4sIII")
MAX_JOB_BYTES = 64 * 1024  # a job's JSON is a few hundred bytes
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024  # only small documents are journalled


@dataclass(frozen=True, slots=True)
class Record:
    job: dict[str, Any]
    document: bytes


def pack_record(job: dict[str, Any], document: bytes) -> bytes:
    meta = json.dumps(job, separators=(",", ":")).encode()
    if len(meta) > MAX_JOB_BYTES or len(document) > MAX_DOCUMENT_BYTES:
        raise ValueError("job or document too large for the journal")
    crc = zlib.crc32(document, zlib.crc32(meta))
    return _HEAD.pack(MAGIC, len(meta), len(document), crc) + meta + document


def parse_records(data: bytes) -> tuple[list[Record], int]:
    """The whole records at the start of ``data``, and how many bytes they span."""
    records: list[Record] = []
    at = 0
    while at + _HEAD.size <= len(data):
        magic, meta_len, doc_len, crc = _HEAD.unpack_from(data, at)
        if magic != MAGIC or meta_len > MAX_JOB_BYTES or doc_len > MAX_DOCUMENT_BYTES:
            break
        end = at + _HEAD.size + meta_len + doc_len
        if end > len(data):
            break
        meta = data[at + _HEAD.size : at + _HEAD.size + meta_len]
        document = data[at + _HEAD.size + meta_len : end]
        if zlib.crc32(document, zlib.crc32(meta)) != crc:
            break
        try:
            job = json.loads(meta)
        except ValueError:
            break
        if not isinstance(job, dict):
            break
        records.append(Record(job, bytes(document)))
        at = end
    return records, at
