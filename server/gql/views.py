"""The layer views GraphQL reads: geo.access' views for the caller, plus the columns its types
resolve. The caller's jurisdiction stays in each view's row filter."""

from __future__ import annotations

from dataclasses import replace

from geo import access, layers
from geo.access import Principal
from geo.layers import LayerView

#: The full case record also names its reporter (shown only with READ_PERSONAL, audited).
_FULL_CASE_COLUMNS = (*layers.CASES.columns, "reporter_id")
#: The public case record (``cases_public``): nothing more than the view holds.
PUBLIC_CASES = layers.CASES_PUBLIC
ADMIN_AREAS = layers.ADMIN_AREAS
GRID_CELLS = replace(layers.GRID_CELLS, columns=(*layers.GRID_CELLS.columns, "worker_id"))


def _with_columns(view: LayerView) -> LayerView:
    if view.name == "cases" and view.internal:
        return replace(view, columns=_FULL_CASE_COLUMNS)
    return view


def layer(principal: Principal, name: str) -> LayerView:
    """The caller's view of layer ``name``: Unauthorized/Forbidden when it is closed to them."""
    found = access.view_for(principal, name)
    if found is None:
        raise KeyError(name)
    return _with_columns(found)


def own_cases(principal: Principal) -> LayerView:
    """The full record of the cases the caller may see in full: for a citizen, their own
    reports (geo.access.case_scope in the row filter)."""
    return _with_columns(access.scoped(layers.CASES, principal))
