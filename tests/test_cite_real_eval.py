"""The realistic citation harness (bench/cite_real_eval.py): loading, the database it builds and
its counting, on a few dev cases through the real pipeline."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import shared_data

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "bench" / "citations_real" / "dev.jsonl"


def _harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cite_real_eval", ROOT / "bench" / "cite_real_eval.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("cite_real_eval", module)
    spec.loader.exec_module(module)
    return module


ev = _harness()


def _data() -> object:
    shared_data(ev.KKRUGLIK)
    return ev.SharedData.load()


def _case(cases: list[dict], case_id: str) -> dict:
    return copy.deepcopy(next(c for c in cases if c["id"] == case_id))


def test_dev_set_is_varied_and_every_post_resolves() -> None:
    cases = ev.load_cases(DEV)
    kinds = {c["kind"] for c in cases}
    assert len(cases) >= 75 and kinds == set(ev.KINDS)
    assert sum(c["kind"].startswith("neg-") for c in cases) >= 20
    posts = ev.split_posts(cases, _data())
    for c in cases:  # what a case expects is one of the posts it lists
        keys = {ev.resolve_post(p, _data()).key for p in c["posts"]}
        assert ev.expected(c) <= keys, c["id"]
    assert {p.channel for p in posts.values()} >= {"DIUkraine", "GeneralStaffZSU", "DeepStateUA",
                                                    "operativnoZSU", "mod_russia", "rybar",
                                                    "SolovievLive", "RKadyrov_95", "swodki"}


def test_a_bad_line_names_its_line(tmp_path: Path) -> None:
    good = DEV.read_text(encoding="utf-8").splitlines()[0]
    bad = json.loads(good)
    bad["kind"] = "uk-typo"
    path = tmp_path / "dev.jsonl"
    path.write_text(good + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(ev.CaseError, match=r"dev.jsonl:2: unknown kind 'uk-typo'"):
        ev.load_cases(path)


def test_counting() -> None:
    case = {"id": "x", "kind": "uk-mt"}
    want = {("a", 1), ("a", 2)}
    found = [(("a", 1), 0.9, []), (("a", 2), 0.3, []), (("b", 7), 0.7, []), (("c", 1), 0.1, [])]
    o = ev.score_case(case, want, found, {("b", 7)}, 0.6)
    assert o.tp == [("a", 1)] and [k for k, _, _ in o.fn] == [("a", 2)]
    assert [k for k, _, _ in o.fp] == [("b", 7)] and o.retrieved == 2
    missing = ev.score_case(case, {("z", 1)}, found, set(), 0.6)  # both alerts are false here
    assert missing.retrieved == 0 and len(missing.fn) == 1 and len(missing.fp) == 2
    t = ev.tally([o, missing])
    assert (t["uk-mt"].tp, t["uk-mt"].fp, t["uk-mt"].fn, t["uk-mt"].retrieved) == (1, 3, 2, 2)
    assert t["uk-mt"].precision == 0.25 and t["all"].recall == pytest.approx(1 / 3)


async def test_dev_cases_through_the_pipeline(tmp_path: Path) -> None:
    """A linked article is certain (TP); the same link in a negative counts as a false alert; an
    unlinked case is counted consistently with what the pipeline returned."""
    data = _data()
    cases = ev.load_cases(DEV)
    linked = _case(cases, "uk-mt-01")
    linked["article"]["tg_refs"] = [{"kind": "link", "channel": "DIUkraine", "message_id": 1908,
                                     "url": "https://t.me/DIUkraine/1908"}]
    as_negative = copy.deepcopy(linked)
    as_negative.update(id="neg-linked", kind="neg-generic", expect=[])
    plain = _case(cases, "ru-mt-03")
    rows: list[dict[str, Any]] = []
    outcomes, threshold = await ev.evaluate([linked, as_negative, plain], data, tmp_path,
                                            dump=rows)
    assert threshold == ev._settings(str(tmp_path), tmp_path / "x.db").citation_threshold
    first, second, third = outcomes
    assert first.tp == [("diukraine", 1908)] and first.retrieved == 1
    assert [k for k, _, _ in second.fp] == [("diukraine", 1908)] and not second.tp
    assert len(third.tp) + len(third.fn) == 1 and third.expected == 1
    assert (tmp_path / "eval.db").is_file()
    # --dump: every scored candidate with its score and evidence, case by case
    linked_rows = [r for r in rows if r["case"] == "uk-mt-01"]
    assert linked_rows[0]["channel"] == "diukraine" and linked_rows[0]["message_id"] == 1908
    assert linked_rows[0]["score"] == 1.0
    assert any(e["kind"] == "link" for e in linked_rows[0]["evidence"])
    assert {r["case"] for r in rows} <= {"uk-mt-01", "neg-linked", "ru-mt-03"}


async def test_a_missing_split_is_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _data()
    (tmp_path / "dev.jsonl").write_text(DEV.read_text(encoding="utf-8").splitlines()[0] + "\n",
                                        encoding="utf-8")
    dump = tmp_path / "dump.jsonl"
    assert await ev.run(["holdout", "dev"], False, None, cases_dir=tmp_path, dump=dump) == 0
    out = capsys.readouterr().out
    assert "holdout.jsonl not found, skipped" in out and "== dev: 1 cases" in out
    first = json.loads(DEV.read_text(encoding="utf-8").splitlines()[0])
    rows = [json.loads(line) for line in dump.read_text(encoding="utf-8").splitlines()]
    assert rows and all(r["case"] == first["id"] and set(r) == {"case", "channel", "message_id", "score",
                                                        "evidence"} for r in rows)
