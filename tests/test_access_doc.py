"""docs/access.md shows the policy the code enforces: its tables are read and compared with
``geo.access``."""

from __future__ import annotations

import re
from pathlib import Path

from geo.access import ANONYMOUS_CAPABILITIES, ROLE_CAPABILITIES, STORED_SCOPES, Capability

DOC = (Path(__file__).resolve().parent.parent / "docs" / "access.md").read_text()


def _table(marker: str) -> list[list[str]]:
    body = re.search(rf"<!-- {marker} -->\n(.*?)<!-- /{marker} -->", DOC, re.S)
    assert body is not None, f"docs/access.md has no {marker} block"
    rows = [line.strip().strip("|").split("|") for line in body.group(1).strip().splitlines()]
    return [[cell.strip() for cell in row] for row in rows if not set(row[0]) <= {"-"}]


def test_the_capability_table_is_the_code() -> None:
    header, *rows = _table("capability-table")
    assert header[1:] == ["anonymous", *(r.value for r in ROLE_CAPABILITIES)]
    documented = {}
    for cells in rows:
        capability = Capability(cells[0].strip("`"))
        documented[capability] = [cell == "✓" for cell in cells[1:]]
    assert set(documented) == set(Capability)
    for capability, marks in documented.items():
        code = [capability in ANONYMOUS_CAPABILITIES]
        code += [capability in caps for caps in ROLE_CAPABILITIES.values()]
        assert marks == code, capability


def test_every_capability_and_scope_is_explained() -> None:
    for capability in Capability:
        assert f"| `{capability.value}` | " in DOC.split("<!-- /capability-table -->")[1]
    scopes = {row[0].strip("`").split("`")[0] for row in _table("scope-table")[1:]}
    assert scopes == set(STORED_SCOPES)
