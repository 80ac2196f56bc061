"""Generated secrets (the JWT signing key, the app role's password) are made by whichever of
several starting processes comes first; every process ends up with the same, whole file."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from server.kernel.auth.keys import load_keys, public_jwk
from server.kernel.settings import AuthSettings, DatabaseSettings


def _kid(data_dir: str) -> str:
    keys = load_keys(AuthSettings(), Path(data_dir))
    return str(public_jwk(keys.private_key.public_key())["kid"])


def _app_password(path: str) -> str:
    # the session sets ONEMAP_DATABASE_APP_PASSWORD; an empty one means "the generated one"
    settings = DatabaseSettings(app_password="", app_password_file=Path(path))
    password = settings.app_login_password()
    assert password is not None
    return password


def test_processes_starting_together_share_one_signing_key(tmp_path: Path) -> None:
    with ProcessPoolExecutor(8) as pool:
        kids = set(pool.map(_kid, [str(tmp_path)] * 32))
    assert len(kids) == 1
    key_file = tmp_path / "keys" / "jwt-es256.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in key_file.parent.iterdir()] == [key_file.name]  # no leftovers


def test_processes_starting_together_share_one_app_password(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "app-password"
    with ProcessPoolExecutor(8) as pool:
        passwords = set(pool.map(_app_password, [str(path)] * 32))
    assert len(passwords) == 1
    (password,) = passwords
    assert len(password) >= 40 and path.read_text() == password + "\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
