"""The MES as a plant installs it (a wheel, not an editable checkout) can migrate its database:
the alembic revisions ship in the wheel beside ``app`` and ``stations``."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _build_wheel(out: Path) -> Path:
    """A wheel built from a copy of the sources (a build in the checkout would reuse its build/ folder)."""
    source = out.parent / "source"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(".venv", ".git", "data", "build", "*.egg-info", "__pycache__", ".*_cache"),
    )
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    command = (
        [uv, "build", "--wheel", "--out-dir", str(out), str(source)]
        if uv
        else [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out), str(source)]
    )
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    (wheel,) = out.glob("ashp_mes-*.whl")
    return wheel


def test_a_wheel_install_migrates_a_new_database_to_head(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path / "dist")
    installed = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(installed)
    database = tmp_path / "plant" / "mes.db"
    script = (
        "import app, sys; from app.persistence import migrate; "
        "assert app.__file__.startswith(sys.argv[1]), app.__file__; "
        "migrate.upgrade('sqlite:///' + sys.argv[2])"
    )
    env = {**os.environ, "PYTHONPATH": str(installed)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(installed), str(database)],
        cwd=tmp_path,  # nowhere near the checkout
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    head = sorted(p.name.split("_", 1)[0] for p in (REPO / "migrations" / "versions").glob("[0-9]*.py"))[-1]
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (head,)
