"""Images without a notebook: a saved page's view drawn by a headless Chromium or Chrome.

`AttentionWidget.save("fig.png")` and `gemma-widget export --out fig.svg` write the standalone
page (export.save_html), open it as `page.html#export=png&scale=2` with `--dump-dom`, and read
back the image the widget's own front end drew, so the file matches the view the page shows.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import GemmaWidgetError

BROWSER_ENV = "GEMMA_WIDGET_BROWSER"
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
_EXPORTED = re.compile(r'<pre id="gemma-widget-export"(?: data-error="([^"]*)")?>([^<]*)</pre>')


def find_browser() -> str | None:
    """`$GEMMA_WIDGET_BROWSER`, else the first Chromium or Chrome on PATH."""
    chosen = os.environ.get(BROWSER_ENV)
    if chosen:
        return shutil.which(chosen) or (chosen if Path(chosen).is_file() else None)
    return next((path for name in BROWSER_NAMES if (path := shutil.which(name))), None)


def render_page_image(page: Path, image_format: str, scale: float, timeout: float = 120) -> bytes:
    """The image a standalone page draws of its view, `png` or `svg`."""
    browser = find_browser()
    if browser is None:
        raise GemmaWidgetError(
            "Writing PNG or SVG outside a notebook needs Chromium or Chrome, and none was found.",
            f"Install one (Debian/Ubuntu: `apt-get install chromium`) or set {BROWSER_ENV} to "
            "its path; in a notebook, `await w.save_image(...)` draws the image with the view "
            "on screen instead.",
        )
    url = f"{page.resolve().as_uri()}#export={image_format}&scale={scale:g}"
    with tempfile.TemporaryDirectory(prefix="gemma-widget-browser-") as profile:
        command = [
            browser,
            "--headless",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=30000",
            "--dump-dom",
            url,
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(2, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise GemmaWidgetError(
                f"{browser} did not finish drawing the image within {timeout:g} s.",
                "Try again; for very long texts save .html and use its buttons.",
            ) from None
    found = _EXPORTED.search(done.stdout)
    if found is None:
        detail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise GemmaWidgetError(
            f"{browser} did not draw the image (exit status {done.returncode}: {detail[0]}).",
            f"Check that {browser} runs headless on this machine, or set {BROWSER_ENV} to "
            "another Chromium or Chrome.",
        )
    if found.group(1):
        raise GemmaWidgetError(
            f"The page could not draw the image: {found.group(1)}.",
            "Check that the text has tokens; empty text has nothing to draw.",
        )
    return base64.b64decode(found.group(2))
