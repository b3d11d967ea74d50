"""One installed Argos package, loaded into CTranslate2 once and kept: texts in, translations out.

Speed comes from three things (bench/translate_bench.py measures them): every sentence of every
text in a call goes to the model as one batch (CTranslate2 sorts and pads them itself), weights run
as int8 on the CPU, and the model uses TRANSLATE_THREADS cores. ``translate`` is blocking (C++
releases the GIL): call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import ctranslate2
import sentencepiece as spm

from bot.translate.bpe import BPETokenizer
from bot.translate.packages import PackageInfo
from bot.translate.sentences import join_sentences, split_sentences

#: Beam 2 keeps nearly all of beam 4's quality on news text at about half the time.
BEAM_SIZE = 2
#: Sentences per model call, grouped by length.
MAX_BATCH = 32


class SentencePieceTokenizer:
    def __init__(self, path: Path) -> None:
        self._sp = spm.SentencePieceProcessor(model_file=str(path))

    def encode(self, sentence: str) -> list[str]:
        return self._sp.encode(sentence, out_type=str)

    def decode(self, tokens: list[str]) -> str:
        return self._sp.decode_pieces(tokens).replace("▁", " ").strip()


class OfflineModel:
    """``OfflineModel(package, threads).translate(texts) -> list[str]`` (blocking)."""

    def __init__(self, package: PackageInfo, threads: int) -> None:
        self.package = package
        self.tokenizer: SentencePieceTokenizer | BPETokenizer = (
            SentencePieceTokenizer(package.path / "sentencepiece.model")
            if package.tokenizer == "sentencepiece"
            else BPETokenizer(package.path / "bpe.model")
        )
        self._model = ctranslate2.Translator(
            str(package.path / "model"), device="cpu", compute_type="int8",
            inter_threads=1, intra_threads=max(1, threads),
        )
        self._lock = threading.Lock()  # one batch at a time uses all the threads
        #: a translation is rarely twice its source; a model stuck in a loop stops at this length
        self.max_decoding_ratio = 2.0
        self.max_decoding_extra = 16

    def translate(self, texts: list[str]) -> list[str]:
        """Translate whole texts: split into sentences, one batch for all, re-joined per text."""
        layouts = [split_sentences(t) for t in texts]
        flat = [s for sentences, _ in layouts for s in sentences]
        out = iter(self.translate_sentences(flat))
        return [join_sentences([next(out) for _ in sentences], joins) for sentences, joins in layouts]

    def translate_sentences(self, sentences: list[str]) -> list[str]:
        """Sentences sorted by length and sent in groups of MAX_BATCH: little padding, and each
        group's decoding cap follows its own longest sentence, not the whole call's."""
        if not sentences:
            return []
        tokens = [self.tokenizer.encode(s) for s in sentences]
        order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
        out: list[str] = [""] * len(tokens)
        prefix = self.package.target_prefix
        for lo in range(0, len(order), MAX_BATCH):
            group = order[lo:lo + MAX_BATCH]
            batch = [tokens[i] for i in group]
            longest = max(len(t) for t in batch)
            with self._lock:
                results = self._model.translate_batch(
                    batch,
                    target_prefix=[[prefix]] * len(batch) if prefix else None,
                    beam_size=BEAM_SIZE,
                    length_penalty=0.2,
                    replace_unknowns=True,
                    max_decoding_length=min(512, int(self.max_decoding_ratio * longest)
                                            + self.max_decoding_extra),
                )
            for i, r in zip(group, results, strict=True):
                hyp = r.hypotheses[0]
                if prefix and hyp and hyp[0] == prefix:
                    hyp = hyp[1:]
                out[i] = self.tokenizer.decode(hyp)
        return out
