# ruff: noqa: E501  (fixture HTML is kept on the long lines Telegram writes)
"""The pure t.me/s parser, on pages written like Telegram's own widget markup."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.telegram.webpreview import parse_count, parse_page

CHANNEL_TITLE = "Головне управління розвідки МО України"
CHANNEL_ABOUT = "Офіційний канал Головного управління розвідки Міністерства оборони України"


@dataclass
class WebMsg:
    """One message as the preview shows it; ``body_html`` is already-escaped inner HTML."""

    id: int
    body_html: str = ""
    date: datetime = field(default_factory=lambda: datetime(2024, 3, 1, 10, 15, tzinfo=UTC))
    views: str = "12.3K"
    edited: bool = False
    extra_html: str = ""  # media, reply and forwarded blocks go before the text
    service: bool = False


def text_html(text: str) -> str:
    return html.escape(text).replace("\n", "<br/>")


def render_message(channel: str, m: WebMsg) -> str:
    cls = "tgme_widget_message text_not_supported_wrap js-widget_message"
    if m.service:
        cls += " service_message"
    edited = '<span class="tgme_widget_message_edited">edited</span> ' if m.edited else ""
    text = (f'<div class="tgme_widget_message_text js-message_text" dir="auto">{m.body_html}</div>'
            if m.body_html else "")
    return f"""
<div class="tgme_widget_message_wrap js-widget_message_wrap">
 <div class="{cls}" data-post="{channel}/{m.id}" data-view="eyJjIjotMTAwMTIzNDU2Nzg5MCwicCI6NX0">
  <div class="tgme_widget_message_user"><a href="https://t.me/{channel}"><i class="tgme_widget_message_user_photo bgcolor1" data-content="Г"><img src="https://cdn4.cdn-telegram.org/file/x.jpg"></i></a></div>
  <div class="tgme_widget_message_bubble">
   <i class="tgme_widget_message_bubble_tail"><svg class="bubble_icon" width="9px" height="20px" viewBox="0 0 9 20"></svg></i>
   <div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_owner_name" href="https://t.me/{channel}"><span dir="auto">{html.escape(CHANNEL_TITLE)}</span></a></div>
   {m.extra_html}
   {text}
   <div class="tgme_widget_message_footer compact js-message_footer">
    <div class="tgme_widget_message_info short js-message_info">
     <span class="tgme_widget_message_views">{m.views}</span><span class="copyonly"> views</span>
     <span class="tgme_widget_message_meta">{edited}<a class="tgme_widget_message_date" href="https://t.me/{channel}/{m.id}"><time datetime="{m.date.isoformat()}" class="time">{m.date:%H:%M}</time></a></span>
    </div>
   </div>
  </div>
 </div>
</div>"""


def render_page(channel: str, msgs: list[WebMsg], *, before: int | None = None) -> str:
    """A whole t.me/s page: head, channel info, the message history (oldest first)."""
    prev = (f'<link rel="prev" href="/s/{channel}?before={min(m.id for m in msgs)}">'
            if msgs else "")
    body = "\n".join(render_message(channel, m) for m in sorted(msgs, key=lambda m: m.id))
    return f"""<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8">
    <title>{html.escape(CHANNEL_TITLE)} – Telegram</title>
    <meta property="og:title" content="{html.escape(CHANNEL_TITLE)}">
    <meta property="og:site_name" content="Telegram">
    {prev}
    <link rel="canonical" href="https://t.me/s/{channel}{f'?before={before}' if before else ''}">
  </head>
  <body class="widget_frame_base tgme_webpreview_body">
    <header class="tgme_header search_collapsed">
      <div class="tgme_header_info"><div class="tgme_header_title">{html.escape(CHANNEL_TITLE)}</div></div>
    </header>
    <main class="tgme_main">
      <section class="tgme_right_column">
        <div class="tgme_channel_info">
          <div class="tgme_channel_info_header">
            <div class="tgme_channel_info_header_title"><span dir="auto">{html.escape(CHANNEL_TITLE)}</span></div>
            <div class="tgme_channel_info_header_username"><a href="https://t.me/{channel}">@{channel}</a></div>
          </div>
          <div class="tgme_channel_info_description">{html.escape(CHANNEL_ABOUT)}</div>
          <div class="tgme_channel_info_counters">
            <div class="tgme_channel_info_counter"><span class="counter_value">412K</span> <span class="counter_type">subscribers</span></div>
          </div>
        </div>
      </section>
      <section class="tgme_channel_history js-message_history">
        {body}
      </section>
    </main>
  </body>
</html>"""


PHOTO = ('<a class="tgme_widget_message_photo_wrap 5123 js-message_photo" '
         'style="width:800px;background-image:url(\'https://cdn4.cdn-telegram.org/file/a.jpg\')" '
         'href="https://t.me/DIUkraine/{id}"><div class="tgme_widget_message_photo" '
         'style="padding-top:56.25%"></div></a>')


def album_html(ids: list[int]) -> str:
    items = "".join(
        f'<a class="tgme_widget_message_photo_wrap grouped_media_wrap blured js-message_photo" '
        f'style="left:0px;top:0px;width:398px;height:300px;" '
        f'href="https://t.me/DIUkraine/{i}?single"></a>' for i in ids[:-1])
    items += (f'<a class="tgme_widget_message_video_player grouped_media_wrap blured js-message_video_player" '
              f'href="https://t.me/DIUkraine/{ids[-1]}?single"><div class="tgme_widget_message_video_wrap">'
              f'<video class="tgme_widget_message_video js-message_video" src="https://cdn4.cdn-telegram.org/v.mp4"></video>'
              f'</div></a>')
    return (f'<div class="tgme_widget_message_grouped_wrap js-message_grouped_wrap" data-margin-w="2" '
            f'data-margin-h="2" style="width:800px;"><div class="tgme_widget_message_grouped js-message_grouped" '
            f'style="padding-top:75%"><div class="tgme_widget_message_grouped_layer js-message_grouped_layer">'
            f'{items}</div></div></div>')


def test_counts_with_suffixes() -> None:
    assert parse_count("950") == 950
    assert parse_count("1.2K") == 1200
    assert parse_count("3M") == 3_000_000
    assert parse_count(" 12.3K ") == 12_300
    assert parse_count("") is None and parse_count("many") is None


def test_text_time_views_links_and_channel_info() -> None:
    body = (text_html("⚡️ ГУР: знищено склад боєприпасів.\nДеталі: ")
            + '<a href="https://gur.gov.ua/content/news-1.html" target="_blank" rel="noopener">gur.gov.ua</a> '
            + '<a href="?q=%23ГУР">#ГУР</a> '
            + '<i class="emoji" style="background-image:url(\'//telegram.org/img/emoji/40/F09F87BA.png\')"><b>🇺🇦</b></i>'
            + text_html(" also www.example.org/report."))
    page = parse_page(render_page("DIUkraine", [WebMsg(5120, body, views="1.2K")]), "DIUkraine")
    assert page.is_channel and page.title == CHANNEL_TITLE and page.username == "DIUkraine"
    assert page.about == CHANNEL_ABOUT
    [p] = page.posts
    assert p.message_id == 5120 and p.channel == "DIUkraine" and p.source == "web"
    assert p.text.startswith("⚡️ ГУР: знищено склад боєприпасів.\nДеталі: gur.gov.ua #ГУР 🇺🇦")
    assert p.date == datetime(2024, 3, 1, 10, 15, tzinfo=UTC)
    assert p.views == 1200
    assert p.links == ["https://gur.gov.ua/content/news-1.html", "https://www.example.org/report"]
    assert p.media_kind is None and p.raw == {"data_post": "DIUkraine/5120", "edited": False}


def test_media_reply_forward_and_edited_marker() -> None:
    fwd = ('<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from '
           '<a class="tgme_widget_message_forwarded_from_name" href="https://t.me/GeneralStaffZSU/9876">'
           '<span dir="auto">Генштаб ЗСУ</span></a></div>')
    reply = ('<a class="tgme_widget_message_reply" href="https://t.me/DIUkraine/5100">'
             '<div class="tgme_widget_message_author accent_color">ГУР</div>'
             '<div class="tgme_widget_message_metatext">earlier post</div></a>')
    doc = ('<div class="tgme_widget_message_document_wrap"><a class="tgme_widget_message_document_icon" '
           'href="https://t.me/DIUkraine/5123"></a><div class="tgme_widget_message_document">'
           '<div class="tgme_widget_message_document_title accent_color" dir="auto">report.pdf</div>'
           '<div class="tgme_widget_message_document_extra" dir="auto">1.4 MB</div></div></div>')
    msgs = [
        WebMsg(5121, text_html("photo post"), extra_html=PHOTO.format(id=5121), edited=True),
        WebMsg(5122, text_html("forwarded"), extra_html=fwd + reply, views="3M"),
        WebMsg(5123, text_html("document"), extra_html=doc),
        WebMsg(5124, "", service=True),
    ]
    page = parse_page(render_page("DIUkraine", msgs), "DIUkraine")
    by_id = {p.message_id: p for p in page.posts}
    assert set(by_id) == {5121, 5122, 5123}  # the service message is skipped
    assert by_id[5121].media_kind == "photo" and by_id[5121].raw["edited"] is True
    f = by_id[5122]
    assert f.fwd_from == {"from_name": "Генштаб ЗСУ", "channel": "GeneralStaffZSU",
                          "message_id": 9876, "url": "https://t.me/GeneralStaffZSU/9876"}
    assert f.reply_to == 5100 and f.views == 3_000_000
    assert by_id[5123].media_kind == "document"
    assert by_id[5123].media == {"kind": "document", "file_name": "report.pdf", "size_text": "1.4 MB"}


def test_album_items_share_a_grouped_id() -> None:
    msg = WebMsg(5131, text_html("Album caption"), extra_html=album_html([5129, 5130, 5131]))
    page = parse_page(render_page("DIUkraine", [msg]), "DIUkraine")
    by_id = {p.message_id: p for p in page.posts}
    assert set(by_id) == {5129, 5130, 5131}
    assert {p.grouped_id for p in page.posts} == {5129}
    assert by_id[5131].text == "Album caption" and by_id[5131].media_kind == "album"
    assert by_id[5131].media == {"kind": "album", "items": [5129, 5130, 5131]}
    assert by_id[5130].media_kind == "photo" and by_id[5131].media["items"][-1] == 5131
    assert by_id[5129].text == ""


def test_untrusted_markup_is_text_not_html() -> None:
    body = text_html('<script>alert(1)</script> & "quotes"')
    [p] = parse_page(render_page("DIUkraine", [WebMsg(7, body)]), "DIUkraine").posts
    assert p.text == '<script>alert(1)</script> & "quotes"'


def test_pages_that_are_not_a_channel() -> None:
    assert not parse_page("", "x").is_channel
    assert not parse_page("<html><body><div class='tgme_page'>User</div></body></html>", "x").is_channel
    # a message without a time is unreadable and skipped, not guessed
    broken = render_page("DIUkraine", [WebMsg(1, "x")]).replace("<time", "<span").replace("</time>", "</span>")
    assert parse_page(broken, "DIUkraine").posts == []


def test_min_id_for_paging() -> None:
    base = datetime(2024, 3, 1, tzinfo=UTC)
    msgs = [WebMsg(i, text_html(f"p{i}"), date=base + timedelta(minutes=i)) for i in range(40, 60)]
    page = parse_page(render_page("DIUkraine", msgs), "DIUkraine")
    assert page.min_id == 40 and [p.message_id for p in page.posts] == list(range(40, 60))
