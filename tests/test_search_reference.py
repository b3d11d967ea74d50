"""Speed is not bought with missing results: for every kind of query of the search benchmark, the
top 20 of ``storage.search`` against a brute-force search in plain Python (bench/search_reference.py)
over the same real-sentence posts, with the caps made small so that every shortcut is taken here:
rare and common parts, newest-first walks in many slices, capped prefixes, date windows, channels."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest

from bench import search_reference as ref
from bench.search_bench import CHANNELS, build_db, make_queries
from storage import maintenance, search
from storage.db import Database
from storage.models import from_iso
from tests.conftest import shared_data

N = 3000


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ref.RefPost]]:
    shared_data("news_articles_en__hellaskella33__447-gdelt-war-articles_2022-2024.jsonl")
    path = tmp_path_factory.mktemp("ref") / "sample.db"
    build_db(path, N, optimize=False)
    return path, ref.load(path)


@pytest.mark.timeout(600)
async def test_top_20_of_every_query_kind_equals_brute_force(
        sample: tuple[Path, list[ref.RefPost]], monkeypatch: pytest.MonkeyPatch) -> None:
    path, posts = sample
    # small caps: at 3,000 posts the paths a 3M archive takes are taken here
    monkeypatch.setattr(search, "RARE_CAP", 40)
    monkeypatch.setattr(search, "WALK_CAP", 8)
    monkeypatch.setattr(search, "WALK_ROUNDS", 40)
    monkeypatch.setattr(maintenance, "TERM_MIN_DOCS", 3)
    db = await Database.open(path)
    try:
        await maintenance.tidy(db)  # the term snapshot capped prefixes are taken from
        dates = sorted(p.date for p in posts)
        rnd = random.Random(11)
        queries = []
        for i, spec in enumerate(make_queries(300, seed=5)):
            kw: dict[str, object] = {}
            if i % 4 == 1:
                kw["channel"] = rnd.choice(CHANNELS[:4])
            elif i % 4 == 2:  # a window inside the sample's span
                since = from_iso(rnd.choice(dates))
                assert since is not None
                kw["since"] = since
                if rnd.random() < 0.6:
                    kw["until"] = since + timedelta(hours=rnd.choice([2, 12, 24]))
            queries.append((str(spec["kind"]), str(spec["text"]), kw))
        paths = await ref.compare(db, posts, queries)
        # every kind of the benchmark ran, and every path was taken
        assert {k for k, _, _ in queries} >= {
            "common_ru", "rare_ru", "common_en", "rare_en", "two_words", "phrase_ru", "phrase_en",
            "prefix", "analyst", "inflected"}
        assert min(paths.values()) >= 5, paths
    finally:
        await db.close()
