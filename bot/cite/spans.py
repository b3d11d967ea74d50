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
#: they cannot be an apostrophe (not between letters). Every alternative opens with its quotation
#: mark (what comes before one is looked at after it: ``'(?<![\w']')`` for ``(?<![\w'])'``), so
#: ``re`` skips to those marks in C instead of trying every alternative at every character (the
#: tests compare it with the pattern as first written)
_QUOTED = re.compile(
    r'"([^"\n]{6,600})"'
    r"|“([^”“\n]{6,600})”"
    r"|«([^»«\n]{6,600})»"
    r"|„([^“”„\n]{6,600})[“”]"
    r"|'(?<![\w']')([^'\n]{6,300}?)'(?![\w'])"
    r"|‘(?<![\w‘’]‘)([^’‘\n]{6,300}?)’(?![\w’])"
)
_QUOTED_PLAIN = re.compile(
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


#: where words are said outside Telegram: to reporters, on television, in an interview, a speech.
#: Every alternative opens with a letter and looks back for the word boundary after it
#: (``t(?<!\wt)old`` for ``\btold``; ``_OFFLINE_VENUE_AS_WRITTEN`` in the tests is the plain form),
#: so ``re`` skips to those letters in C instead of trying every alternative at every word
_OFFLINE_VENUE = Caseless(
    r"t(?<!\wt)old (?:\w+ ){0,2}(?:reporters|journalists|a news conference|a press conference|"
    r"television|TV|radio|parliament|lawmakers|the (?:BBC|CNN|AP|AFP)|[A-Z]\w+ (?:TV|television|"
    r"radio|newspaper)|broadcaster|news agency|Reuters|Interfax|Ukrinform)"
    r"|s(?<!\ws)(?:peaking (?:to|at|on|in) |aid on (?:state )?(?:television|TV|radio)"
    r"|tatement on (?:its|his|her|their) website)"
    r"|a(?<!\wa)t a (?:(?:news|press) (?:conference|briefing)|(?:televised )?meeting)"
    r"|i(?<!\wi)(?:n an? (?:interview|televised|television|TV|video|nightly|radio) ?(?:interview|"
    r"address|speech|broadcast|statement|appearance)?|n a speech|nterview (?:with|broadcast))"
    r"|o(?<!\wo)n (?:(?:his|her|its) website|X|Twitter|Facebook|Instagram)",
)
#: every alternative opens with a letter (``\bchannel`` as ``c(?<!\wc)hannel``), so ``re`` skips to
#: those letters in C: a third of the time per sentence (searched in every sentence of an article)
_TELEGRAM = Caseless(r"telegram|телеграм|c(?<!\wc)hannel\b|канал|in a post\b|posted",
                     needles=("telegram", "телеграм", "channel", "канал", "in a post", "posted"))


_GOES_ON = Caseless(r"\b(?:he|she|they|it) (?:said|says|added|told|noted|went on|continued|"
                    r"insisted|argued|warned)\b")


def offline_sentences(sentences: list[str]) -> set[int]:
    """Indexes of sentences that put their words in the mouth of a source outside Telegram (a news
    conference, an interview, a televised address, a website) and do not mention Telegram, and of
    the sentences right after them that go on quoting the same speaker ("…, he said")."""
    out: set[int] = set()
    # one search of the whole text first: most articles name no such venue, and a sentence can
    # match only where the text does (each pattern looks no further back than a word boundary,
    # which a line break keeps)
    if _OFFLINE_VENUE.search("\n".join(sentences)) is None:
        return out
    for i, s in enumerate(sentences):
        low = s.lower()
        if _TELEGRAM.search(s, low):
            continue
        if _OFFLINE_VENUE.search(s, low) or (i - 1 in out and _GOES_ON.search(s, low)):
            out.add(i)
    return out


#: words of speech an article puts after (or before) the one who spoke them (``_SPEECH_WORDS``
#: lists them for substring tests, kept in step)
_SPEECH = (r"(?:said|says|told|warned|added|stated|noted|wrote|cautioned|claimed|announced|"
           r"insisted|argued|explained|stressed|urged|declared|confirmed|acknowledged|estimated)")
#: a run of capitalised words: a person or an organisation ("Energy Minister German Galushchenko")
_NAME_RUN = r"[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+){0,3}"
_SPEECH_WORDS = (*_SPEECH[3:-1].split("|"), "according to")
#: a word of speech in a sentence: where its speaker is looked for
_SPEECH_AT = re.compile(rf"\b(?:{_SPEECH}|according to)\b")
#: before a word of speech: "Galushchenko", "Scholz, the German chancellor,", "Lysak also"
_NAME_BEFORE = re.compile(
    rf"({_NAME_RUN})(?:,[^,\n]{{2,80}},)?\s+(?:\w+ly\s+|also\s+|has\s+|had\s+)?$")
#: after one: "said Galushchenko", "according to the General Staff", "told Energy Minister X"
_NAME_AFTER = re.compile(rf"\s+(?:the\s+)?(?:[a-z]+\s+){{0,2}}({_NAME_RUN})")
#: how far before a word of speech its speaker is looked for
_BEFORE_SPAN = 130
#: a sentence that goes on with the same speaker: "he said", "the minister said"
_SAME_SPEAKER = Caseless(rf"\b(?:he|she|they|the [a-z]+) (?:\w+ly )?{_SPEECH}\b")


def speakers(sentences: list[str]) -> dict[int, tuple[str, ...]]:
    """Per sentence, the names the article puts its words in the mouth of ("Galushchenko said",
    "according to the General Staff"), also for the sentences right after that go on quoting the
    same speaker ("…, the minister said"); none for a sentence that mentions Telegram. Which of
    them is the channel itself is for the caller to tell."""
    out: dict[int, tuple[str, ...]] = {}
    # substring tests run in C at memchr speed; the word pattern only where one of them is
    whole = "\n".join(sentences)
    present = [w for w in _SPEECH_WORDS if w in whole]
    if not present:
        return out
    for i, s in enumerate(sentences):
        if not any(w in s for w in present):
            continue
        verbs = list(_SPEECH_AT.finditer(s))
        if not verbs or _TELEGRAM.search(s):
            continue
        got: list[str] = []
        for v in verbs:
            before = None if v.group(0) == "according to" else _NAME_BEFORE.search(
                s, max(0, v.start() - _BEFORE_SPAN), v.start())
            if m := before or _NAME_AFTER.match(s, v.end()):
                got.append(m.group(1))
        if not got and i - 1 in out and _SAME_SPEAKER.search(s):
            out[i] = out[i - 1]
        elif got:
            out[i] = tuple(dict.fromkeys(got))
    return out


def mentions_telegram(text: str) -> bool:
    """Whether the article says anywhere that something comes from Telegram or a channel."""
    return _TELEGRAM.search(text) is not None


#: a post that hands on someone else's words: "Володимир Зеленський:" / "Olaf Scholz - in a
#: televised address …:" on its first line, or a line ending "- Shoigu" / "— Песков"
_RELAY_HEAD = re.compile(r"^[^\n]{3,140}:\s*$", re.MULTILINE)
_RELAY_TAIL = re.compile(r"\s[-–—]\s?[A-ZА-ЯІЇЄҐ][\w'’]+(?: [A-ZА-ЯІЇЄҐ][\w'’]+)?\s*$", re.MULTILINE)
#: the head names someone: it opens with two capitalised words ("Olaf Scholz", "Начальник ГУР"),
#: or with one and a dash before what the words are about, as news channels head a statement
#: ("Лавров — о контактах с администрацией США:", "Зеленський — про переговори:")
_NAMED = re.compile(r"^\W*[A-ZА-ЯІЇЄҐ][\w'’-]*\s+(?:[A-ZА-ЯІЇЄҐ]|[-–—]\s*(?:о|об|про|on|about)\s)")


#: "про це повідомив заступник міського голови …", "об этом сообщил …": the post says whose
#: words it hands on
_RELAY_SAID = re.compile(
    r"\b(?:про це|об этом) (?:повідоми|заяви|розпові|написа|сообщи|рассказа)\w*",
    re.IGNORECASE)


#: words of speech in a post: Ukrainian, Russian and a machine translation's English
_POST_SPEECH = (r"(?:заяви\w*|сказа\w*|наголоси\w*|наголошу\w*|зазначи\w*|повідоми\w*|"
                r"розпові\w*|підкресли\w*|додав\w*|поясни\w*|отмети\w*|подчеркну\w*|"
                r"сообщи\w*|рассказа\w*|добави\w*|за словами|по словам|"
                r"said|says|stated|emphasi[sz]ed|noted|stressed|added|explained|according to)")
_CAP_RUN = r"[A-ZА-ЯІЇЄҐ][\w'’ʼ-]+(?:\s+[A-ZА-ЯІЇЄҐ][\w'’ʼ-]+){0,2}"
#: "— наголосив Герман Галущенко", "Герман Галущенко:" before a quote or a statement, "за словами
#: Буданова", "Galushchenko said": a name the post hands words on from
_POST_SAID_BY = re.compile(
    rf"{_POST_SPEECH}\s+(?:[a-zа-яіїєґ'’ʼ-]+\s+){{0,3}}({_CAP_RUN})"
    rf"|({_CAP_RUN})(?=(?:\s+[a-zа-яіїєґ]+){{0,2}}\s*(?::|[-–—]\s*[«\"“]|\s{_POST_SPEECH}))")


#: the forms ``relays`` reads: a head line that opens with a name and ends in a colon ("Olaf
#: Scholz - in a televised address …:"), a line signed "- Shoigu"
_HEAD_NAME = re.compile(rf"^\W*({_CAP_RUN})[^\n]{{0,140}}:[ \t]*$", re.MULTILINE)
_TAIL_NAME = re.compile(rf"\s[-–—]\s?({_CAP_RUN})[ \t]*$", re.MULTILINE)


def relayed_names(post_text: str) -> str:
    """The names a post hands words on from, joined ("Герман Галущенко Міністр …"): next to a word
    of speech, before a colon that opens a statement, or signing a statement "- Shoigu" as
    ``relays`` reads it. A signature line of its own ("Сергій Лисак, голова ОВА") is the
    channel's own voice, not a relay."""
    return " ".join(g for pat in (_POST_SAID_BY, _HEAD_NAME, _TAIL_NAME)
                    for m in pat.finditer(post_text) for g in m.groups() if g)


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
