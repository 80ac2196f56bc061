"""Stock GDAL reading whole layers, side by side: Debian's gdal-bin (GDAL 3.6) at its defaults
against OneMap and tipg on the same database, with ``-oo PAGE_SIZE=1000`` as the reference.

    .venv/bin/python bench/ogc/gdal_paging.py [--database-url URL] [--layers cases,facilities]

For each server and layer: ``ogrinfo -so`` (the feature count an analyst sees first) and a
full ``ogr2ogr`` to GeoPackage, timed, with the number of HTTP requests GDAL made
(``CPL_DEBUG``). Servers run one worker each on 127.0.0.1; every command has a time limit.
tipg publishes the tables as they are (``public.cases``: every case, not the public record),
so its layers hold more rows; the ratios, not the absolute times, compare the servers.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.ogc.run import start

ROOT = Path(__file__).resolve().parents[2]
LIMIT_S = 1800


def run(args: list[str]) -> tuple[float, int, str]:
    """(seconds, HTTP requests, stdout) of a GDAL command."""
    env = {**os.environ, "CPL_DEBUG": "ON"}
    began = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=LIMIT_S,
                          check=False)  # fmt: skip
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr[-500:]}")
    return took, len(re.findall(r"HTTP: Fetch\(", done.stderr)), done.stdout


def count(stdout: str) -> int:
    found = re.search(r"Feature Count: (\d+)", stdout)
    return int(found.group(1)) if found else -1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/onemap_storm")
    ap.add_argument("--layers", default="cases,facilities")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for server in ("onemap", "tipg"):
            proc, port = start(server, args.database_url, folder)
            try:
                base = f"OAPIF:http://127.0.0.1:{port}" + ("/ogc" if server == "onemap" else "")
                for layer in args.layers.split(","):
                    name = layer if server == "onemap" else f"public.{layer}"
                    info_s, info_n, out = run(["ogrinfo", "-so", base, name])
                    cells = [server, layer, str(count(out)), f"{info_s:.2f} s ({info_n} req)"]
                    for options in ([], ["-oo", "PAGE_SIZE=1000"]):
                        target = folder / f"{server}-{layer}-{len(options)}.gpkg"
                        took, n, _ = run(["ogr2ogr", "-f", "GPKG", str(target), base, name,
                                          *options])  # fmt: skip
                        cells.append(f"{took:.1f} s ({n} req)")
                        target.unlink()
                    rows.append(cells)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    version = subprocess.run(["ogrinfo", "--version"], capture_output=True, text=True,
                             check=False).stdout.strip()  # fmt: skip
    print(f"# GDAL reading whole layers ({datetime.now(UTC):%Y-%m-%d}, {version})\n")
    print("| server | layer | features | `ogrinfo -so` | `ogr2ogr` default | "
          "`ogr2ogr -oo PAGE_SIZE=1000` | default ÷ 1000 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for cells in rows:
        default = float(cells[4].split(" s")[0])
        big = float(cells[5].split(" s")[0])
        print("| " + " | ".join(cells) + f" | {default / big:.1f}× |")


if __name__ == "__main__":
    main()
