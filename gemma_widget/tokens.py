"""Turn tokenizer pieces into text a reader recognises.

SentencePiece (Gemma, T5) marks a leading space with `▁`; byte-level BPE (GPT-2, RoBERTa) uses `Ġ`
for a space and `Ċ` for a newline. WordPiece's `##` continuation marker is left alone: readers of
BERT attention know it, and it is the only sign that a piece continues a word.
"""

from __future__ import annotations

from typing import Any

SENTENCEPIECE_SPACE = "\u2581"  # ▁
BYTE_LEVEL_MARKS = {"\u0120": " ", "\u010a": "\n", "\u0109": "\t"}  # Ġ Ċ ĉ


def uses_byte_level_marks(tokenizer: Any) -> bool:
    """True for byte-level BPE tokenizers, whose pieces spell a space as `Ġ`."""
    ids = tokenizer(" the the", add_special_tokens=False)["input_ids"]
    return any(piece.startswith("\u0120") for piece in tokenizer.convert_ids_to_tokens(ids))


def readable_token(piece: str, byte_level: bool) -> str:
    """The text a piece stands for, with the tokenizer's space markers turned into spaces."""
    if byte_level:
        return "".join(BYTE_LEVEL_MARKS.get(char, char) for char in piece)
    return piece.replace(SENTENCEPIECE_SPACE, " ")
