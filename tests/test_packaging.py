"""The package ships its front end, and Python and npm agree on one version."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import gemma_widget

ROOT = Path(__file__).resolve().parent.parent


def test_one_version_in_pyproject_package_json_and_installed_metadata() -> None:
    npm_version = json.loads((ROOT / "package.json").read_text())["version"]
    python_version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert npm_version == python_version == gemma_widget.__version__


def test_wheel_built_from_the_sdist_contains_the_bundle(tmp_path: Path) -> None:
    """The bundle is in neither git nor the sdist: building the wheel must produce and pack it."""
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (sdist,) = tmp_path.glob("gemma_widget-*.tar.gz")
    with tarfile.open(sdist) as archive:
        sdist_names = archive.getnames()
    assert any(name.endswith("js/widget.ts") for name in sdist_names)
    assert not any("/static/" in name or "node_modules" in name for name in sdist_names)
    (wheel,) = tmp_path.glob("gemma_widget-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "gemma_widget/static/widget.js" in names
    assert "gemma_widget/static/widget.css" in names
    bundle = zipfile.ZipFile(wheel).read("gemma_widget/static/widget.js")
    assert b"gw-root" in bundle
    assert not any(name.startswith("gemma_widget/static/") and ".map" in name for name in names)


def test_bundle_is_not_tracked_by_git() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "gemma_widget/static"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    assert tracked == ""
