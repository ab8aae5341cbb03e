"""Push account change-log entries to a peer over a real channel connection, as a test client.

``python -m tests.helpers.account_probe IDENTITY_DIR HOST PORT PEER_ID ENTRIES.json``
connects with the peerwork identity in IDENTITY_DIR (mutual TLS, so the agent
sees a verified member), sends each list of entries in ENTRIES.json (a list of
lists of entry JSON) as one ``accounts-push``, and prints one JSON line: the
reply to each push, or the error it got.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from peerwork.account_log import AccountChange
from peerwork.agents.channel.client import ChannelClient
from peerwork.errors import PeerworkError
from peerwork.identity import Identity
from peerwork.proto.channel_accounts import ACCOUNTS_PUSH, PushRequest


async def push(
    identity: Identity, host: str, port: int, peer_id: str, batches: list[list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    client = ChannelClient(identity, connect_timeout=10)
    results: list[dict[str, Any]] = []
    async with await client.connect(peer_id, host, port) as conn:
        for batch in batches:
            request = PushRequest(tuple(AccountChange.from_json(e) for e in batch))
            try:
                reply = await conn.call(ACCOUNTS_PUSH, request)
            except PeerworkError as exc:
                results.append({"error": exc.message})
            else:
                results.append(reply.to_body())
    return results


def main() -> None:
    folder, host, port, peer_id, entries = sys.argv[1:6]
    batches = json.loads(Path(entries).read_text())
    identity = Identity.load(Path(folder))
    print(json.dumps(asyncio.run(push(identity, host, int(port), peer_id, batches))), flush=True)


if __name__ == "__main__":
    main()
