"""Where the built front end lives, and a clear error when it was never built.

esbuild writes `js/` into `static/` when the wheel is built (never committed): `widget.js` and
`widget.css` for notebooks, `standalone.js` for exported HTML pages.
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"


def bundle_file(name: str) -> Path:
    """The path of one built file, or a FileNotFoundError that says how to build it."""
    path = STATIC / name
    if not path.exists():
        raise FileNotFoundError(
            f"The front-end bundle {path} is missing. Reinstall the package, or in a source "
            "checkout run `npm install && npm run build`."
        )
    return path
