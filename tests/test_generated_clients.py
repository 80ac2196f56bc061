"""Clients generated from the served OpenAPI document work as their users use them.

A real ``onemap serve``; openapi-python-client (PyPI) generates a Python client from its
``/api/v1/openapi.json`` into a temporary folder, and the citizen flow runs through that client
as generated — nothing patched: log in with a one-time code (the development sender logs it,
where the developer reads it), my health code, a report with a photo (multipart), my reports,
the photo back, and a rating once staff have resolved the case. openapi-typescript (npm, from
web/) generates TypeScript types from the same URL, which ``tsc --noEmit`` accepts in a small
program using them and refuses in a program misusing them.
"""

from __future__ import annotations

import importlib
import io
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from PIL import Image

from server.kernel.auth.otp import masked
from tests.conftest import ROOT
from tests.mobile_helpers import a_point, unique_phone
from tests.running_server import running_server
from tests.test_mobile_reports import _resolve, photo_with_gps

WEB_BIN = ROOT / "web" / "node_modules" / ".bin"
#: openapi-python-client's settings: no formatter run on the output (the test imports it as it
#: is); the photo's image types are bytes (the generator knows only application/octet-stream).
GENERATOR_CONFIG = """\
post_hooks: []
content_type_overrides:
  image/jpeg: application/octet-stream
  image/png: application/octet-stream
  image/webp: application/octet-stream
"""


@pytest.fixture(scope="module")
def server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    log = tmp_path_factory.mktemp("server") / "stderr.log"
    with running_server(database_url, log_file=log) as base:
        yield base, log


def _run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def onemap_client(
    server: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModuleType]:
    """The Python client generated from the served document, imported from a temp folder."""
    base, _ = server
    out = tmp_path_factory.mktemp("python-client")
    (out / "config.yml").write_text(GENERATOR_CONFIG)
    generator = Path(sys.executable).with_name("openapi-python-client")
    url = f"{base}/api/v1/openapi.json"
    target, config = out / "onemap_client", out / "config.yml"
    said = _run(generator, "generate", "--url", url, "--meta", "none", "--output-path", target,
                "--config", config, cwd=out)  # fmt: skip
    assert "Warning" not in said, said  # every operation and response understood
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("onemap_client")
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m.split(".")[0] == "onemap_client"]:
            del sys.modules[name]


def _module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def _code_from_log(log: Path, phone: str) -> str:
    """The one-time code the development sender wrote to the server's log."""
    pattern = re.compile(rf"one-time code for {re.escape(masked(phone))}: (\d{{6}})")
    deadline = time.monotonic() + 10
    while True:
        found = pattern.findall(log.read_text(errors="replace"))
        if found:
            return str(found[-1])
        assert time.monotonic() < deadline, "no one-time code in the server's log"
        time.sleep(0.1)


def test_the_citizen_flow_through_the_generated_python_client(
    server: tuple[str, Path], onemap_client: ModuleType, database_url: str
) -> None:
    base, log = server
    api = f"{onemap_client.__name__}.api"
    models = _module(onemap_client, "models")
    types = _module(onemap_client, "types")
    url = f"{base}/api/v1"

    # Log in with a one-time code.
    phone = unique_phone("1361")
    with onemap_client.Client(base_url=url, raise_on_unexpected_status=True) as anonymous:
        request_code = importlib.import_module(f"{api}.auth.request_login_code")
        sent = request_code.sync(client=anonymous, body=models.OtpRequest(phone=phone))
        assert isinstance(sent, models.OtpSent) and sent.expires_in > 0
        log_in = importlib.import_module(f"{api}.auth.log_in")
        grant = models.OtpGrant(grant_type="otp", phone=phone, code=_code_from_log(log, phone))
        pair = log_in.sync(client=anonymous, body=grant)
    assert isinstance(pair, models.TokenPair), pair
    assert pair.roles == ["citizen"] and pair.refresh_token
    with onemap_client.AuthenticatedClient(
        base_url=url, token=pair.access_token, raise_on_unexpected_status=True
    ) as me:
        _citizen(api, models, types, me, database_url)


def _citizen(api: str, models: Any, types: Any, me: Any, database_url: str) -> None:

    # My health code, with its QR code.
    get_code = importlib.import_module(f"{api}.health_code.get_my_health_code")
    code = get_code.sync(client=me, qr="svg")
    assert isinstance(code, models.HealthCode), code
    assert code.colour.value in {"green", "yellow", "red"} and code.rule_version
    assert isinstance(code.qr_svg, str) and code.qr_svg.startswith("<svg")

    # A report with a photo (multipart/form-data built by the client).
    lon, lat = a_point(database_url, 5)
    submit = importlib.import_module(f"{api}.reports.submit_report")
    photo = types.File(payload=io.BytesIO(photo_with_gps(1200, 900)), file_name="IMG_0042.jpg",
                       mime_type="image/jpeg")  # fmt: skip
    text = "井盖缺失 Missing manhole cover"
    form = models.SubmitReportBody(category="road_damage", lon=lon, lat=lat, description=text,
                                   photos=[photo])  # fmt: skip
    report = submit.sync(client=me, body=form, idempotency_key=uuid.uuid4().hex)
    assert isinstance(report, models.Report), report
    assert report.status == "reported" and report.description == text
    assert (report.lon, report.lat) == pytest.approx((lon, lat))
    assert len(report.photos) == 1 and report.photos[0].content_type == "image/jpeg"

    # My reports list it; its photo comes back as an image without its GPS position.
    mine = importlib.import_module(f"{api}.reports.list_my_reports").sync(client=me, limit=10)
    assert isinstance(mine, models.ReportPage)
    assert [r.id for r in mine.items] == [report.id]
    got = importlib.import_module(f"{api}.reports.get_report_photo").sync(
        id=report.id, photo_id=str(report.photos[0].id), client=me
    )
    assert isinstance(got, types.File)
    image = Image.open(got.payload)
    # Turned upright (the camera's EXIF said "rotate 90°"), the position stripped.
    assert image.format == "JPEG" and image.size == (900, 1200)
    assert (report.photos[0].width, report.photos[0].height) == image.size
    assert 0x8825 not in image.getexif() and 0x0112 not in image.getexif()

    # A rating before the case is resolved is refused with a problem the client parses…
    rate = importlib.import_module(f"{api}.reports.rate_my_report")
    rating = models.RatingIn(score=5, comment="当天就修好了 Fixed the same day")
    early = rate.sync_detailed(id=report.id, client=me, body=rating)
    assert early.status_code == 409 and isinstance(early.parsed, models.Problem)
    assert early.parsed.type_.startswith("urn:onemap:problem:") and early.parsed.detail
    # …and accepted once staff have resolved it.
    _resolve(database_url, report.id)
    done = rate.sync_detailed(id=report.id, client=me, body=rating)
    assert done.status_code == 201 and isinstance(done.parsed, models.RatingIn)
    assert done.parsed.score == 5
    detail = importlib.import_module(f"{api}.reports.get_my_report").sync(id=report.id, client=me)
    assert isinstance(detail, models.ReportDetail)
    assert detail.status == "resolved" and detail.rating.score == 5
    assert [e.to_status for e in detail.timeline][-1] == "resolved"


USE = """\
import type { components, operations, paths } from "./onemap";

type Report = components["schemas"]["Report"];
type Page = paths["/reports"]["get"]["responses"]["200"]["content"]["application/json"];
type Submit = NonNullable<operations["submitReport"]["requestBody"]>;
type Form = Submit["content"]["multipart/form-data"];

export function summary(page: Page): string[] {
  return page.items.map((r: Report) => `${r.id} ${r.status} ${r.photos.length}`);
}

export const form: Form = { category: "road_damage", lon: 121.47, lat: 31.23 };
export const login: components["schemas"]["OtpGrant"] = {
  grant_type: "otp", phone: "13700000001", code: "123456",
};
"""
MISUSE = """\
import type { components } from "./onemap";

export const wrong: components["schemas"]["RatingIn"] = { score: "five" };
"""


def test_the_generated_typescript_types_type_check(
    server: tuple[str, Path], tmp_path: Path
) -> None:
    base, _ = server
    if not (WEB_BIN / "openapi-typescript").exists():
        pytest.fail("web/node_modules is missing: run `npm ci --prefix web` (scripts/dev does)")
    _run(WEB_BIN / "openapi-typescript", f"{base}/api/v1/openapi.json", "-o",
         tmp_path / "onemap.d.ts", cwd=tmp_path)  # fmt: skip
    (tmp_path / "use.ts").write_text(USE)
    (tmp_path / "misuse.ts").write_text(MISUSE)
    tsc = [str(WEB_BIN / "tsc"), "--noEmit", "--strict", "--target", "es2022", "--module",
           "esnext", "--moduleResolution", "bundler"]  # fmt: skip
    _run(*tsc, "use.ts", cwd=tmp_path)
    refused = subprocess.run([*tsc, "misuse.ts"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=300)  # fmt: skip
    assert refused.returncode != 0 and "misuse.ts" in refused.stdout, refused.stdout
    assert "not assignable to type 'number'" in refused.stdout
