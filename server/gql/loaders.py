"""DataLoaders: related objects for a whole page in one statement each (no N+1). The SQL is
geo.queries.lookups'."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from geo.queries import base_data, lookups
from geo.queries.stage_limits import stage_limits


def make_loader(ctx: Any, name: str) -> DataLoader[Any, Any]:
    if name == "audit_personal_data":
        return DataLoader(load_fn=lambda keys: _audit(ctx, keys))
    if name == "stage_limits":

        async def limits(codes: list[str]) -> Sequence[Any]:
            result: list[Any] = await ctx.fetch(stage_limits(codes))
            return result

        return DataLoader(load_fn=limits)
    if name == "organisations":  # of buildings, by building id (geo.queries.base_data)

        async def organisations(ids: list[int]) -> Sequence[Any]:
            found: list[Any] = await ctx.fetch(base_data.organisations_of(ids))
            return [[o for o in found if o.building_id == i] for i in ids]

        return DataLoader(load_fn=organisations)
    if name not in lookups.LOOKUPS:
        raise KeyError(name)

    async def load(keys: list[int]) -> Sequence[Any]:
        result: list[Any] = await ctx.fetch(lookups.by_ids(name, keys))
        return result

    return DataLoader(load_fn=load)


async def _audit(ctx: Any, keys: list[tuple[int, int]]) -> list[None]:
    """One audit row per case whose reporter was read, written in one statement per batch."""
    principal = ctx.principal
    request = ctx.request
    client = request.client.host if request is not None and request.client else None
    await ctx.write(
        lookups.audit_personal_reads(principal.user_id, principal.audit_role, client, keys)
    )
    return [None for _ in keys]
