"""``onemap mqtt …`` and ``onemap sensors …``: the broker's accounts and files from the sensor
registry, and the Observations' retention by hand (docs/sensors.md). Registered on the main
command in ``server.cli``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from geo.access import Capability, system
from server.cli_common import run_on_app
from server.cli_common import settings_of as _settings

ADMIN = system(Capability.MANAGE_SENSORS)


def _run(ctx: click.Context, work: Any) -> Any:
    """``work(conn)`` on the app role's connection, committed; domain errors in one line."""
    return run_on_app(ctx, work)


@click.group()
def mqtt() -> None:
    """The MQTT broker (Mosquitto): device and reader accounts, its password and ACL files."""


@mqtt.command("config")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Where to write `passwords` and `acl` (default "
              "ONEMAP_MQTT_CONFIG_DIR).")  # fmt: skip
@click.option("--conf", is_flag=True, help="Also write a mosquitto.conf using them (two "
              "listeners, persistence) in the same directory.")  # fmt: skip
@click.option("--reload", "pid_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="SIGHUP the Mosquitto whose pid is in this file.")  # fmt: skip
@click.pass_context
def mqtt_config(ctx: click.Context, directory: Path | None, conf: bool,
                pid_file: Path | None) -> None:  # fmt: skip
    """Write Mosquitto's password_file (PBKDF2-SHA512 `$7$` hashes) and acl_file from the
    registry: each device may publish only to its own Datastreams' topics and read nothing,
    readers read theirs, the server's own user everything; anonymous clients get nothing.
    A running server with ONEMAP_MQTT_CONFIG_DIR keeps them up to date by itself."""
    from server.sta.mqtt_config import ServerHash, mosquitto_conf, reload_broker, write_files

    settings = _settings(ctx).mqtt
    target = directory or settings.config_dir
    if target is None:
        raise click.UsageError("Give --dir or set ONEMAP_MQTT_CONFIG_DIR.")
    changed = _run(ctx, lambda c: write_files(c, settings, target, ServerHash(settings)))
    if conf:
        (target / "mosquitto.conf").write_text(
            mosquitto_conf(settings, target.resolve(), persistence=target.resolve() / "data")
        )
    click.echo(f"{'wrote' if changed else 'unchanged'}: {target / 'passwords'}, {target / 'acl'}")
    if pid_file is not None and not reload_broker(pid_file):
        click.echo(f"onemap: no running broker found through {pid_file}", err=True)
        sys.exit(2)


@mqtt.command("device")
@click.argument("thing_id", type=int)
@click.pass_context
def mqtt_device(ctx: click.Context, thing_id: int) -> None:
    """Make (or rotate) the broker account of Thing THING_ID: prints its username and a new
    password, shown this once (only its hash is kept). Run `onemap mqtt config` afterwards
    unless a server keeps the files (ONEMAP_MQTT_CONFIG_DIR)."""
    from geo.services.sensor_mqtt import issue_device

    username, password = _run(ctx, lambda c: issue_device(c, ADMIN, thing_id))
    click.echo(f"username: {username}\npassword: {password}")


@mqtt.command("reader")
@click.argument("username")
@click.option("--internal", is_flag=True, help="May read every Datastream, critical ones too "
              "(default: non-critical ones only).")  # fmt: skip
@click.pass_context
def mqtt_reader(ctx: click.Context, username: str, internal: bool) -> None:
    """Make (or rotate) a subscriber's account USERNAME: prints a new password, shown once."""
    from geo.services.sensor_mqtt import issue_reader

    kind = "internal" if internal else "public"
    password = _run(ctx, lambda c: issue_reader(c, ADMIN, username, kind))
    click.echo(f"username: {username}\npassword: {password}")


@click.group()
def sensors() -> None:
    """SensorThings housekeeping."""


@sensors.command("retention")
@click.pass_context
def sensors_retention(ctx: click.Context) -> None:
    """Make Observations' monthly partitions ahead and drop whole months older than
    ONEMAP_STA_RETENTION_MONTHS (0: none dropped), as the daily sweep does."""
    from geo.services.sensor_mqtt import retention

    sta = _settings(ctx).sta
    made, dropped = _run(ctx, lambda c: retention(c, sta.retention_months,
                                                  sta.partitions_ahead_months))  # fmt: skip
    click.echo(f"partitions made: {made}, dropped: {dropped}")
