"""What an article quotes and whom it quotes: quoted spans, and passages it attributes to a source
outside Telegram. Pure functions over strings.

Why: a journalist who translates a post themself shares few whole sentences with our machine
translation, but the fragments they put in quotation marks ("does not want to replenish the
composition of the occupation contingent") are usually close to it word for word, short as they are.
And the same words said at a news conference, in an interview or a televised address and merely
relayed by a channel are not a citation of that channel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.cite.text import Caseless

#: a span between quotation marks of one kind, on one line; straight and single quotes only where
#: they cannot be an apostrophe (not between letters)
_QUOTED = re.compile(
    r'"([^"\n]{6,600})"'
    r"|“([^”“\n]{6,600})”"
    r"|«([^»«\n]{6,600})»"
    r"|„([^“”„\n]{6,600})[“”]"
    r"|(?<![\w'])'([^'\n]{6,300}?)'(?![\w'])"
    r"|(?<![\w‘’])‘([^’‘\n]{6,300}?)’(?![\w’])"
)
_MIN_WORDS = 3
_BRACKETS = re.compile(r"\[[^\]]*\]|<…>|<\.\.\.>")
_ELLIPSIS = re.compile(r"\.\.\.|…")


@dataclass(frozen=True)
class Span:
    """A quoted passage: its text (brackets and ellipses dropped) and where it starts."""

    text: str
    start: int
    parts: tuple[str, ...]  # the pieces between ellipses, each matched on its own


def quoted_spans(text: str) -> list[Span]:
    """Spans of three or more words in quotation marks ("…", “…”, «…», „…“, '…', ‘…’)."""
    out: list[Span] = []
    for m in _QUOTED.finditer(text):
        raw = next(g for g in m.groups() if g is not None)
        clean = _BRACKETS.sub(" ", raw)
        parts = tuple(" ".join(p.split()).strip(" ,;:") for p in _ELLIPSIS.split(clean)
                      if p.strip(" ,;:"))
        joined = " ".join(parts)
        if len(joined.split()) >= _MIN_WORDS:
            out.append(Span(joined, m.start(), parts))
    return out


#: where words are said outside Telegram: to reporters, on television, in an interview, a speech
_OFFLINE_VENUE = Caseless(
    r"\b(?:told (?:\w+ ){0,2}(?:reporters|journalists|a news conference|a press conference|"
    r"television|TV|radio|parliament|lawmakers|the (?:BBC|CNN|AP|AFP)|[A-Z]\w+ (?:TV|television|"
    r"radio|newspaper)|broadcaster|news agency|Reuters|Interfax|Ukrinform)|"
    r"speaking (?:to|at|on|in) |at a (?:news|press) (?:conference|briefing)|"
    r"in an? (?:interview|televised|television|TV|video|nightly|radio) ?(?:interview|address|"
    r"speech|broadcast|statement|appearance)?|in a speech|at a (?:televised )?meeting|"
    r"interview (?:with|broadcast)|said on (?:state )?(?:television|TV|radio)|"
    r"statement on (?:its|his|her|their) website|on (?:his|her|its) website|on X|on Twitter|"
    r"on Facebook|on Instagram)",
)
#: every alternative opens with a letter (``\bchannel`` as ``c(?<!\wc)hannel``), so ``re`` skips to
#: those letters in C: a third of the time per sentence (searched in every sentence of an article)
_TELEGRAM = Caseless(r"telegram|телеграм|c(?<!\wc)hannel\b|канал|in a post\b|posted")


_GOES_ON = Caseless(r"\b(?:he|she|they|it) (?:said|says|added|told|noted|went on|continued|"
                    r"insisted|argued|warned)\b")


def offline_sentences(sentences: list[str]) -> set[int]:
    """Indexes of sentences that put their words in the mouth of a source outside Telegram (a news
    conference, an interview, a televised address, a website) and do not mention Telegram, and of
    the sentences right after them that go on quoting the same speaker ("…, he said")."""
    out: set[int] = set()
    for i, s in enumerate(sentences):
        low = s.lower()
        if _TELEGRAM.search(s, low):
            continue
        if _OFFLINE_VENUE.search(s, low) or (i - 1 in out and _GOES_ON.search(s, low)):
            out.add(i)
    return out


def mentions_telegram(text: str) -> bool:
    """Whether the article says anywhere that something comes from Telegram or a channel."""
    return _TELEGRAM.search(text) is not None


#: a post that hands on someone else's words: "Володимир Зеленський:" / "Olaf Scholz - in a
#: televised address …:" on its first line, or a line ending "- Shoigu" / "— Песков"
_RELAY_HEAD = re.compile(r"^[^\n]{3,140}:\s*$", re.MULTILINE)
_RELAY_TAIL = re.compile(r"\s[-–—]\s?[A-ZА-ЯІЇЄҐ][\w'’]+(?: [A-ZА-ЯІЇЄҐ][\w'’]+)?\s*$", re.MULTILINE)
#: the head names someone: it opens with two capitalised words ("Olaf Scholz", "Начальник ГУР")
_NAMED = re.compile(r"^\W*[A-ZА-ЯІЇЄҐ][\w'’-]*\s+[A-ZА-ЯІЇЄҐ]")


#: "про це повідомив заступник міського голови …", "об этом сообщил …": the post says whose
#: words it hands on
_RELAY_SAID = re.compile(
    r"\b(?:про це|об этом) (?:повідоми|заяви|розпові|написа|сообщи|рассказа)\w*",
    re.IGNORECASE)


def relays(post_text: str) -> bool:
    """Whether a post mainly passes on another person's statement (a name line ending in a colon
    before the text, statements signed "- Name", or "про це повідомив X" / "об этом сообщил X")."""
    lines = [x.strip() for x in post_text.strip().splitlines() if x.strip()]
    if not lines:
        return False
    if _RELAY_SAID.search(post_text):
        return True
    head = lines[0]
    if _RELAY_HEAD.match(head) and _NAMED.match(head) and len(head.split()) <= 20:
        return True
    signed = sum(1 for x in lines if _RELAY_TAIL.search(x))
    return signed >= 1 and signed * 3 >= len(lines)
