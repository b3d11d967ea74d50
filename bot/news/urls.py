"""Canonical URLs: one spelling per article, so the same page reached by many links is stored once.

Pure. Tracking parameters and fragments never change the page, so they are dropped; the scheme and
host are lower-cased and default ports removed. Path and the remaining query are kept as they are
(some sites route on query parameters, and their order can matter).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

_TRACKING = frozenset({
    "fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "_ga", "ocid",
    "cmpid", "smid", "ref_src", "ito", "at_medium", "at_campaign", "guccounter",
})


def normalize_url(url: str, base: str | None = None) -> str:
    """``url`` (resolved against ``base``) without utm_* and other trackers or a fragment."""
    if base:
        url = urljoin(base, url.strip())
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    if parts.hostname and ":" in parts.hostname:  # IPv6 literal
        host = f"[{host}]" if not port else host.replace(parts.hostname, f"[{parts.hostname}]", 1)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in _TRACKING
    ]
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, urlencode(query, doseq=True), ""))


def same_site(a: str, b: str) -> bool:
    """True when two URLs are on one site (``www.x.com``, ``amp.x.com`` and ``x.com`` are).

    A page's canonical link is untrusted text: a page claiming another site's URL as its canonical
    must not be able to hide behind (or overwrite) that site's article.
    """
    ha, hb = (_bare_host(u) for u in (a, b))
    if not ha or not hb:
        return False
    return ha == hb or ha.endswith("." + hb) or hb.endswith("." + ha)


def _bare_host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    for prefix in ("www.", "amp.", "m.", "mobile."):
        if host.startswith(prefix) and host.count(".") > 1:
            return host[len(prefix):]
    return host
