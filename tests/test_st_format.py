"""sentence-transformers output: every encoder stage from an embedding teacher loads with
``SentenceTransformer(dir)`` and gives monoglot's own embeddings; ``monoglot embed`` writes them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SWAHILI, make_tiny

from monoglot.artifacts import write_meta
from monoglot.embeddings import encode_dir
from monoglot.prompts import E5_PROMPTS
from monoglot.errors import BadInput

ROOT = Path(__file__).resolve().parents[1]
TEXTS = SWAHILI + ["Mvua kubwa ilinyesha jana usiku.", "Rais alihutubia taifa kuhusu uchumi na afya."]


def _assert_st_equals_monoglot(model_dir, texts=TEXTS):
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_dir), device="cpu")
    assert st.prompts["query"] == "query: " and st.prompts["passage"] == "passage: "
    for kind in ("query", "passage"):
        ours = encode_dir(model_dir, texts, kind=kind)
        theirs = st.encode(texts, prompt_name=kind, batch_size=3)
        assert theirs.shape == ours.shape
        np.testing.assert_allclose(theirs, ours, atol=1e-5, rtol=0)
    assert not np.allclose(st.encode(texts[:2], prompt_name="query"), st.encode(texts[:2]), atol=1e-3)  # the prompt matters


@pytest.fixture
def tiny_e5_like(tmp_path):
    """A tiny random XLM-R recorded as an embedding teacher with e5's prompts."""
    d = make_tiny(tmp_path / "tiny-teacher", "xlmr", hidden=32, heads=2, ffn=64, layers=2)
    write_meta(d, "teacher", "tiny", {"name": "tiny"}, prompts=dict(E5_PROMPTS))
    return d


def test_teacher_and_trimmed_tiny_random_xlmr_load_in_sentence_transformers(tmp_path, tiny_e5_like):
    from monoglot.vocab import trim_to_corpus

    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(TEXTS) + "\n")
    trimmed = trim_to_corpus(tiny_e5_like, [corpus], tmp_path / "trimmed", progress=False)
    for d in (tiny_e5_like, trimmed):
        assert json.loads((d / "1_Pooling" / "config.json").read_text())["pooling_mode_mean_tokens"] is True
        assert [m["path"] for m in json.loads((d / "modules.json").read_text())] == ["", "1_Pooling", "2_Normalize"]
        assert json.loads((d / "sentence_bert_config.json").read_text())["max_seq_length"] == 128  # 130 positions - 2
        _assert_st_equals_monoglot(d)


def test_model_without_prompts_gets_no_sentence_transformers_files_tiny_random_bert(tmp_path, tiny_bert):
    from monoglot.vocab import trim_to_corpus

    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(TEXTS) + "\n")
    out = trim_to_corpus(tiny_bert, [corpus], tmp_path / "trimmed", progress=False)
    assert not (out / "modules.json").exists() and (out / "monoglot.json").is_file()


def test_model_card_shows_sentence_transformers_usage_tiny_random(tiny_e5_like):
    from monoglot.cards import model_card

    row = {"parameters": {"total": 2e6}, "fewer_parameters": 0.5, "bytes": 8e6,
           "throughput": {"sequences_per_second": 100.0}, "speedup": 2.0}
    text = model_card(tiny_e5_like, name="tiny-swa", languages=["sw"], base_model="e5-small", license="mit",
                      row=row, results={}).read_text()
    assert 'model = SentenceTransformer("tiny-swa")' in text and 'prompt_name="query"' in text
    assert "- sentence-transformers" in text


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "monoglot", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=dict(os.environ))


def test_embed_command_writes_normalised_embeddings_tiny_random_xlmr(tmp_path, tiny_e5_like):
    from safetensors.numpy import load_file, safe_open

    from monoglot.embed import embed_file

    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    r = _cli("embed", tiny_e5_like, texts, "--out", tmp_path / "q.npy", "--batch-size", "2")
    assert r.returncode == 0, r.stderr
    emb = np.load(tmp_path / "q.npy")
    np.testing.assert_allclose(emb, encode_dir(tiny_e5_like, TEXTS), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    embed_file(tiny_e5_like, texts, tmp_path / "p.safetensors", kind="passage", progress=False)
    np.testing.assert_allclose(load_file(str(tmp_path / "p.safetensors"))["embeddings"],
                               encode_dir(tiny_e5_like, TEXTS, kind="passage"), atol=1e-6)
    with safe_open(str(tmp_path / "p.safetensors"), framework="np") as f:
        assert f.metadata()["prompt"] == "passage: "


def test_embed_bad_input_is_one_line_exit_2_tiny_random(tmp_path, tiny_e5_like):
    from monoglot.embed import embed_file

    texts = tmp_path / "texts.txt"
    texts.write_text("habari\n")
    r = _cli("embed", tiny_e5_like, tmp_path / "missing.txt", "--out", tmp_path / "e.npy")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error: text file")
    assert len([l for l in r.stderr.splitlines() if l.startswith("error:")]) == 1
    with pytest.raises(BadInput, match="must end in .npy or .safetensors"):
        embed_file(tiny_e5_like, texts, tmp_path / "e.csv")
    with pytest.raises(BadInput, match="--kind 'document' is not one of query, passage"):
        embed_file(tiny_e5_like, texts, tmp_path / "e.npy", kind="document")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(BadInput, match="is empty"):
        embed_file(tiny_e5_like, tmp_path / "empty.txt", tmp_path / "e.npy")
    (tmp_path / "e.npy").write_bytes(b"x")
    with pytest.raises(BadInput, match="already exists"):
        embed_file(tiny_e5_like, texts, tmp_path / "e.npy")
    assert not list(tmp_path.glob(".e.npy.tmp*"))


@pytest.mark.slow
def test_real_e5_small_teacher_and_trimmed_load_in_sentence_transformers(tmp_path, e5_dir, e5_trimmed):
    from monoglot.st_format import write_sentence_transformers

    teacher = tmp_path / "e5-small"  # the cached teacher, linked, with the sentence-transformers files added
    teacher.mkdir()
    for f in Path(e5_dir).iterdir():
        if f.is_file() and f.name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "monoglot.json"):
            (teacher / f.name).symlink_to(f)
    assert write_sentence_transformers(teacher)
    _assert_st_equals_monoglot(teacher)
    _assert_st_equals_monoglot(e5_trimmed)  # written by the trim stage itself
