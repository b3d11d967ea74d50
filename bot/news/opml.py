"""OPML (the feed-list format every reader exports) → feed URLs. Pure.

Outlines nest (folders); any outline with an ``xmlUrl`` is a feed, wherever it sits. Parsed with
entity resolution and network access off, so a hostile file cannot read local files or call out.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from bot.errors import CitewatchError


class OpmlError(CitewatchError):
    """The file is not OPML we can read."""


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    title: str | None = None
    folder: str | None = None


def parse_opml(data: bytes | str) -> list[OpmlFeed]:
    """Every distinct http(s) ``xmlUrl`` in document order."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                             load_dtd=False, recover=False)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise OpmlError(f"malformed OPML: {' '.join(str(exc).split())}") from exc
    if root is None or etree.QName(root).localname.lower() != "opml":
        raise OpmlError("not an OPML file (no <opml> root element)")
    out: list[OpmlFeed] = []
    seen: set[str] = set()

    def walk(el: etree._Element, folder: str | None) -> None:
        for child in el:
            if not isinstance(child.tag, str) or etree.QName(child).localname.lower() != "outline":
                continue
            attrs = {k.lower(): v for k, v in child.attrib.items()}
            title = (attrs.get("title") or attrs.get("text") or "").strip() or None
            url = (attrs.get("xmlurl") or "").strip()
            if url.startswith(("http://", "https://")) and url not in seen:
                seen.add(url)
                out.append(OpmlFeed(url, title, folder))
            walk(child, title if not url else folder)

    body = next((c for c in root if isinstance(c.tag, str)
                 and etree.QName(c).localname.lower() == "body"), None)
    if body is None:
        raise OpmlError("not an OPML file (no <body>)")
    walk(body, None)
    return out
