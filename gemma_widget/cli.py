"""`gemma-widget export`: attention of a text to a file, for batch use without a notebook.

    gemma-widget export "The cat sat." --model google/embeddinggemma-300m --out cat.html
    gemma-widget export "The cat sat." --out cat.npz --prompt query --layer 5 --head 2

Progress goes to stderr; errors print what went wrong and the fix, and exit with status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from traitlets import TraitError

from .errors import GemmaWidgetError
from .loading import DEFAULT_MODEL
from .prompts import PROMPTS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gemma-widget", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="write a text's attention to .html or .npz")
    export.add_argument("text", help="the text (use - to read it from stdin)")
    export.add_argument("--out", required=True, help="output file: .html or .npz")
    export.add_argument("--model", default=DEFAULT_MODEL, help="hub id or local folder")
    export.add_argument("--prompt", default="none", choices=list(PROMPTS))
    export.add_argument("--layer", type=int, default=0)
    export.add_argument("--head", type=int, default=0)
    export.add_argument("--device", default=None, help="cuda, mps or cpu (default: best)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from .widget import AttentionWidget  # after parsing: --help stays instant

    text = sys.stdin.read() if args.text == "-" else args.text
    if not args.out.lower().endswith((".html", ".npz")):
        print(
            "gemma-widget: export writes .html or .npz (PNG and SVG are drawn by a browser: "
            "open the .html and use its SVG/PNG buttons)",
            file=sys.stderr,
        )
        return 1

    def say(change: dict[str, Any]) -> None:
        if change["new"]:
            print(f"gemma-widget: {change['new']}", file=sys.stderr, flush=True)

    try:
        widget = AttentionWidget(text, model=args.model, prompt=args.prompt, device=args.device)
        widget.observe(say, "progress")
        widget.wait()
        widget.layer, widget.head = args.layer, args.head
        path = widget.save(args.out)
    except GemmaWidgetError as error:
        print(f"gemma-widget: {error.message}\nFix: {error.fix}", file=sys.stderr)
        return 1
    except (TraitError, ValueError, OSError) as error:  # bad --layer/--head/--out, unwritable
        print(f"gemma-widget: {error}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
