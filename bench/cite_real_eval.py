"""Citation detection on realistic, hand-written cases: precision, recall and retrieval per kind.

    python bench/cite_real_eval.py [--split dev|holdout|both] [--verbose] [--threshold T] [--dump FILE]

Cases live in ``bench/citations_real/{dev,holdout}.jsonl`` (format: docs/citations-real.md; the
held-out file is written by someone else and never tuned on). Each
split gets one real SQLite database holding the split's posts plus every real post of
../shared/data as background (kkruglik originals, CoonAndFriends originals with their Google
translations), translations stored as given and channels with their titles. Every article then goes
through the real pipeline (``bot.cite.pipeline.find_citations``: FTS retrieval + detector) at the
default CITATION_THRESHOLD. ``--dump`` writes every scored candidate of every case (case id,
channel, message id, score to 6 places, its evidence) as JSON lines: two versions of the code must
write the same file to decide alike. Counting: an alert (score ≥ threshold) on an expected post is a TP, on
any other post an FP; an expected post without an alert is an FN. "retrieved" says whether the
expected post was among the detector's candidates at all (retrieval, not scoring, lost it).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.cite import pipeline
from bot.cite.detect import ArticleInput
from bot.config import Settings, load_settings
from storage import channels, posts, translations
from storage.candidates import candidate_texts
from storage.db import Database
from storage.models import Post, Translation

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "citations_real"
DATA = HERE.parents[1] / "shared" / "data"
KKRUGLIK = "telegram_posts__kkruglik-hackathon__video-posts-202-ru-ua-channels_2022-03_2023-05.csv"
COON = "telegram_posts__egen97-CoonAndFriends__100-ru-milblogger-posts_ru+en_2022.csv"
KINDS = ("uk-mt", "uk-none", "ru-mt", "ru-none", "neg-other-source", "neg-unstored", "neg-before",
         "neg-relay", "neg-generic")
PostKey = tuple[str, int]


class CaseError(ValueError):
    """A case file that cannot be used (one line saying where and why)."""


# ---------------------------------------------------------------- loading


@dataclass(frozen=True)
class SharedData:
    """The real posts of ../shared/data, by the keys cases use in ``ref``."""

    kkruglik: dict[str, dict[str, str]]  # t.me URL -> row
    coon: dict[str, dict[str, str]]  # rowid -> row

    @classmethod
    def load(cls, folder: Path = DATA) -> SharedData:
        with (folder / KKRUGLIK).open(encoding="utf-8") as f:
            kk = {r["from"]: r for r in csv.DictReader(f)}
        with (folder / COON).open(encoding="utf-8") as f:
            coon = {r["rowid"]: r for r in csv.DictReader(f)}
        return cls(kk, coon)


@dataclass(frozen=True)
class EvalPost:
    """A post as stored for the evaluation."""

    channel: str
    message_id: int
    date: datetime
    text: str
    translation: str | None
    lang: str | None = None
    title: str | None = None
    provider: str = "eval"

    @property
    def key(self) -> PostKey:
        return (self.channel.lower(), self.message_id)


def load_cases(path: Path) -> list[dict[str, Any]]:
    """The cases of one split file, checked enough that a typo fails loudly with its line."""
    cases = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CaseError(f"{path.name}:{n}: not JSON ({exc.msg})") from None
        for name in ("id", "kind", "posts", "article", "expect"):
            if name not in case:
                raise CaseError(f"{path.name}:{n}: case has no {name!r}")
        if case["kind"] not in KINDS:
            raise CaseError(f"{path.name}:{n}: unknown kind {case['kind']!r}")
        if case["kind"].startswith("neg-") and case["expect"]:
            raise CaseError(f"{path.name}:{n}: a negative case expects no post")
        for name in ("text", "published"):
            if not case["article"].get(name):
                raise CaseError(f"{path.name}:{n}: article has no {name!r}")
        cases.append(case)
    ids = Counter(c["id"] for c in cases)
    if dup := [i for i, k in ids.items() if k > 1]:
        raise CaseError(f"{path.name}: duplicate case ids {dup}")
    return cases


def _when(value: str) -> datetime:
    """An ISO time or date from a case or the shared data, as aware UTC."""
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _kk_post(row: dict[str, str], translation: str | None = None, lang: str | None = None,
             title: str | None = None) -> EvalPost:
    channel, mid = row["from"].rstrip("/").rsplit("/", 2)[-2:]
    return EvalPost(channel, int(mid), _when(row["message_date"]), row["message_text"], translation,
                    lang, title)


def _coon_post(row: dict[str, str], translation: str | None, title: str | None = None) -> EvalPost:
    return EvalPost(row["channel"], int(row["message_id"]), _when(row["date"]), row["text_original"],
                    translation, "ru", title, "google")


def resolve_post(spec: dict[str, Any], data: SharedData) -> EvalPost:
    """A case's post: its own text, or the real post its ``ref`` names (with the case's translation;
    for CoonAndFriends ``"google"`` means the data's own Google translation)."""
    ref = spec.get("ref")
    translation = spec.get("translation")
    if not ref:
        return EvalPost(spec["channel"], int(spec["message_id"]), _when(spec["date"]), spec["text"],
                        translation, spec.get("lang"), spec.get("title"))
    source, _, key = ref.partition(":")
    if source == "kkruglik":
        row = data.kkruglik.get(key)
        if row is None:
            raise CaseError(f"ref {ref!r}: no such post in {KKRUGLIK}")
        return _kk_post(row, translation, spec.get("lang"), spec.get("title"))
    if source == "coon":
        row = data.coon.get(key)
        if row is None:
            raise CaseError(f"ref {ref!r}: no such row in {COON}")
        return _coon_post(row, row["text_en_google"] if translation == "google" else translation,
                          spec.get("title"))
    raise CaseError(f"ref {ref!r}: unknown source {source!r} (kkruglik: or coon:)")


def background(data: SharedData) -> list[EvalPost]:
    """Every real post with text: kkruglik originals (no translation), CoonAndFriends originals
    with their Google translations."""
    out = [_kk_post(r) for r in data.kkruglik.values() if r["message_text"].strip()]
    out += [_coon_post(r, r["text_en_google"] or None) for r in data.coon.values()]
    return out


def split_posts(cases: Sequence[dict[str, Any]], data: SharedData) -> dict[PostKey, EvalPost]:
    """The posts a split stores on top of the background; one post named twice must agree."""
    out: dict[PostKey, EvalPost] = {}
    for case in cases:
        for spec in case["posts"]:
            p = resolve_post(spec, data)
            old = out.get(p.key)
            if old is not None and (old.text, old.translation) != (p.text, p.translation):
                raise CaseError(f"{case['id']}: post {p.channel}/{p.message_id} differs from an "
                                "earlier case's copy")
            out[p.key] = p
    return out


def expected(case: dict[str, Any]) -> set[PostKey]:
    return {(str(ch).lower(), int(mid)) for ch, mid in case["expect"]}


def article_of(case: dict[str, Any]) -> ArticleInput:
    a = case["article"]
    return ArticleInput(text=a["text"], published=_when(a["published"]), url=a.get("url", ""),
                        title=a.get("title", ""), tg_refs=list(a.get("tg_refs", ())))


# ---------------------------------------------------------------- the database


async def build_db(path: Path, split: Iterable[EvalPost], data: SharedData) -> Database:
    """A real citewatch database: background posts, then the split's (a split's copy wins), their
    translations, and channel titles."""
    chosen: dict[PostKey, EvalPost] = {p.key: p for p in background(data)}
    chosen.update({p.key: p for p in split})
    db = await Database.open(path)
    try:
        await _fill(db, list(chosen.values()))
    except BaseException:
        await db.close()
        raise
    return db


async def _fill(db: Database, items: list[EvalPost]) -> None:
    await posts.upsert_many(db, [Post(p.channel, p.message_id, p.date, p.text, lang=p.lang)
                                 for p in items])
    titles = {p.channel: p.title for p in items if p.title}
    for n, (channel, title) in enumerate(sorted(titles.items()), 1):
        # a made-up Telegram id per channel (the column is unique)
        await channels.set_resolved(db, channel, tg_id=-n, access_hash=None, title=title)
    rows = await db.fetchall(
        "SELECT p.id, c.username, p.message_id FROM posts p JOIN channels c ON c.id = p.channel_id")
    ids = {(r[1].lower(), r[2]): r[0] for r in rows}
    pairs = [(Translation(ids[p.key], "en", p.provider, p.translation, source_lang=p.lang), p.text)
             for p in items if p.translation]
    async with db.transaction() as conn:
        await translations.upsert_in(conn, pairs)


# ---------------------------------------------------------------- scoring


@dataclass
class Outcome:
    """One case's verdicts: which expected posts alerted, which others did, and what was retrieved."""

    case_id: str
    kind: str
    tp: list[PostKey] = field(default_factory=list)
    fp: list[tuple[PostKey, float, list[dict[str, Any]]]] = field(default_factory=list)
    fn: list[tuple[PostKey, float, list[dict[str, Any]]]] = field(default_factory=list)
    retrieved: int = 0
    expected: int = 0


def score_case(case: dict[str, Any], want: set[PostKey],
               found: Sequence[tuple[PostKey, float, list[dict[str, Any]]]],
               candidate_keys: set[PostKey], threshold: float) -> Outcome:
    """Count one case: ``found`` is (post key, score, evidence) for every post the detector named."""
    out = Outcome(case["id"], case["kind"], expected=len(want))
    by_key = {k: (s, ev) for k, s, ev in found}
    for key, score, ev in found:
        if score >= threshold and key not in want:
            out.fp.append((key, score, ev))
    for key in sorted(want):
        score, ev = by_key.get(key, (0.0, []))
        if score >= threshold:
            out.tp.append(key)
        else:
            out.fn.append((key, score, ev))
        out.retrieved += key in candidate_keys or key in by_key
    return out


@dataclass
class Tally:
    cases: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    retrieved: int = 0
    expected: int = 0

    def add(self, o: Outcome) -> None:
        self.cases += 1
        self.tp += len(o.tp)
        self.fp += len(o.fp)
        self.fn += len(o.fn)
        self.retrieved += o.retrieved
        self.expected += o.expected

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


def tally(outcomes: Iterable[Outcome]) -> dict[str, Tally]:
    """Per kind, then "positives" (the four citing kinds), "negatives" and "all"."""
    out: dict[str, Tally] = {}
    for o in outcomes:
        group = "negatives" if o.kind.startswith("neg-") else "positives"
        for name in (o.kind, group, "all"):
            out.setdefault(name, Tally()).add(o)
    order = [*KINDS, "positives", "negatives", "all"]
    return {k: out[k] for k in order if k in out}


def table(tallies: dict[str, Tally]) -> str:
    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    lines = [f"{'kind':<18}{'cases':>6}{'TP':>5}{'FP':>5}{'FN':>5}{'precision':>11}{'recall':>8}"
             f"{'retrieved':>11}"]
    for kind, t in tallies.items():
        got = f"{t.retrieved}/{t.expected}" if t.expected else "-"
        lines.append(f"{kind:<18}{t.cases:>6}{t.tp:>5}{t.fp:>5}{t.fn:>5}{f(t.precision):>11}"
                     f"{f(t.recall):>8}{got:>11}")
    return "\n".join(lines)


# ---------------------------------------------------------------- running


async def candidate_keys(db: Database, article: ArticleInput, settings: Settings) -> set[PostKey]:
    """The posts retrieval hands the detector for this article (the pipeline's own query)."""
    terms, refs, since, until = pipeline._query(article, settings)
    got = await candidate_texts(db, terms, refs, since, until, pipeline.CANDIDATE_LIMIT)
    return {(p.channel.lower(), p.message_id) for p in got}


def _settings(tmp: str, db_path: Path) -> Settings:
    return load_settings({"CITEWATCH_DB": str(db_path), "TG_SESSION": f"{tmp}/s",
                          "TG_BOT_SESSION": f"{tmp}/b"}, dotenv_path=None)


async def evaluate(cases: Sequence[dict[str, Any]], data: SharedData, workdir: Path,
                   threshold: float | None = None, dump: list[dict[str, Any]] | None = None,
                   ) -> tuple[list[Outcome], float]:
    """Build the split's database in ``workdir`` and run every case through the pipeline;
    ``dump``, when given, gets every scored candidate (``dump_rows``)."""
    db_path = workdir / "eval.db"
    settings = _settings(str(workdir), db_path)
    limit = settings.citation_threshold if threshold is None else threshold
    db = await build_db(db_path, split_posts(cases, data).values(), data)
    outcomes = []
    try:
        for case in cases:
            article = article_of(case)
            results = await pipeline.find_citations(db, article, settings)
            found = [((r.post.channel.lower(), r.post.message_id), r.found.score, r.found.evidence)
                     for r in results]
            cands = await candidate_keys(db, article, settings)
            if dump is not None:
                dump += dump_rows(case["id"], found)
            outcomes.append(score_case(case, expected(case), found, cands, limit))
    finally:
        await db.close()
    return outcomes, limit


def dump_rows(case_id: str, found: Sequence[tuple[PostKey, float, list[dict[str, Any]]]]
              ) -> list[dict[str, Any]]:
    """One row per scored candidate, in the detector's order: what an identity check compares."""
    return [{"case": case_id, "channel": key[0], "message_id": key[1], "score": round(score, 6),
             "evidence": ev} for key, score, ev in found]


def _evidence(ev: Sequence[dict[str, Any]]) -> str:
    return "; ".join(str(e.get("text", "")) for e in ev) or "no evidence"


def report(name: str, outcomes: Sequence[Outcome], threshold: float, verbose: bool) -> str:
    lines = [f"== {name}: {len(outcomes)} cases, threshold {threshold}"]
    if verbose:
        for o in outcomes:
            for key, score, ev in o.fn:
                lines.append(f"  MISS  {o.case_id:<22} {key[0]}/{key[1]} {score:.3f}"
                             f"{'' if o.retrieved else ' (not retrieved)'}: {_evidence(ev)}")
            for key, score, ev in o.fp:
                lines.append(f"  FALSE {o.case_id:<22} {key[0]}/{key[1]} {score:.3f}: {_evidence(ev)}")
    lines.append(table(tally(outcomes)))
    return "\n".join(lines)


async def run(splits: Sequence[str], verbose: bool, threshold: float | None,
              cases_dir: Path = CASES_DIR, dump: Path | None = None) -> int:
    data = SharedData.load()
    rows: list[dict[str, Any]] = []
    for name in splits:
        path = cases_dir / f"{name}.jsonl"
        if not path.exists():
            print(f"== {name}: {path} not found, skipped")
            continue
        cases = load_cases(path)
        with tempfile.TemporaryDirectory(prefix=f"cite-real-{name}-") as tmp:
            outcomes, limit = await evaluate(cases, data, Path(tmp), threshold,
                                             rows if dump else None)
        print(report(name, outcomes, limit, verbose))
        print()
    if dump:
        dump.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True, default=str) + "\n"
                                for r in rows), encoding="utf-8")
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=("dev", "holdout", "both"), default="dev")
    ap.add_argument("--verbose", action="store_true", help="list misses and false alerts")
    ap.add_argument("--threshold", type=float, help="default: CITATION_THRESHOLD's default")
    ap.add_argument("--dump", type=Path, help="write every scored candidate (JSON lines) here, to"
                    " check that two versions of the code decide alike")
    a = ap.parse_args()
    if not (DATA / KKRUGLIK).exists():
        sys.exit(f"shared data not found: {DATA}")
    splits = ("dev", "holdout") if a.split == "both" else (a.split,)
    try:
        sys.exit(asyncio.run(run(splits, a.verbose, a.threshold, dump=a.dump)))
    except CaseError as exc:
        sys.exit(f"bad case file: {exc}")


if __name__ == "__main__":
    main()
