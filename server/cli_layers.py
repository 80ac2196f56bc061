"""``onemap layers …``: the layer catalogue from the command line (docs/catalogue.md) —
register any PostGIS table or view as a department layer, list, show, update, unregister.
Registered on the main command in ``server.cli``. Runs as the server's database role, so a
relation the server cannot read is refused here as it would be there."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from geo.access import Capability, system
from geo.catalogue import DATA_CLASSES, FREQUENCIES, CatalogueLayer
from geo.services import catalogue as service
from server.cli_common import run_on_app

#: The command line acts for the operator who runs it: the catalogue manager's capability.
OPERATOR = system(Capability.MANAGE_CATALOGUE)


def _run(ctx: click.Context, work: Any) -> Any:
    """``work(conn)`` on the app role's connection (it holds its own transactions)."""
    return run_on_app(ctx, work, autocommit=True)


def _keywords(values: tuple[str, ...]) -> tuple[str, ...]:
    """--keyword a --keyword b, or --keyword a,b."""
    return tuple(k.strip() for v in values for k in v.split(",") if k.strip())


def _detail(layer: CatalogueLayer) -> dict[str, Any]:
    view = layer.view
    return {
        "name": layer.name,
        **layer.metadata(),
        "id_column": view.id_column,
        "geometry_column": view.geom_column,
        "columns": dict(view.column_types),
        "title_field": layer.title_field,
    }


@click.group()
def layers() -> None:
    """The layer catalogue: publish any PostGIS table or view (points, lines, polygons) through
    OGC API Features and Tiles, GraphQL and the map view, with its metadata and data class."""


@layers.command("register")
@click.argument("name")
@click.argument("relation")
@click.option(
    "--title", required=True, help="Title shown in every catalogue (e.g. 控制性详细规划)."
)
@click.option(
    "--owner",
    required=True,
    metavar="DEPARTMENT",
    help="The owner department's code (departments.code, e.g. water_authority).",
)
@click.option(
    "--data-class",
    "data_class",
    required=True,
    type=click.Choice(DATA_CLASSES),
    help="public: anyone; internal: staff who read internal data; restricted: "
    "holders of read_restricted_layers, every read audited.",
)
@click.option("--licence", required=True, help="Licence or terms of use (e.g. CC-BY-4.0).")
@click.option(
    "--update-frequency",
    type=click.Choice(FREQUENCIES),
    default="irregular",
    show_default=True,
    help="How often the data change.",
)
@click.option("--description", default="", help="A paragraph on what the layer holds.")
@click.option("--keyword", "keywords", multiple=True, help="A keyword (repeat, or a,b,c).")
@click.option("--id-column", help="The unique integer id column (default: the primary key).")
@click.option("--geometry-column", help="The geometry column, if the relation has several.")
@click.option(
    "--column",
    "columns",
    multiple=True,
    help="Publish only these columns (repeat); default: every supported column.",
)
@click.option("--title-field", help="The text column that names a feature.")
@click.pass_context
def layers_register(
    ctx: click.Context, name: str, relation: str, title: str, owner: str, data_class: str,
    licence: str, update_frequency: str, description: str, keywords: tuple[str, ...],
    id_column: str | None, geometry_column: str | None, columns: tuple[str, ...],
    title_field: str | None,
) -> None:  # fmt: skip
    """Register RELATION (schema.table or a table of the public schema; a view too) as layer
    NAME (its collection id at /ogc/collections/NAME). The relation must have one geometry
    column with an SRID and a unique integer id; its columns are read from the database."""
    spec = service.LayerSpec(
        name=name, relation=relation, title=title, owner=owner, data_class=data_class,
        licence=licence, update_frequency=update_frequency, description=description,
        keywords=_keywords(keywords), id_column=id_column, geometry_column=geometry_column,
        columns=tuple(columns) or None, title_field=title_field,
    )  # fmt: skip
    _run(ctx, lambda conn: service.register(conn, OPERATOR, spec))
    click.echo(f"registered {name}: /ogc/collections/{name}")


@layers.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
@click.pass_context
def layers_list(ctx: click.Context, as_json: bool) -> None:
    """The registered layers: name, data class, geometry type, owner, relation, title."""
    found: list[CatalogueLayer] = _run(ctx, service.registered)
    for layer in found:
        if as_json:
            click.echo(json.dumps(_detail(layer), ensure_ascii=False))
        else:
            m = layer.metadata()
            click.echo(f"{layer.name}\t{layer.data_class}\t{m['geometry_type']}\t{layer.owner}\t"
                       f"{m['source']}\t{layer.title}")  # fmt: skip


@layers.command("show")
@click.argument("name")
@click.pass_context
def layers_show(ctx: click.Context, name: str) -> None:
    """One layer's registration and metadata, as JSON."""
    found = [x for x in _run(ctx, service.registered) if x.name == name]
    if not found:
        click.echo(f"onemap: no catalogue layer {name!r} (onemap layers list).", err=True)
        sys.exit(2)
    click.echo(json.dumps(_detail(found[0]), ensure_ascii=False, indent=2))


@layers.command("update")
@click.argument("name")
@click.option("--title")
@click.option("--description")
@click.option("--owner", metavar="DEPARTMENT", help="The owner department's code.")
@click.option("--data-class", "data_class", type=click.Choice(DATA_CLASSES))
@click.option("--licence")
@click.option("--update-frequency", type=click.Choice(FREQUENCIES))
@click.option("--keyword", "keywords", multiple=True, help="Replace the keywords (repeat, a,b).")
@click.option("--title-field")
@click.pass_context
def layers_update(
    ctx: click.Context, name: str, title: str | None, description: str | None,
    owner: str | None, data_class: str | None, licence: str | None,
    update_frequency: str | None, keywords: tuple[str, ...], title_field: str | None,
) -> None:  # fmt: skip
    """Change a layer's metadata (the options given); its relation stays."""
    change = service.MetadataChange(
        title=title, description=description, owner=owner, data_class=data_class,
        licence=licence, update_frequency=update_frequency,
        keywords=_keywords(keywords) if keywords else None, title_field=title_field,
    )  # fmt: skip
    _run(ctx, lambda conn: service.update(conn, OPERATOR, name, change))
    click.echo(f"updated {name}")


@layers.command("unregister")
@click.argument("name")
@click.pass_context
def layers_unregister(ctx: click.Context, name: str) -> None:
    """Remove a layer from the catalogue (its table or view is left as it is)."""
    _run(ctx, lambda conn: service.unregister(conn, OPERATOR, name))
    click.echo(f"unregistered {name}")
