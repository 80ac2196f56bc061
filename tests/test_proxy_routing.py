"""The compose file's reverse proxy (docker/nginx.conf), run with Debian's nginx in front of two
stand-in app containers: WHEP goes by camera (every request for one camera, its session's
PATCH and DELETE included, reaches the same app), everything else round-robin.

The only changes to the file under test: the compose service's name ``app`` (Docker's DNS gives
one address per replica) becomes two addresses on 127.0.0.1, and the port and pid file move to
free ones. The stand-ins answer every request with their own name.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.running_server import free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _stand_in(name: str) -> ThreadingHTTPServer:
    class Answer(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            body = name.encode()
            self.send_response(201 if self.command == "POST" else 200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _config(tmp: Path, port: int, apps: list[int]) -> Path:
    text = (ROOT / "docker" / "nginx.conf").read_text()
    peers = "; server ".join(f"127.0.0.1:{p} max_fails=3 fail_timeout=10s" for p in apps)
    for old, new in (("server app:8000 max_fails=3 fail_timeout=10s", f"server {peers}"),
                     ("listen 8080;", f"listen 127.0.0.1:{port};"),
                     ("pid /tmp/nginx.pid;", f"pid {tmp / 'nginx.pid'};")):  # fmt: skip
        assert old in text, old
        text = text.replace(old, new)
    path = tmp / "nginx.conf"
    path.write_text(text)
    return path


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[str]:
    assert Path(NGINX).exists(), "Debian's nginx-light (scripts/dev test installs it)"
    apps = [_stand_in("app-a"), _stand_in("app-b")]
    port = free_port()
    conf = _config(tmp_path, port, [s.server_address[1] for s in apps])
    err = tmp_path / "error.log"
    test = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(err)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert test.returncode == 0, test.stderr
    proc = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf), "-e", str(err),
                             "-g", "daemon off;"], stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"{base}/readyz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, err.read_text() if err.exists() else ""
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for server in apps:
            server.shutdown()
            server.server_close()


def test_whep_goes_by_camera_and_the_rest_round_robin(proxy: str) -> None:
    owner: dict[int, str] = {}
    with httpx.Client(base_url=proxy, timeout=5) as client:
        for camera in range(1, 41):
            offer = client.post(f"/streams/cameras/{camera}/whep", content=b"v=0",
                                headers={"Content-Type": "application/sdp"})  # fmt: skip
            assert offer.status_code == 201
            owner[camera] = offer.text
            # the session's PATCH and DELETE, and a second viewer, reach the same app
            for again in (
                client.patch(f"/streams/cameras/{camera}/whep/s1", content=b"a=candidate"),
                client.delete(f"/streams/cameras/{camera}/whep/s1"),
                client.post(f"/streams/cameras/{camera}/whep", content=b"v=0"),
            ):
                assert again.text == owner[camera], (camera, again.request.method)
        spread = Counter(client.get("/ogc/collections").text for _ in range(20))
    # 40 cameras over two apps: both hold some (consistent hashing, not one app for all)
    assert set(owner.values()) == {"app-a", "app-b"}
    # everything else: in turn
    assert spread == {"app-a": 10, "app-b": 10}
    # a path that only looks like WHEP is not pinned: /streams/cameras/7 (the player page)
    with httpx.Client(base_url=proxy, timeout=5) as client:
        pages = Counter(client.get("/streams/cameras/7").text for _ in range(10))
    assert pages == {"app-a": 5, "app-b": 5}
