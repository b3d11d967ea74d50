"""A tiny but real Argos Translate package for tests: a CTranslate2 Transformer whose weights are
written by hand so that it *copies* its input, and a SentencePiece model trained on a few lines.

Why a copy model: random weights would give output nothing can be asserted on; a model that
reproduces each source piece makes a stored translation checkable word for word (the glossary's
protected terms, sentence splitting and re-joining, batching across posts). How it copies: the model
dimension is split into three blocks — input token, position, copied token. Self-attention and
feed-forward outputs are zero; the decoder's cross-attention query picks the decoder position,
the keys the encoder positions (so step t looks at source piece t), and the values move the source
piece's one-hot into the copied-token block, which the output projection reads. The source gets
``</s>`` appended (``add_source_eos``), so the copy ends where the source does.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import ctranslate2
import numpy as np
import sentencepiece as spm
from ctranslate2.specs import common_spec, transformer_spec

#: The lines the SentencePiece model is trained on: the test texts must be covered by its alphabet.
TRAINING_LINES = [
    "ЗСУ збили ракету над Києвом. Повітряна тривога в Харкові!",
    "ГУР повідомляє про удар по складу. ППО працює над Запоріжжям.",
    "ВСУ отступили из-под Харькова. Рашисти обстреляли Киев.",
    "Привет, мир. Это тест? Да, это тест.",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 AFU HUR Kyiv",
    "ґєїіьщъыэё ҐЄЇІЬЩЪЫЭЁ , . ! ? : ; - « » ( ) \" ' №",
]
MAX_POSITIONS = 96


def train_sentencepiece(lines: list[str] = TRAINING_LINES, vocab_size: int = 160) -> bytes:
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines * 4), model_writer=out, vocab_size=vocab_size,
        character_coverage=1.0, model_type="bpe", hard_vocab_limit=False,
        minloglevel=2,
    )
    return out.getvalue()


def _ln(spec: common_spec.LayerNormSpec, d: int) -> None:
    spec.gamma = np.ones(d, dtype=np.float32)
    spec.beta = np.zeros(d, dtype=np.float32)


def _linear(spec: common_spec.LinearSpec, weight: np.ndarray) -> None:
    spec.weight = weight.astype(np.float32)
    spec.bias = np.zeros(weight.shape[0], dtype=np.float32)


def build_copy_model(out_dir: Path, sp_model: bytes) -> None:
    """Write the CTranslate2 copy model for ``sp_model``'s vocabulary into ``out_dir``."""
    sp = spm.SentencePieceProcessor(model_proto=sp_model)
    build_copy_model_for_vocab(out_dir, [sp.id_to_piece(i) for i in range(sp.get_piece_size())])


def build_copy_model_for_vocab(out_dir: Path, vocab: list[str]) -> None:
    """The copy model over any token list (``<unk>``, ``<s>``, ``</s>`` among them)."""
    v, p = len(vocab), MAX_POSITIONS
    d, tok, pos, cop = 2 * v + p, 0, v, v + p
    emb_a, pos_b, sharp = 10.0, 10.0, 200.0

    spec = transformer_spec.TransformerSpec.from_config(num_layers=1, num_heads=1)
    spec.config.add_source_eos = True
    for side in (spec.encoder, spec.decoder):
        side.scale_embeddings = False
        side.position_encodings.encodings = np.zeros((p, d), dtype=np.float32)
        side.position_encodings.encodings[np.arange(p), pos + np.arange(p)] = pos_b
        _ln(side.layer_norm, d)
    emb = np.zeros((v, d), dtype=np.float32)
    emb[np.arange(v), tok + np.arange(v)] = emb_a
    spec.encoder.embeddings[0].weight = emb
    spec.decoder.embeddings.weight = emb.copy()

    zero_ffn = 4
    for layer in (spec.encoder.layer[0], spec.decoder.layer[0]):
        _ln(layer.self_attention.layer_norm, d)
        _linear(layer.self_attention.linear[0], np.zeros((3 * d, d)))
        _linear(layer.self_attention.linear[1], np.zeros((d, d)))
        _ln(layer.ffn.layer_norm, d)
        _linear(layer.ffn.linear_0, np.zeros((zero_ffn, d)))
        _linear(layer.ffn.linear_1, np.zeros((d, zero_ffn)))

    cross = spec.decoder.layer[0].attention
    _ln(cross.layer_norm, d)
    query = np.zeros((d, d))
    query[pos + np.arange(p), pos + np.arange(p)] = sharp
    kv = np.zeros((2 * d, d))
    kv[pos + np.arange(p), pos + np.arange(p)] = 1.0  # keys: the source position
    kv[d + cop + np.arange(v), tok + np.arange(v)] = 1.0  # values: the source piece, moved
    _linear(cross.linear[0], query)
    _linear(cross.linear[1], kv)
    _linear(cross.linear[2], np.eye(d))

    proj = np.zeros((v, d))
    proj[np.arange(v), cop + np.arange(v)] = 1.0
    _linear(spec.decoder.projection, proj)

    spec.register_source_vocabulary(vocab)
    spec.register_target_vocabulary(vocab)
    spec.validate()
    out_dir.mkdir(parents=True, exist_ok=True)
    spec.save(str(out_dir))


def package_files(
    from_code: str = "uk", to_code: str = "en", version: str = "1.9", *,
    sp_model: bytes | None = None, tmp: Path,
) -> dict[str, bytes]:
    """The files of an Argos package (``name → bytes``, paths inside the package directory)."""
    sp_model = sp_model or train_sentencepiece()
    model_dir = tmp / f"ct2-{from_code}-{to_code}"
    if not model_dir.exists():
        build_copy_model(model_dir, sp_model)
    files = {f"model/{f.name}": f.read_bytes() for f in sorted(model_dir.iterdir())}
    files["sentencepiece.model"] = sp_model
    files["metadata.json"] = json.dumps({
        "package_version": version, "argos_version": "1.9.0", "from_code": from_code,
        "from_name": from_code, "to_code": to_code, "to_name": to_code,
    }).encode()
    files["README.md"] = b"test copy model\n"
    return files


def pack(files: dict[str, bytes], top: str = "translate-uk_en-1_9") -> bytes:
    """Zip ``files`` under one top folder, as argospm packages are built."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(f"{top}/{name}" if top else name, data)
    return out.getvalue()


def reference_translate(package_dir: Path, sentences: list[str]) -> list[str]:
    """What the raw libraries make of ``sentences`` (no citewatch code): the tests' yardstick."""
    sp = spm.SentencePieceProcessor(model_file=str(package_dir / "sentencepiece.model"))
    tr = ctranslate2.Translator(str(package_dir / "model"), device="cpu")
    res = tr.translate_batch([sp.encode(s, out_type=str) for s in sentences], beam_size=1)
    return [sp.decode_pieces(r.hypotheses[0]).strip() for r in res]


def index_entry(base_url: str, from_code: str = "uk", to_code: str = "en", version: str = "1.9",
                path: str | None = None) -> dict[str, object]:
    """One index entry in the argospm format (../shared/reference/argospm-index.json)."""
    name = f"translate-{from_code}_{to_code}-{version.replace('.', '_')}.argosmodel"
    return {
        "package_version": version, "argos_version": "1.9.0", "from_code": from_code,
        "from_name": from_code, "to_code": to_code, "to_name": to_code,
        "links": [base_url + (path or "/v1/" + name), "ipfs://QmNotFetched"],
        "code": f"translate-{from_code}_{to_code}",
    }


def ranged(body: bytes):  # type: ignore[no-untyped-def]
    """An HTTP handler serving ``body`` with Range support (206 + Content-Range), as CDNs do."""
    from tests.httpserver import Request, Response

    def handle(req: Request) -> Response:
        rng = req.headers.get("range", "")
        if rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(body):
                return Response(416, b"", {"Content-Range": f"bytes */{len(body)}"})
            return Response(206, body[start:], {
                "Content-Type": "application/zip",
                "Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}",
            })
        return Response(200, body, {"Content-Type": "application/zip"})

    return handle
