"""The control API calls the UI makes, typed: reads for the view, and the actions of each
screen. Thin over :class:`~peerwork.control_async.AsyncControlClient`; errors are the
agent's own (:mod:`peerwork.errors`), whose messages the UI shows as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from peerwork.client.peer_printers import peer_printers
from peerwork.control_async import AsyncControlClient
from peerwork.errors import InvalidInput
from peerwork.models import Peer

from .view import ShareRow, Snapshot


def _q(name: str) -> str:
    return quote(name, safe="")


def _list(data: Any, key: str) -> list[Any]:
    items = data.get(key, []) if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        raise InvalidInput(f"the agent sent {key!r} that is not a list")
    return items


class AgentApi:
    def __init__(self, client: AsyncControlClient) -> None:
        self.client = client

    # -- reads ---------------------------------------------------------------

    async def read(self, part: str) -> Snapshot:
        """One part of the view (status, peers, shares, accounts) read afresh."""
        if part == "status":
            return Snapshot(status=await self.client.status())
        if part == "peers":
            return Snapshot(peers=tuple(await self.client.peers()))
        if part == "shares":
            data = await self.client.get("/shares")
            return Snapshot(shares=tuple(ShareRow.from_json(s) for s in _list(data, "shares")))
        if part == "accounts":
            data = await self.client.get("/accounts")
            names = [str(a.get("name", "")) for a in _list(data, "accounts") if isinstance(a, dict)]
            return Snapshot(accounts=tuple(sorted(names)))
        raise ValueError(part)

    async def read_all(self) -> Snapshot:
        status = await self.client.status()
        peers = (await self.read("peers")).peers
        shares = (await self.read("shares")).shares
        accounts = (await self.read("accounts")).accounts
        return Snapshot(status, peers, shares, accounts)

    # -- shares --------------------------------------------------------------

    async def add_share(
        self, path: str, name: str, comment: str, grants: Mapping[str, str]
    ) -> dict[str, Any]:
        body = {
            "path": path,
            "name": name or None,
            "comment": comment,
            "grants": [f"{who}={access}" for who, access in grants.items()],
        }
        return dict(await self.client.post("/shares", body))

    async def set_grants(
        self, name: str, grants: Mapping[str, str], revoke: list[str], comment: str | None
    ) -> dict[str, Any]:
        body = {
            "grants": [f"{who}={access}" for who, access in grants.items()],
            "revoke": revoke,
            "comment": comment,
        }
        return dict(await self.client.patch(f"/shares/{_q(name)}", body))

    async def remove_share(self, name: str) -> None:
        await self.client.delete(f"/shares/{_q(name)}")

    # -- accounts ------------------------------------------------------------

    async def add_account(self, name: str, password: str) -> None:
        await self.client.post("/accounts", {"name": name, "password": password})

    async def set_password(self, name: str, password: str) -> None:
        await self.client.put(f"/accounts/{_q(name)}/password", {"password": password})

    async def remove_account(self, name: str) -> None:
        await self.client.delete(f"/accounts/{_q(name)}")

    # -- printers and mail (first slices on the agent side) -------------------

    async def printers(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The printers service's status and its shared printers."""
        status = dict(await self.client.get("/printers"))
        details = status.get("details", {})
        printers = details.get("printers", []) if isinstance(details, Mapping) else []
        return status, [dict(p) for p in printers if isinstance(p, Mapping)]

    async def jobs(self) -> list[dict[str, Any]]:
        return [dict(j) for j in _list(await self.client.get("/jobs"), "jobs")]

    async def peer_printers(self) -> list[dict[str, Any]]:
        """Printers other PCs share (``/v1/peers``), as ``peerwork printers`` lists them."""
        return peer_printers(_list(await self.client.get("/peers"), "peers"))

    async def cancel_job(self, job: str) -> dict[str, Any]:
        return dict(await self.client.delete(f"/printers/jobs/{_q(job)}"))

    async def mail_status(self) -> dict[str, Any]:
        return dict(await self.client.get("/mail"))

    async def inbox(self, account: str) -> list[dict[str, Any]]:
        data = await self.client.get(f"/mail/inbox/{_q(account)}")
        return [dict(m) for m in _list(data, "messages")]

    # -- workgroup trust -------------------------------------------------------

    async def invite(self) -> dict[str, Any]:
        return dict(await self.client.post("/trust/invite", {}))

    async def join(self, code: str) -> dict[str, Any]:
        return dict(await self.client.post("/trust/join", {"code": code, "again": False}))

    async def remove_peer(self, name: str) -> dict[str, Any]:
        return dict(await self.client.post("/trust/remove", {"peer": name}))

    # -- gateway ---------------------------------------------------------------

    async def gateway(self) -> dict[str, Any]:
        """The gateway service's status (``details``: mode, recognised, rogue, plan…)."""
        return dict(await self.client.get("/gateway"))

    async def gateway_plan(self, options: Mapping[str, str]) -> dict[str, Any]:
        return dict(await self.client.post("/gateway/plan", dict(options)))

    async def gateway_enable(self, options: Mapping[str, str]) -> dict[str, Any]:
        return dict(await self.client.post("/gateway/enable", dict(options)))

    async def gateway_disable(self) -> dict[str, Any]:
        return dict(await self.client.post("/gateway/disable"))

    async def leases(self) -> list[dict[str, Any]]:
        return [dict(r) for r in _list(await self.client.get("/gateway/leases"), "leases")]

    async def peer(self, name: str) -> Peer | None:
        return next(
            (p for p in await self.client.peers() if p.name.casefold() == name.casefold()), None
        )
