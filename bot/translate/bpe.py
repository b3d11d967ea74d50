"""Byte-pair encoding for the older Argos packages that ship ``bpe.model`` instead of SentencePiece.

``bpe.model`` is a subword-nmt merge list (``#version: 0.2`` then one ``left right`` pair a line,
most frequent first). Words are split from punctuation with a light regex (argostranslate uses
sacremoses' Moses tokenizer, one more dependency for the same effect on plain news text), merged
pair by pair in rank order, and joined back with ``@@`` continuation marks, as the models were
trained.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

_TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
_NO_SPACE_BEFORE = re.compile(r" ([.,!?:;%)\]}»”’])")
_NO_SPACE_AFTER = re.compile(r"([(\[{«“‘]) ")


class BPETokenizer:
    def __init__(self, path: Path) -> None:
        ranks: dict[tuple[str, str], int] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("#version") or not line.strip():
                continue
            parts = line.split()
            if len(parts) == 2:
                ranks.setdefault((parts[0], parts[1]), len(ranks))
        self._ranks = ranks
        self._segment = lru_cache(maxsize=65536)(self._segment_word)

    def _segment_word(self, word: str) -> tuple[str, ...]:
        symbols = [*word[:-1], word[-1] + "</w>"]
        while len(symbols) > 1:
            ranked = [(r, i) for i, pair in enumerate(pairwise(symbols))
                      if (r := self._ranks.get(pair)) is not None]
            if not ranked:
                break
            _, i = min(ranked)
            symbols[i:i + 2] = [symbols[i] + symbols[i + 1]]
        out = [s + "@@" for s in symbols[:-1]]
        last = symbols[-1].removesuffix("</w>")
        if last:
            out.append(last)
        elif out:
            out[-1] = out[-1].removesuffix("@@")
        return tuple(out)

    def encode(self, sentence: str) -> list[str]:
        return [piece for word in _TOKEN.findall(sentence) for piece in self._segment(word)]

    def decode(self, tokens: list[str]) -> str:
        text = " ".join(tokens).replace("@@ ", "").removesuffix("@@")
        return _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", text)).strip()
