"""The wheel holds every file the code reads: a deployment installs the wheel, never the source tree."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tests.wheel_smoke import build_wheel, package_files


def test_the_wheel_holds_every_file_of_the_packages(tmp_path: Path) -> None:
    files = package_files()
    assert {"bot/notes/review_questions.toml", "bot/reports/templates/report.html.j2", "models/migrations/env.py"} <= set(files)
    with zipfile.ZipFile(build_wheel(tmp_path)) as wheel:
        assert [name for name in files if name not in wheel.namelist()] == []
