"""SMB2 CREATE, CLOSE and FLUSH (MS-SMB2 2.2.13-2.2.18) and create contexts.

Sans-IO: ``Request.parse(body)`` on the bytes after the 64-byte header raises
:class:`MalformedPacket` and nothing else; ``Response.pack()`` returns the body.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from peerwork.proto.smb2_fields import Buffer, field, pad8, unpack, utf16
from peerwork.proto.smb2_header import HEADER_SIZE, MalformedPacket

# Create context names peerwork answers; the rest are ignored (allowed by MS-SMB2 3.3.5.9).
CTX_MAXIMAL_ACCESS = b"MxAc"
CTX_QUERY_ON_DISK_ID = b"QFid"
MAX_CREATE_CONTEXTS = 64

_CREATE_REQ = struct.Struct("<HBBIQQIIIIIHHII")  # 56 bytes
_CREATE_RESP = struct.Struct("<HBBIQQQQQQII16sII")  # 88 bytes
_CTX_HEAD = struct.Struct("<IHHHHI")  # 16 bytes
_CLOSE_REQ = struct.Struct("<HHI16s")
_CLOSE_RESP = struct.Struct("<HHIQQQQQQI")
_FLUSH_REQ = struct.Struct("<HHI16s")

CLOSE_FLAG_POSTQUERY_ATTRIB = 0x0001


@dataclass(frozen=True, slots=True)
class CreateContext:
    name: bytes
    data: bytes


def parse_create_contexts(raw: Buffer) -> tuple[CreateContext, ...]:
    """The chained create-context list (MS-SMB2 2.2.13.2); offsets are per context."""
    out: list[CreateContext] = []
    pos = 0
    view = memoryview(raw)
    while pos < len(view):
        nxt, name_off, name_len, _res, data_off, data_len = unpack(
            _CTX_HEAD, view, "create context", pos
        )
        end = len(view) if nxt == 0 else pos + nxt
        if end > len(view) or (nxt and (nxt < _CTX_HEAD.size or nxt % 8)):
            raise MalformedPacket(f"create context Next {nxt} is invalid")
        ctx = view[pos:end]
        if name_len == 0 or name_off + name_len > len(ctx) or name_off < _CTX_HEAD.size:
            raise MalformedPacket("create context name lies outside the context")
        if data_len and (data_off < _CTX_HEAD.size or data_off + data_len > len(ctx)):
            raise MalformedPacket("create context data lies outside the context")
        out.append(
            CreateContext(
                bytes(ctx[name_off : name_off + name_len]),
                bytes(ctx[data_off : data_off + data_len]) if data_len else b"",
            )
        )
        if len(out) > MAX_CREATE_CONTEXTS:
            raise MalformedPacket("too many create contexts")
        if nxt == 0:
            break
        pos = end
    return tuple(out)


def pack_create_contexts(contexts: list[CreateContext]) -> bytes:
    """Chain contexts with 8-byte alignment; name at 16, data 8-aligned after it."""
    parts: list[bytes] = []
    for i, ctx in enumerate(contexts):
        data_off = pad8(_CTX_HEAD.size + len(ctx.name)) if ctx.data else 0
        body = ctx.name.ljust((data_off or _CTX_HEAD.size + len(ctx.name)) - _CTX_HEAD.size, b"\0")
        total = _CTX_HEAD.size + len(body) + len(ctx.data)
        last = i == len(contexts) - 1
        nxt = 0 if last else pad8(total)
        head = _CTX_HEAD.pack(nxt, _CTX_HEAD.size, len(ctx.name), 0, data_off, len(ctx.data))
        item = head + body + ctx.data
        parts.append(item if last else item.ljust(nxt, b"\0"))
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class CreateRequest:
    oplock_level: int
    impersonation_level: int
    desired_access: int
    file_attributes: int
    share_access: int
    disposition: int
    options: int
    name: str
    contexts: tuple[CreateContext, ...] = ()

    def context(self, name: bytes) -> CreateContext | None:
        return next((c for c in self.contexts if c.name == name), None)

    @classmethod
    def parse(cls, body: Buffer) -> CreateRequest:
        (size, _sec, oplock, imp, _flags, _res, access, attrs, share, disp, opts, name_off,
         name_len, ctx_off, ctx_len) = unpack(_CREATE_REQ, body, "CREATE request")  # fmt: skip
        if size != 57:
            raise MalformedPacket(f"CREATE StructureSize is {size}, not 57")
        name = utf16(field(body, name_off, name_len, "CREATE name"), "CREATE name")
        contexts: tuple[CreateContext, ...] = ()
        if ctx_len:
            contexts = parse_create_contexts(field(body, ctx_off, ctx_len, "create contexts"))
        return cls(oplock, imp, access, attrs, share, disp, opts, name, contexts)

    def pack(self) -> bytes:
        """Client side, for tests and the golden round trips."""
        name = self.name.encode("utf-16-le")
        ctx = pack_create_contexts(list(self.contexts))
        name_off = HEADER_SIZE + _CREATE_REQ.size
        ctx_off = HEADER_SIZE + pad8(_CREATE_REQ.size + len(name)) if ctx else 0
        head = _CREATE_REQ.pack(
            57, 0, self.oplock_level, self.impersonation_level, 0, 0, self.desired_access,
            self.file_attributes, self.share_access, self.disposition, self.options,
            name_off, len(name), ctx_off, len(ctx),
        )  # fmt: skip
        if not ctx:
            return head + (name or b"\0")
        return (head + name).ljust(ctx_off - HEADER_SIZE, b"\0") + ctx


@dataclass(frozen=True, slots=True)
class FileTimes:
    """The times, sizes and attributes CREATE and CLOSE report (FILETIME values)."""

    creation_time: int = 0
    last_access_time: int = 0
    last_write_time: int = 0
    change_time: int = 0
    allocation_size: int = 0
    end_of_file: int = 0
    attributes: int = 0


@dataclass(frozen=True, slots=True)
class CreateResponse:
    create_action: int
    times: FileTimes
    file_id: bytes
    contexts: tuple[CreateContext, ...] = ()
    oplock_level: int = 0

    def pack(self) -> bytes:
        t = self.times
        ctx = pack_create_contexts(list(self.contexts))
        ctx_off = HEADER_SIZE + _CREATE_RESP.size if ctx else 0
        head = _CREATE_RESP.pack(
            89, self.oplock_level, 0, self.create_action, t.creation_time, t.last_access_time,
            t.last_write_time, t.change_time, t.allocation_size, t.end_of_file, t.attributes, 0,
            self.file_id, ctx_off, len(ctx),
        )  # fmt: skip
        # StructureSize 89 counts one byte of the variable part; send it even when empty.
        return head + (ctx or b"\0" * 8)


def maximal_access_context(mask: int) -> CreateContext:
    """MxAc response data: QueryStatus (SUCCESS) and MaximalAccess (MS-SMB2 2.2.14.2.5)."""
    return CreateContext(CTX_MAXIMAL_ACCESS, struct.pack("<II", 0, mask))


def on_disk_id_context(file_id: int, volume_id: int) -> CreateContext:
    """QFid response data: DiskFileId and VolumeId, then 16 reserved bytes (2.2.14.2.9)."""
    return CreateContext(CTX_QUERY_ON_DISK_ID, struct.pack("<QQ16x", file_id, volume_id))


@dataclass(frozen=True, slots=True)
class CloseRequest:
    flags: int
    file_id: bytes

    @property
    def postquery(self) -> bool:
        return bool(self.flags & CLOSE_FLAG_POSTQUERY_ATTRIB)

    @classmethod
    def parse(cls, body: Buffer) -> CloseRequest:
        size, flags, _res, fid = unpack(_CLOSE_REQ, body, "CLOSE request")
        if size != 24:
            raise MalformedPacket(f"CLOSE StructureSize is {size}, not 24")
        return cls(flags, bytes(fid))

    def pack(self) -> bytes:
        return _CLOSE_REQ.pack(24, self.flags, 0, self.file_id)


@dataclass(frozen=True, slots=True)
class CloseResponse:
    times: FileTimes | None = None  # None: attributes not asked for, all zero

    def pack(self) -> bytes:
        t = self.times or FileTimes()
        flags = CLOSE_FLAG_POSTQUERY_ATTRIB if self.times else 0
        return _CLOSE_RESP.pack(
            60, flags, 0, t.creation_time, t.last_access_time, t.last_write_time,
            t.change_time, t.allocation_size, t.end_of_file, t.attributes,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class FlushRequest:
    file_id: bytes

    @classmethod
    def parse(cls, body: Buffer) -> FlushRequest:
        size, _r1, _r2, fid = unpack(_FLUSH_REQ, body, "FLUSH request")
        if size != 24:
            raise MalformedPacket(f"FLUSH StructureSize is {size}, not 24")
        return cls(bytes(fid))

    def pack(self) -> bytes:
        return _FLUSH_REQ.pack(24, 0, 0, self.file_id)


FLUSH_RESPONSE = struct.pack("<HH", 4, 0)
