"""The layout holds: allowed imports between the parts, access decisions only in the policy
module, SQL only in ``geo`` (docs/architecture.md draws the same rules)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from geo.enums import Role

ROOT = Path(__file__).resolve().parent.parent

#: The parts, by module prefix (the longest prefix wins).
PARTS = {
    "geo": "geo",
    "seed": "seed",
    "server.kernel": "kernel",
    "server.app": "root",
    "server.asgi": "root",
    "server.cli": "root",
    "server.ogc": "surface",
    "server.gql": "surface",
    "server.streams": "surface",
    "server.mapview": "surface",
    "server.reference": "surface",
    "server.sta": "surface",
    "server.cap": "surface",
    "mobile_api": "surface",
}
#: Which parts each part may import (besides itself and third-party packages).
ALLOWED = {
    "geo": set(),
    "seed": {"geo"},
    "kernel": {"geo"},
    "surface": {"kernel", "geo"},
    "root": {"kernel", "geo", "surface", "seed"},
}


def _part(module: str) -> tuple[str, str] | None:
    """(part, surface name) of a project module; None for third-party modules."""
    best = max((p for p in PARTS if module == p or module.startswith(p + ".")), key=len,
               default=None)  # fmt: skip
    if best is None:
        return None
    return PARTS[best], best


def _modules() -> dict[str, Path]:
    found = {}
    for top in ("geo", "seed", "server", "mobile_api"):
        for path in (ROOT / top).rglob("*.py"):
            rel = path.relative_to(ROOT).with_suffix("")
            found[".".join(rel.parts).removesuffix(".__init__")] = path
    return found


def _imports(path: Path, module: str) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                names.append(".".join([*base, node.module or ""]).rstrip("."))
            elif node.module:
                names.append(node.module)
                names += [f"{node.module}.{a.name}" for a in node.names]
    return names


def _violations() -> list[str]:
    found = []
    for module, path in _modules().items():
        mine = _part(module)
        if mine is None:
            continue
        part, surface = mine
        for name in _imports(path, module):
            theirs = _part(name)
            if theirs is None or theirs[1] == surface:
                continue
            other = theirs[0]
            if other == part and part != "surface":
                continue
            if other not in ALLOWED[part]:
                found.append(f"{module} ({part}) imports {name} ({other})")
    return sorted(set(found))


def test_parts_import_only_what_they_may() -> None:
    assert _violations() == []


def test_a_forbidden_import_is_caught(tmp_path: Path) -> None:
    """The checker itself: a surface importing another surface is reported."""
    bad = ROOT / "mobile_api" / "_architecture_probe.py"
    bad.write_text("from server.gql import schema\n")
    try:
        assert any("mobile_api._architecture_probe" in v for v in _violations())
    finally:
        bad.unlink()


ROLE_NAMES = {r.value for r in Role}
#: Where role names may appear: the policy, the enumeration, the users table's CHECK that
#: lists every role, migrations (frozen history).
ROLE_HOMES = ("geo/access.py", "geo/enums.py", "geo/models.py", "geo/migrations/")


def _role_uses(path: Path) -> list[str]:
    """Role names used as values. A dict key that happens to spell a role (the ``grid_worker``
    field of ``/locate``, pygeoapi's ``admin`` switch) names a field, not a role."""
    tree = ast.parse(path.read_text(), str(path))
    keys = {id(k) for node in ast.walk(tree) if isinstance(node, ast.Dict) for k in node.keys}
    uses = []
    for node in ast.walk(tree):
        if id(node) in keys:
            continue
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "Role" or node.attr == "STAFF_ROLES":
                uses.append(f"{node.value.id}.{node.attr}")
        elif isinstance(node, ast.Name) and node.id in ("Role", "STAFF_ROLES"):
            uses.append(node.id)
        elif isinstance(node, ast.Constant) and node.value in ROLE_NAMES:
            uses.append(repr(node.value))
    return [f"{path.relative_to(ROOT)}:{u}" for u in uses]


def test_no_role_names_outside_the_policy() -> None:
    found = []
    for top in ("server", "mobile_api", "geo"):
        for path in (ROOT / top).rglob("*.py"):
            rel = str(path.relative_to(ROOT))
            if not rel.startswith(ROLE_HOMES):
                found += _role_uses(path)
    assert found == []


def test_the_map_view_decides_by_capability_not_role() -> None:
    """The page shows the roles it is told, but decides nothing by them ("admin" alone is
    also the admin-areas layer's key, so it is left out of the names looked for)."""
    names = sorted(ROLE_NAMES - {"admin"})
    alternatives = "|".join(names)
    pattern = re.compile(rf"""["']({alternatives})["']|roles\.(?:includes|indexOf|some)\(""")
    scripts = (ROOT / "server" / "mapview" / "static").glob("*.js")
    found = [f"{p.name}: {m.group(0)}" for p in scripts for m in pattern.finditer(p.read_text())]
    assert found == []


SQL_START = re.compile(r"^\s*(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|WITH)\b", re.I)
#: Outside geo, SQL may live only in provisioning and the readiness probe (they run before
#: or beside the schema, and read catalogues rather than the one map).
SQL_EXCEPTIONS = {"server/kernel/provision.py", "server/kernel/health.py"}


def _sql_strings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if SQL_START.match(node.value):
                found.append(node.value.strip().splitlines()[0][:60])
        elif (isinstance(node, ast.Attribute) and node.attr == "SQL"
              and isinstance(node.value, ast.Name) and node.value.id == "sql"):  # fmt: skip
            found.append("sql.SQL(…)")
    return found


@pytest.mark.parametrize("top", ["server", "mobile_api"])
def test_no_sql_outside_geo(top: str) -> None:
    found = []
    for path in (ROOT / top).rglob("*.py"):
        rel = str(path.relative_to(ROOT))
        if rel not in SQL_EXCEPTIONS:
            found += [f"{rel}: {s}" for s in _sql_strings(path)]
    assert found == []


def test_one_error_table_serves_every_surface() -> None:
    """Each domain error has one status, one GraphQL code and one OGC code, and the surfaces
    read them from the kernel's table (citizen errors no longer fall back to 400 or 500)."""
    from geo import citizen_errors as ce
    from geo import errors as e
    from server.gql.errors import code_of
    from server.kernel.errors import ERRORS, codes_of
    from server.ogc.errors import from_domain

    for cls in (*vars(e).values(), *vars(ce).values()):
        if isinstance(cls, type) and issubclass(cls, e.OneMapError) and cls is not e.OneMapError:
            assert cls in ERRORS or any(base in ERRORS for base in cls.__mro__[1:]), cls
    limited = ce.RateLimited("slow down", retry_after_s=7)
    assert code_of(limited) == "RATE_LIMITED" == codes_of(limited).graphql
    response = from_domain(limited)
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert from_domain(e.OutsideCity("out")).status_code == codes_of(e.OutsideCity("x")).status
