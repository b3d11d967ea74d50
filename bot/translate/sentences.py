"""Sentence splitting for the offline model, our own (argostranslate uses stanza, which needs PyTorch).

An NMT model translates one sentence at a time well and long paragraphs badly (it drops clauses), so
posts are cut into sentences, translated together in one batch, and put back with the exact
whitespace that separated them (a post's line breaks survive translation). The rule is the usual
one for Cyrillic and Latin news text: a sentence ends at ``.``, ``!``, ``?`` or ``…`` (with closing
quotes or brackets) followed by space and a capital, digit, quote or dash — but not after an
initial ("В. Зеленський") or a common abbreviation ("м.", "ст.", "т.д."). Lines always end
sentences. A piece longer than MAX_CHARS is cut at a comma or space, since models have a length cap.
"""

from __future__ import annotations

import re

#: Longest piece given to the model (characters); ~100 sentencepiece tokens of Cyrillic news text.
MAX_CHARS = 400

_END = re.compile(r"""[.!?…]+["»”’)\]]*(?=\s+["«“‘(\[—–-]?[A-ZА-ЯЁІЇЄҐ0-9])""")
#: words after which a full stop does not end a sentence (lower-cased, without the dot)
_ABBREV = frozenset({
    "м", "с", "ст", "вул", "просп", "обл", "р", "рр", "г", "гг", "т", "д", "п", "пп", "ім", "тис",
    "млн", "млрд", "грн", "руб", "див", "напр", "ін", "пр", "им", "тыс", "ул", "пос", "смт",
    "mr", "mrs", "ms", "dr", "st", "vs", "etc", "no", "gen", "col", "lt", "sgt",
})
_WS = re.compile(r"\s+")


def _cut_long(piece: str) -> list[str]:
    """Cut a piece over MAX_CHARS at the last comma (else space) before the limit."""
    out: list[str] = []
    while len(piece) > MAX_CHARS:
        window = piece[:MAX_CHARS]
        cut = max(window.rfind(", "), window.rfind("; "))
        cut = cut + 1 if cut > MAX_CHARS // 3 else window.rfind(" ")
        if cut <= 0:
            cut = MAX_CHARS
        out.append(piece[:cut])
        piece = piece[cut:].lstrip()
    out.append(piece)
    return [p for p in out if p]


def _line_sentences(line: str) -> list[str]:
    out: list[str] = []
    start = 0
    for m in _END.finditer(line):
        before = line[start:m.start()].rsplit(None, 1)
        word = before[-1].lower() if before else ""
        if m.group().startswith(".") and (word in _ABBREV or (len(word) == 1 and word.isalpha())):
            continue
        out.append(line[start:m.end()])
        start = m.end()
    out.append(line[start:])
    return [p for s in out for p in _cut_long(s.strip()) if p]


def split_sentences(text: str) -> tuple[list[str], list[str]]:
    """``(sentences, joins)``: ``joins[i]`` goes before ``sentences[i]`` and ``joins[-1]`` after
    the last one, so ``join_sentences`` restores the layout around translated sentences."""
    sentences: list[str] = []
    joins: list[str] = []
    pending = ""
    for line, sep in zip(*_lines(text), strict=True):
        parts = _line_sentences(line)
        lead = line[: len(line) - len(line.lstrip())]
        pending += lead
        for i, s in enumerate(parts):
            joins.append(pending if i == 0 else " ")
            sentences.append(s)
            pending = ""
        pending += sep if parts else line.strip() + sep
    joins.append(pending)
    return sentences, joins


def _lines(text: str) -> tuple[list[str], list[str]]:
    """Lines and the line breaks (with any trailing spaces) that follow each."""
    lines: list[str] = []
    seps: list[str] = []
    for m in re.finditer(r"([^\n]*?)([ \t\r\f\v]*(?:\n|$))", text):
        if not m.group(0):
            continue
        lines.append(m.group(1))
        seps.append(m.group(2))
    return lines, seps


def join_sentences(translated: list[str], joins: list[str]) -> str:
    """Put translated sentences back between the original separators."""
    parts: list[str] = []
    for join, sentence in zip(joins, translated, strict=False):
        parts.append(join)
        parts.append(_WS.sub(" ", sentence).strip())
    parts.append(joins[-1] if len(joins) > len(translated) else "")
    return "".join(parts)
