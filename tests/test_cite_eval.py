"""The labelled evaluation set (bench/citation_eval.jsonl) as a regression guard on real texts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import shared_data

ROOT = Path(__file__).resolve().parents[1]


def test_eval_set_is_large_and_varied() -> None:
    cases = [json.loads(x) for x in (ROOT / "bench" / "citation_eval.jsonl").read_text().splitlines()]
    assert len(cases) >= 60
    assert {c["kind"] for c in cases} >= {"link", "embed", "quote", "paraphrase", "original", "alias",
                                         "footer", "same-topic", "after", "real-telegram"}
    assert sum(c["label"] for c in cases) >= 25 and sum(not c["label"] for c in cases) >= 25
    assert len({c["id"] for c in cases}) == len(cases)


def test_precision_and_recall_on_real_texts() -> None:
    shared_data("news_articles_en__hellaskella33__447-gdelt-war-articles_2022-2024.jsonl")
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "cite_eval.py")], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    last = out.strip().splitlines()[-1].split()
    precision, recall = float(last[1]), float(last[3])
    assert precision >= 0.95 and recall >= 0.9, out
    assert last[-1] == "0", out  # no distractor post reaches the threshold
