"""Precision and recall of the citation detector on labelled article/post cases built from real texts.

    python bench/cite_eval.py [--threshold 0.6] [--verbose] [--db /tmp/citewatch-cite-bench-100k.db]
                              [--dump FILE]

``bench/citation_eval.jsonl`` holds only *references and rules* (no third-party text): which real post
(CoonAndFriends rowid with its Google translation, or a kkruglik post URL with its RU/UA original),
which real news article (GDELT line number) hosts the citation, and how the citing paragraph is built
at run time. Texts are read from ../shared/data each run. Rules:

- ``link`` / ``embed``: host article + "The channel published footage (t.me/<chan>/<id>)." or an embed
  reference (what refs.py finds in page HTML);
- ``quote``: host article + an attributed paragraph quoting the first N sentences of the translation;
- ``paraphrase``: the same sentences reworded by rule (synonyms, dropped words, sentences reversed,
  clauses swapped) — a different translation of the same post;
- ``original``: a short Russian-language report (our boilerplate) quoting sentences of the original;
- ``alias``: the post is re-labelled as DIUkraine's; the host carries "Ukraine's military intelligence
  said on Telegram that …" + a loose paraphrase of one sentence;
- negatives: ``footer`` (the real Kyiv Post pages with only "JOIN US ON TELEGRAM"), ``same-topic``
  (a real article against the CoonAndFriends post sharing most words with it), ``real-telegram`` (real
  articles quoting *other* Telegram posts, against the most similar stored post), ``after`` (a quote
  case with the post dated after the article), ``mention-only`` (an attributed alias mention about
  something else).

With ``--db`` (a database built by ``bench/cite_speed.py``) the cases go through the whole pipeline
instead: each labelled post is stored among those synthetic posts (in a copy of the file) and the
article is checked with ``find_citations``, so candidate retrieval from FTS5 is measured too.

``--dump`` (without ``--db``) writes every post the detector scored for every case (case id, channel,
message id, score to 6 places, evidence) as JSON lines: two versions of the code must write the same
file to decide alike.

Every case also gets 10 distractor candidates (the following CoonAndFriends rows, dated within the
window), as the pipeline would give the detector. A case counts as predicted positive when the
labelled post scores at or above the threshold; distractors reaching it are reported separately.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import json
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.cite import text as tx
from bot.cite.detect import ArticleInput, CandidatePost, detect
from bot.config import DEFAULT_ALIASES
from bot.tglinks import TelegramRef

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data"
GDELT = DATA / "news_articles_en__hellaskella33__447-gdelt-war-articles_2022-2024.jsonl"
KKRUGLIK = DATA / "telegram_posts__kkruglik-hackathon__video-posts-202-ru-ua-channels_2022-03_2023-05.csv"
COON = DATA / "telegram_posts__egen97-CoonAndFriends__100-ru-milblogger-posts_ru+en_2022.csv"
CASES = HERE / "citation_eval.jsonl"

SYNONYMS = {
    "said": "stated", "says": "states", "killed": "eliminated", "attack": "strike", "attacks": "strikes",
    "troops": "soldiers", "soldiers": "troops", "destroyed": "wiped out", "city": "town",
    "began": "started", "started": "began", "large": "big", "big": "large", "many": "numerous",
    "also": "in addition", "now": "currently", "people": "persons", "armed": "military",
    "military": "armed", "help": "assistance", "country": "nation", "against": "versus",
    "about": "regarding", "president": "head of state", "weapons": "arms", "shelling": "bombardment",
    "residents": "inhabitants", "government": "authorities", "important": "significant",
    "however": "but", "according": "as reported", "continue": "keep", "received": "got",
}
# outlet boilerplate we wrote, used around the quoted sentences
ATTRIBUTIONS = [
    'The Telegram channel {chan} wrote: "{q}"',
    '{q} — according to a translation of a post on Telegram.',
    'In a post on Telegram, {chan} claimed that {q}',
    'Pro-Kremlin channel {chan} said on Telegram: "{q}"',
]
RU_WRAPPER = ("Сводка за день.\n\nКак сообщает Telegram-канал {chan}, «{q}».\n\n"
              "Другие подробности пока не сообщаются. Следите за обновлениями.")


def load() -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]], list[dict[str, Any]]]:
    with COON.open(encoding="utf-8") as f:
        coon = {r["rowid"]: r for r in csv.DictReader(f)}
    with KKRUGLIK.open(encoding="utf-8") as f:
        kk = {r["from"]: r for r in csv.DictReader(f) if r["message_text"]}
    with GDELT.open(encoding="utf-8") as f:
        gdelt = [json.loads(line) for line in f]
    return coon, kk, gdelt


def first_sentences(text: str, n: int, min_words: int = 6) -> str:
    sents = [s for s in tx.sentences(text) if len(s.split()) >= min_words]
    return " ".join(sents[:n]) if sents else text.strip()


def paraphrase(text: str) -> str:
    """Rule-based rewording: synonyms, every 7th word dropped, clauses swapped, sentences reversed."""
    out = []
    for sent in reversed(tx.sentences(text)):
        words = []
        for i, w in enumerate(sent.split()):
            core = w.strip(".,;:!?\"'«»").lower()
            if i % 7 == 6 and len(core) > 3:
                continue
            words.append(SYNONYMS.get(core, w))
        s = " ".join(words)
        if ", " in s:
            a, b = s.split(", ", 1)
            s = f"{b.rstrip('.')}, {a[0].lower() + a[1:]}."
        out.append(s)
    return " ".join(out)


def host_text(gdelt: list[dict[str, Any]], idx: int, insert: str, where: float = 0.5) -> str:
    paras = [p for p in gdelt[idx]["text"].split("\n\n") if p.strip()]
    cut = max(1, int(len(paras) * where))
    return "\n\n".join([*paras[:cut], insert, *paras[cut:]])


def coon_post(r: dict[str, str], when: datetime, channel: str | None = None) -> CandidatePost:
    return CandidatePost(channel or r["channel"], int(r["message_id"]), when, r["text_original"],
                         r["text_en_google"], post_id=int(r["rowid"]))


def most_similar(coon: dict[str, dict[str, str]], text: str) -> str:
    art = set(tx.content_stems(text))
    return max(coon, key=lambda k: (len(art & set(tx.content_stems(coon[k]["text_en_google"]))), k))


def build(case: dict[str, Any], coon: dict[str, dict[str, str]], kk: dict[str, dict[str, str]],
          gdelt: list[dict[str, Any]]) -> tuple[ArticleInput, CandidatePost]:
    kind = case["kind"]
    published = datetime(2022, 11, 1, 12, tzinfo=UTC)
    post_time = published - timedelta(hours=case.get("hours_before", 30))
    refs: list[TelegramRef] = []
    if kind == "original":
        r = kk[case["post_url"]]
        chan, mid = case["post_url"].rsplit("/", 2)[-2:]
        post = CandidatePost(chan, int(mid), post_time, r["message_text"], None, post_id=int(mid))
        q = first_sentences(r["message_text"], case.get("sentences", 2))
        return ArticleInput(RU_WRAPPER.format(chan=chan, q=q.rstrip(".")), published), post
    if kind in ("footer", "same-topic", "real-telegram"):
        text = gdelt[case["article_line"]]["text"]
        r = coon[case["post_rowid"]] if case.get("post_rowid") else coon[most_similar(coon, text)]
        url = "https://www.kyivpost.com/post/x" if kind == "footer" else "https://news.example/x"
        if kind == "footer":
            refs.append(TelegramRef("channel", "Kyivpost_official", None, "https://t.me/Kyivpost_official"))
        return ArticleInput(text, published, url=url, tg_refs=refs), coon_post(r, post_time)
    r = coon[case["post_rowid"]]
    channel = "DIUkraine" if kind in ("alias", "mention-only") else r["channel"]
    post = coon_post(r, post_time, channel)
    if kind == "after":
        post = coon_post(r, published + timedelta(hours=case.get("hours_after", 6)), channel)
    q = first_sentences(r["text_en_google"], case.get("sentences", 2))
    if kind in ("link", "embed"):
        insert = "The channel published footage of the scene."
        if kind == "link":
            insert += f" (t.me/{post.channel}/{post.message_id})"
        else:
            refs.append(TelegramRef("embed", post.channel, post.message_id, ""))
    elif kind in ("quote", "after"):
        insert = ATTRIBUTIONS[case.get("style", 0)].format(chan=post.channel, q=q)
    elif kind == "paraphrase":
        insert = ATTRIBUTIONS[case.get("style", 2)].format(chan=post.channel, q=paraphrase(q))
    elif kind == "alias":
        one = first_sentences(r["text_en_google"], 1)
        insert = f"Ukraine's military intelligence said on Telegram that {paraphrase(one)}"
    elif kind == "mention-only":
        insert = ("Ukraine's military intelligence said on Telegram that it had no comment on the "
                  "reports.")
    else:
        raise ValueError(f"unknown case kind {kind!r}")
    text = host_text(gdelt, case["host_line"], insert, case.get("where", 0.5))
    return ArticleInput(text, published, url="https://news.example/x", tg_refs=refs), post


async def through_pipeline(db_file: Path, threshold: float, verbose: bool) -> None:
    """Each case against a big database: the labelled post stored among the synthetic ones, the
    article checked by ``find_citations`` (FTS5 candidates + detector), as the service does."""
    from bot.cite.pipeline import find_citations
    from bot.config import load_settings
    from storage import posts, translations
    from storage.db import Database
    from storage.models import Post, Translation

    coon, kk, gdelt = load()
    cases = [json.loads(line) for line in CASES.open(encoding="utf-8") if line.strip()]
    with tempfile.TemporaryDirectory(dir=db_file.parent) as tmp:
        copy = Path(tmp) / "eval.db"
        shutil.copyfile(db_file, copy)
        settings = load_settings({"CITEWATCH_DB": str(copy), "TG_SESSION": f"{tmp}/s",
                                  "TG_BOT_SESSION": f"{tmp}/b"}, dotenv_path=None)
        db = await Database.open(copy)
        tally: Counter[str] = Counter()
        alarms = 0
        try:
            total = await db.fetchval("SELECT count(*) FROM posts")
            synthetic = await db.fetchval("SELECT max(id) FROM posts")
            for n, case in enumerate(cases):
                article, post = build(case, coon, kk, gdelt)
                if case["kind"] not in ("link", "embed"):  # cases share posts: one row per case
                    post = dataclasses.replace(post, message_id=9_000_000 + n)
                await posts.upsert_many(db, [Post(post.channel, post.message_id, post.date,
                                                  post.text)])
                stored = await posts.get(db, post.channel, post.message_id)
                assert stored is not None and stored.id is not None
                if post.translation:
                    await translations.upsert(db, Translation(stored.id, "en", "eval",
                                                              post.translation), post.text)
                found = await find_citations(db, article, settings)
                score = next((r.found.score for r in found if r.post.id == stored.id), 0.0)
                # posts stored for earlier cases are real citations too (cases share texts):
                # only the synthetic posts count as false alarms
                others = [r for r in found if (r.post.id or 0) <= synthetic
                          and r.found.score >= threshold]
                alarms += len(others)
                for r in others if verbose else ():
                    print(f"   other post {r.post.channel}/{r.post.message_id} {r.found.score:.3f}: "
                          + "; ".join(e["text"] for e in r.found.evidence))
                label, predicted = bool(case["label"]), score >= threshold
                outcome = ("tp" if predicted else "fn") if label else ("fp" if predicted else "tn")
                tally[outcome] += 1
                if verbose or outcome in ("fp", "fn"):
                    print(f"{outcome.upper()} {case['id']:<18} {score:.3f}")
        finally:
            await db.close()
    precision = tally["tp"] / (tally["tp"] + tally["fp"]) if tally["tp"] + tally["fp"] else 1.0
    recall = tally["tp"] / (tally["tp"] + tally["fn"]) if tally["tp"] + tally["fn"] else 1.0
    print(f"\nthrough the pipeline among {total:,} stored posts: {len(cases)} cases, "
          f"threshold {threshold}")
    print(f"precision {precision:.3f}  recall {recall:.3f}  "
          f"synthetic posts at/above threshold: {alarms}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threshold", type=float, default=0.6, help="CITATION_THRESHOLD (default 0.6)")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--db", type=Path, help="run through the pipeline against this bench database")
    ap.add_argument("--dump", type=Path, help="write every scored post (JSON lines) here, to check"
                    " that two versions of the code decide alike (not with --db)")
    a = ap.parse_args()
    if not GDELT.exists():
        sys.exit(f"shared data not found: {DATA}")
    if a.db:
        asyncio.run(through_pipeline(a.db, a.threshold, a.verbose))
        return
    coon, kk, gdelt = load()
    keys = sorted(coon)
    cases = [json.loads(line) for line in CASES.open(encoding="utf-8") if line.strip()]
    tally: dict[str, Counter[str]] = defaultdict(Counter)
    distractor_alarms = 0
    rows: list[str] = []
    for case in cases:
        article, post = build(case, coon, kk, gdelt)
        start = keys.index(case["post_rowid"]) if case.get("post_rowid") in coon else 0
        distractors = [coon_post(coon[k], post.date - timedelta(hours=3 + i))
                       for i, k in enumerate((keys * 2)[start + 1 : start + 11])
                       if int(coon[k]["rowid"]) != post.post_id]
        found = detect(article, [post, *distractors], aliases_by_channel=DEFAULT_ALIASES,
                       window_days=30)
        score = next((f.score for f in found if f.post_key == post.key), 0.0)
        rows += (json.dumps({"case": case["id"], "channel": f.post_key[0], "message_id": f.post_key[1],
                             "score": round(f.score, 6), "evidence": f.evidence},
                            ensure_ascii=False, sort_keys=True, default=str) for f in found)
        distractor_alarms += sum(1 for f in found if f.post_key != post.key and f.score >= a.threshold)
        predicted = score >= a.threshold
        label = bool(case["label"])
        outcome = ("tp" if predicted else "fn") if label else ("fp" if predicted else "tn")
        tally[case["kind"]][outcome] += 1
        tally["all"][outcome] += 1
        if a.verbose or outcome in ("fp", "fn"):
            why = "; ".join(e["text"] for f in found if f.post_key == post.key for e in f.evidence)
            print(f"{outcome.upper()} {case['id']:<18} {score:.3f}  {why}")
    if a.dump:
        a.dump.write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    print(f"\n{len(cases)} cases, threshold {a.threshold}")
    print(f"{'kind':<14}{'cases':>6}{'tp':>5}{'fp':>5}{'tn':>5}{'fn':>5}")
    for kind, c in sorted(tally.items(), key=lambda kv: (kv[0] == "all", kv[0])):
        print(f"{kind:<14}{sum(c.values()):>6}{c['tp']:>5}{c['fp']:>5}{c['tn']:>5}{c['fn']:>5}")
    t = tally["all"]
    precision = t["tp"] / (t["tp"] + t["fp"]) if t["tp"] + t["fp"] else 1.0
    recall = t["tp"] / (t["tp"] + t["fn"]) if t["tp"] + t["fn"] else 1.0
    print(f"\nprecision {precision:.3f}  recall {recall:.3f}  "
          f"distractor posts at/above threshold: {distractor_alarms}")


if __name__ == "__main__":
    main()
