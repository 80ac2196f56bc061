"""``onemap simulate sensors``: the demo city's devices reporting live over MQTT, with a
rainstorm or a gas leak on demand (docs/sensors.md, "Simulating the city"). Registered on the
main command in ``server.cli``."""

from __future__ import annotations

import logging
from collections import Counter

import click
import psycopg

from server.cli_common import fail as _fail
from server.cli_common import settings_of as _settings

log = logging.getLogger("onemap.simulate")
#: The scenario's devices named in the report, at most.
LISTED = 20


@click.group()
def simulate() -> None:
    """Simulated live data for the demo city."""


@simulate.command("sensors")
@click.option("--scenario", type=click.Choice(["none", "rainstorm", "gas-leak"]), default="none",
              show_default=True, help="rainstorm: the water-level gauges rise over their "
              "warning line, alarm, and fall back; gas-leak: one kitchen's gas detector passes "
              "25 % LEL and comes back.")  # fmt: skip
@click.option("--speed", type=click.FloatRange(1, 3600), default=60.0, show_default=True,
              help="Simulated seconds per real second: periods and the scenario's phases are "
              "this much shorter (readings carry the real time).")  # fmt: skip
@click.option("--duration", type=click.FloatRange(min=1), default=None,
              help="Real seconds to run (default: until the scenario is over; with no "
              "scenario, until interrupted).")  # fmt: skip
@click.option(
    "--district",
    metavar="CODE",
    default=None,
    help="Only the devices of this district (admin_areas code).",
)
@click.option(
    "--devices",
    "limit",
    type=click.IntRange(min=1),
    default=None,
    help="At most this many devices (the scenario's first).",
)
@click.option(
    "--device",
    "datastream",
    type=int,
    default=None,
    metavar="DATASTREAM_ID",
    help="gas-leak: the gas detector's Datastream (default: the first kitchen's).",
)
@click.option("--quiet", is_flag=True, help="No progress line.")
@click.pass_context
def simulate_sensors(ctx: click.Context, scenario: str, speed: float, duration: float | None,
                     district: str | None, limit: int | None, datastream: int | None,
                     quiet: bool) -> None:  # fmt: skip
    """Publish readings of the demo city's synthetic devices to the MQTT broker's device
    listener (ONEMAP_MQTT_HOST, ONEMAP_MQTT_DEVICE_PORT), as the devices would: each at its
    period divided by --speed, values continuing the seed's models. Logs in as the server's
    broker account (ONEMAP_MQTT_USERNAME / _PASSWORD / _PASSWORD_FILE). A running server with
    ONEMAP_MQTT_ENABLED stores them, judges them by the rules and raises the alarms."""
    from geo.queries import sensor_sim as q
    from seed import simulate as sim
    from server.sensors_sim import Publisher, run

    settings = _settings(ctx)
    try:
        with psycopg.connect(settings.database.app_libpq_url) as conn:
            if district is not None and district not in q.districts(conn):
                _fail(f"no district {district!r}; districts: {', '.join(q.districts(conn))}")
            devices = q.devices(conn, district)
            rules = q.threshold_rules(conn, ["water level", "gas concentration"])
    except psycopg.Error as exc:
        _fail(f"the database failed: {str(exc).strip().splitlines()[0]}")
    if not devices:
        _fail("no synthetic devices to simulate" + (f" in district {district}" if district else "")
              + ": run `onemap seed` first")  # fmt: skip
    wanted = {"rainstorm": "water_level_gauge", "gas-leak": "gas_detector"}.get(scenario)
    if limit is not None:  # the scenario's devices first, then by Datastream id
        devices = sorted(devices, key=lambda d: (d.kind != wanted, d.datastream_id))[:limit]
        devices.sort(key=lambda d: d.datastream_id)
    fleet = sim.Fleet(devices, speed)
    if scenario != "none":
        prop = "water level" if scenario == "rainstorm" else "gas concentration"
        rule = rules.get(prop)
        if rule is None:
            _fail(f"no enabled threshold rule for {prop!r}: the {scenario} would raise nothing")
            return
        try:
            episode = (sim.rainstorm(fleet, rule) if scenario == "rainstorm"
                       else sim.gas_leak(fleet, rule, datastream))  # fmt: skip
        except ValueError as exc:
            _fail(str(exc) + (f" in district {district}" if district else ""))
            return
        fleet.episode = episode
        needed = episode.end + 2 * sim.FAST_S + 1
        if duration is None:
            duration = needed
        elif duration < needed:
            raise click.UsageError(f"the {scenario} needs --duration {needed:.0f} at least "
                                   f"at --speed {speed:g} (the rule's minimum duration is "
                                   "real time)")  # fmt: skip
    publisher = Publisher(settings.mqtt)
    try:
        publisher.connect()
    except ConnectionError as exc:
        _fail(str(exc))
    kinds = Counter(d.kind for d in devices)
    click.echo(f"simulating {len(devices):,} devices ("
               + ", ".join(f"{k} {n:,}" for k, n in sorted(kinds.items()))
               + f") at speed {speed:g} on {publisher.where}", err=True)  # fmt: skip
    log.info("simulation started", extra={"devices": len(devices), "speed": speed,
                                          "scenario": scenario, "district": district})  # fmt: skip
    ran = run(fleet, publisher, duration, quiet)
    publisher.close()
    sent, acked = publisher.counts.sent, publisher.counts.acknowledged
    log.info("simulation finished",
             extra={"seconds": round(ran, 1), "sent": sent, "acknowledged": acked})  # fmt: skip
    _report(fleet, scenario, district, ran, sent, acked)


def _report(fleet: object, scenario: str, district: str | None, ran: float, sent: int,
            acked: int) -> None:  # fmt: skip
    from seed.simulate import Fleet

    assert isinstance(fleet, Fleet)
    click.echo(f"ran {ran:.1f} s: readings sent {sent:,}, acknowledged {acked:,} "
               f"({sent / max(ran, 1e-9):,.0f}/s)")  # fmt: skip
    ep = fleet.episode
    if ep is None:
        return
    where = f" in district {district}" if district else ""
    click.echo(f"scenario {scenario}{where}: {len(ep.members)} device(s); rise {ep.rise:.0f} s, "
               f"over the alarm level {ep.hold:.0f} s, fall {ep.fall:.0f} s "
               "(real time)")  # fmt: skip
    shown = list(zip(ep.members.tolist(), ep.peak.tolist(), strict=True))
    for i, peak in shown[:LISTED]:
        d = fleet.devices[i]
        click.echo(f"  Thing {d.thing_id} (Datastream {d.datastream_id}) {d.name}: "
                   f"peak {peak:.2f}")  # fmt: skip
    if len(shown) > LISTED:
        click.echo(f"  … and {len(shown) - LISTED:,} more")
