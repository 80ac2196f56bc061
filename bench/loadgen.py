"""Bounded load with wrk on 127.0.0.1: rotate through fixed request variants, parse the figures.

Shared by the side-by-side benchmarks. Every run stops by itself after ``seconds``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: str | None = None
    content_type: str = "application/json"
    authorization: str | None = None  # an Authorization header value


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _script(requests: list[Request]) -> str:
    items = ",".join(
        "{" + f"method={json.dumps(r.method)}, path={json.dumps(r.path)}, "
        f"body={json.dumps(r.body) if r.body is not None else 'nil'}, "
        f"ctype={json.dumps(r.content_type)}, "
        f"auth={json.dumps(r.authorization) if r.authorization else 'nil'}" + "}"
        for r in requests
    )
    return (
        f"reqs = {{{items}}}\n"
        "i = 0\n"
        "request = function()\n"
        "  i = i % #reqs + 1\n"
        "  local r = reqs[i]\n"
        "  local headers = {}\n"
        "  if r.body then headers['Content-Type'] = r.ctype end\n"
        "  if r.auth then headers['Authorization'] = r.auth end\n"
        "  return wrk.format(r.method, r.path, headers, r.body)\n"
        "end\n"
    )


def wrk(
    port: int, requests: list[Request], seconds: int, connections: int, folder: Path
) -> dict[str, float]:
    script = folder / "requests.lua"
    script.write_text(_script(requests))
    out = subprocess.run(
        [shutil.which("wrk") or "wrk", "-t2", f"-c{connections}", f"-d{seconds}s",
         "--timeout", "10s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    ).stdout  # fmt: skip

    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    total = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    errors += sum(int(g) for g in sock.groups()) if sock else 0
    return {"rps": float(rps.group(1)) if rps else 0.0, "p50": ms("50%"), "p99": ms("99%"),
            "errors": errors, "requests": int(total.group(1)) if total else 0}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(
    env: dict[str, str], cwd: Path, *, ready: str = "/readyz", timeout_s: float = 90
) -> tuple[subprocess.Popen[bytes], str]:
    """``onemap serve`` (one worker) on a free loopback port, once ``ready`` answers 2xx:
    (the process, its base URL). Its stderr is shown if it never becomes ready."""
    port = free_port()
    onemap = str(Path(sys.executable).parent / "onemap")
    proc = subprocess.Popen(
        [onemap, "serve", "--port", str(port), "--workers", "1"], env=env, cwd=cwd,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(base + ready, timeout=5).is_success:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"the server in {cwd} did not start: {proc.communicate()[1][-2000:]!r}")
