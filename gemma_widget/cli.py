"""`gemma-widget export`: attention of a text to a file, for batch use without a notebook.

    gemma-widget export "The cat sat." --model google/embeddinggemma-300m --out cat.html
    gemma-widget export "The cat sat." --out cat.npz --prompt query --layer 5 --head 2
    gemma-widget export "The cat." --out cat.png --view matrix --colour-scale log --image-scale 2

PNG and SVG are drawn by the widget's own front end in a headless Chromium or Chrome.

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
from .statistics import STATISTICS
from .widget import MASKS, SCALES, VIEWS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gemma-widget", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser(
        "export", help="write a text's attention to .html, .npz, .png or .svg"
    )
    export.add_argument("text", help="the text (use - to read it from stdin)")
    export.add_argument("--out", required=True, help="output file: .html, .npz, .png or .svg")
    export.add_argument("--model", default=DEFAULT_MODEL, help="hub id or local folder")
    export.add_argument("--prompt", default="none", choices=list(PROMPTS))
    export.add_argument("--layer", type=int, default=0)
    export.add_argument("--head", type=int, default=0)
    export.add_argument("--all-heads", action="store_true", help="every head at once")
    export.add_argument("--view", default="head", choices=VIEWS)
    export.add_argument("--colour-scale", default="linear", choices=SCALES)
    export.add_argument("--statistic", default="entropy", choices=STATISTICS, help="model view")
    export.add_argument("--hide-special", action="store_true", help="hide and renormalise")
    export.add_argument("--words", action="store_true", help="merge pieces into words")
    export.add_argument(
        "--mask", default="model", choices=MASKS, help="causal: the same weights, causal mask"
    )
    export.add_argument("--image-scale", type=float, default=1.0, help="PNG pixels per CSS px")
    export.add_argument("--device", default=None, help="cuda, mps or cpu (default: best)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from .widget import AttentionWidget

    text = sys.stdin.read() if args.text == "-" else args.text
    if not args.out.lower().endswith((".html", ".npz", ".png", ".svg")):
        print("gemma-widget: --out must end in .html, .npz, .png or .svg", file=sys.stderr)
        return 1

    def say(change: dict[str, Any]) -> None:
        if change["new"]:
            print(f"gemma-widget: {change['new']}", file=sys.stderr, flush=True)

    try:
        widget = AttentionWidget(
            text,
            model=args.model,
            prompt=args.prompt,
            device=args.device,
            view=args.view,
            scale=args.colour_scale,
            hide_special=args.hide_special,
            merge_words=args.words,
            all_heads=args.all_heads,
            statistic=args.statistic,
            mask=args.mask,
        )
        widget.observe(say, "progress")
        widget.wait()
        widget.layer, widget.head = args.layer, args.head
        if args.out.lower().endswith((".png", ".svg")):
            say({"new": "drawing the image in a headless browser"})
        path = widget.save(args.out, scale=args.image_scale)
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
