"""Every Telegram URL form, through the one parser every layer uses (bot/tglinks.py)."""

from __future__ import annotations

import pytest

from bot.alerts.sender import parse_chat
from bot.tglinks import (
    TelegramLink,
    TelegramRef,
    find_links,
    normalize_username,
    parse_link,
    parse_post_link,
    refs_from_json,
    refs_to_json,
)

# (text, the link parsed from it: (channel, message_id, embed) or None when it is no channel's)
URL_FORMS: list[tuple[str, tuple[str, int | None, bool] | None]] = [
    ("https://t.me/DIUkraine/3512", ("DIUkraine", 3512, False)),
    ("http://t.me/DIUkraine/3512", ("DIUkraine", 3512, False)),
    ("t.me/DIUkraine/3512", ("DIUkraine", 3512, False)),
    ("//t.me/DIUkraine/3512", ("DIUkraine", 3512, False)),
    ("https://www.t.me/DIUkraine/3512", ("DIUkraine", 3512, False)),
    ("https://telegram.me/DIUkraine/3512", ("DIUkraine", 3512, False)),
    ("https://telegram.dog/DIUkraine/3512", ("DIUkraine", 3512, False)),
    ("HTTPS://T.ME/DIUkraine/3512", ("DIUkraine", 3512, False)),
    ("https://t.me/s/DIUkraine/3512", ("DIUkraine", 3512, False)),
    ("https://t.me/DIUkraine/3512?single", ("DIUkraine", 3512, False)),
    ("https://t.me/DIUkraine/3512?embed=1", ("DIUkraine", 3512, True)),
    ("https://t.me/DIUkraine/3512?single&embed=1&mode=tme", ("DIUkraine", 3512, True)),
    ("https://t.me/DIUkraine?embed=1", ("DIUkraine", None, False)),  # an embed is of one post
    ("https://t.me/DIUkraine", ("DIUkraine", None, False)),
    ("https://t.me/s/DIUkraine", ("DIUkraine", None, False)),
    ("https://t.me/DIUkraine/", ("DIUkraine", None, False)),
    ("t.me/Kyivpost_official.", ("Kyivpost_official", None, False)),
    ("see (https://t.me/rybar/4100).", ("rybar", 4100, False)),
    ("https://t.me/joinchat/AAAAAEkk", None),
    ("https://t.me/+AbCdEf123", None),
    ("https://t.me/c/1234567/56", None),
    ("https://t.me/share/url?url=x", None),
    ("https://t.me/addstickers/Ukraine", None),
    ("https://t.me/iv?url=https%3A%2F%2Fx&rhash=1", None),
    ("https://t.me/abc/1", None),  # too short for a username
    ("https://t.me/1channel/1", None),  # usernames start with a letter
    ("https://notat.me/chan/1", None),
    ("https://example.com/t.me/chan/1", None),
    ("mail@t.me/chan", None),
    ("no link here", None),
]


@pytest.mark.parametrize(("text", "expected"), URL_FORMS)
def test_every_url_form(text: str, expected: tuple[str, int | None, bool] | None) -> None:
    assert parse_link(text) == (TelegramLink(*expected) if expected else None)
    post = (expected[0], expected[1]) if expected and expected[1] is not None else None
    assert parse_post_link(text) == post
    kinds = [(r.kind, r.channel, r.message_id) for r in find_links(text)]
    if expected is None:
        assert kinds == []
    else:
        kind = "channel" if expected[1] is None else ("embed" if expected[2] else "link")
        assert kinds == [(kind, expected[0], expected[1])]


def test_found_refs_carry_the_canonical_url() -> None:
    refs = list(find_links("a http://telegram.dog/s/DIUkraine/7 and t.me/rybar in text"))
    assert [r.url for r in refs] == ["https://t.me/DIUkraine/7", "https://t.me/rybar"]


@pytest.mark.parametrize(("raw", "expected"), [
    ("DIUkraine", "DIUkraine"), ("@DIUkraine", "DIUkraine"), (" t.me/DIUkraine ", "DIUkraine"),
    ("https://t.me/s/DIUkraine", "DIUkraine"), ("https://www.telegram.dog/DIUkraine/12", "DIUkraine"),
    ("https://t.me/DIUkraine?single", "DIUkraine"),
])
def test_username_forms(raw: str, expected: str) -> None:
    assert normalize_username(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "1abc", "https://t.me/+AbCdEf", "https://example.com/DIUkraine", ""])
def test_not_a_username(raw: str) -> None:
    with pytest.raises(ValueError, match="not a public channel username"):
        normalize_username(raw)


@pytest.mark.parametrize(("raw", "expected"), [
    ("me", "me"), ("-1001234567890", -1001234567890), ("@alerts_chat", "alerts_chat"),
    ("https://t.me/alerts_chat", "alerts_chat"), ("telegram.dog/alerts_chat", "alerts_chat"),
])
def test_chat_forms(raw: str, expected: str | int) -> None:
    assert parse_chat(raw) == expected


def test_stored_form_round_trips_and_keeps_its_json_shape() -> None:
    refs = [TelegramRef.of("embed", "DIUkraine", 3700), TelegramRef.of("channel", "rybar", None)]
    stored = refs_to_json(refs)
    assert stored == [
        {"kind": "embed", "channel": "DIUkraine", "message_id": 3700, "url": "https://t.me/DIUkraine/3700"},
        {"kind": "channel", "channel": "rybar", "message_id": None, "url": "https://t.me/rybar"},
    ]
    assert refs_from_json(stored) == refs


def test_stored_dicts_are_read_leniently() -> None:
    got = refs_from_json([{"channel": "DIUkraine", "message_id": "12"}, {"channel": ""},
                          {"kind": "bogus", "channel": "rybar", "message_id": "x"}])
    assert got == [TelegramRef("link", "DIUkraine", 12, ""), TelegramRef("link", "rybar", None, "")]
