"""Vocabulary trimming: exactness on the real teacher, consistency on tiny random models, bad input."""

import json

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from conftest import SWAHILI, make_tiny

from monoglot.errors import BadInput
from monoglot.teachers import load_encoder, load_tokenizer
from monoglot.vocab import VocabPolicy, select_vocab, trim_to_corpus
from monoglot.vocab.surgery import trim_tokenizer_json


def _covered(tok_old, tok_new, texts):
    """Texts whose original segmentation uses only pieces the trimmed tokenizer kept."""
    kept = set(tok_new.get_vocab())
    return [t for t in texts if set(tok_old.tokenize(t)) <= kept]


def test_trimmed_e5_is_exact_on_covered_swahili(e5_dir, e5_trimmed, swahili_corpus):
    old_tok, new_tok = load_tokenizer(e5_dir), load_tokenizer(e5_trimmed)
    lines = swahili_corpus.read_text().splitlines()
    texts = _covered(old_tok, new_tok, lines[::97] + SWAHILI)
    assert len(texts) >= 20
    for t in texts:
        assert new_tok.tokenize(t) == old_tok.tokenize(t)
    old_b = old_tok(texts, padding=True, return_tensors="pt")
    new_b = new_tok(texts, padding=True, return_tensors="pt")
    assert torch.equal(old_b["attention_mask"], new_b["attention_mask"])
    with torch.no_grad():
        h_old = load_encoder(e5_dir)(**old_b).last_hidden_state
        h_new = load_encoder(e5_trimmed)(**new_b).last_hidden_state
    assert torch.equal(h_old, h_new)  # bit for bit


def test_trim_stats_and_plain_transformers_load(e5_trimmed):
    meta = json.loads((e5_trimmed / "monoglot.json").read_text())
    st = meta["stats"]
    assert meta["stage"] == "trim" and st["coverage"] == 1.0 and st["unk_rate"] == 0.0
    assert 3_000 < st["pieces_kept"] < 30_000
    assert st["parameters_after"]["embedding"] < st["parameters_before"]["embedding"] / 5
    assert st["parameters_after"]["encoder"] == st["parameters_before"]["encoder"]  # no pooler added
    m, t = AutoModel.from_pretrained(e5_trimmed), AutoTokenizer.from_pretrained(e5_trimmed)
    assert m.config.vocab_size == len(t) == st["pieces_kept"]
    assert (t.pad_token_id, t.cls_token_id, t.sep_token_id, t.unk_token_id) == (1, 0, 2, 3)
    assert t.mask_token_id == len(t) - 1


def test_trimmed_tokenizer_never_emits_an_out_of_range_id(e5_trimmed):
    tok = load_tokenizer(e5_trimmed)
    weird = ["日本語のテキスト", "Привет мир", "🙂🙃 emoji", "\u0000\uffff\U0010ffff", "مرحبا بالعالم", "ḽaḽa ŋ ɛ ɔ"]
    ids = tok(weird)["input_ids"]
    assert max(max(x) for x in ids) < len(tok)
    assert tok.unk_token_id in ids[0]  # Japanese is not covered by a Swahili vocabulary


@pytest.mark.parametrize("family", ["bert", "xlmr"])
def test_trim_tiny_random_model_with_mlm_head_is_consistent(tmp_path, family):
    src = make_tiny(tmp_path / "src", family, mlm=True, hidden=32, heads=2, ffn=64, layers=2)
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(SWAHILI) + "\n")
    out = trim_to_corpus(src, [corpus], tmp_path / "out", progress=False)
    from transformers import AutoModelForMaskedLM

    old_tok, new_tok = AutoTokenizer.from_pretrained(src), AutoTokenizer.from_pretrained(out)
    old, new = AutoModelForMaskedLM.from_pretrained(src).eval(), AutoModelForMaskedLM.from_pretrained(out).eval()
    kept = [old_tok.convert_tokens_to_ids(p) for p in new_tok.convert_ids_to_tokens(list(range(len(new_tok))))]
    assert kept == sorted(kept) and len(new_tok) < len(old_tok)
    for t in SWAHILI:
        assert new_tok.tokenize(t) == old_tok.tokenize(t)
    b_old, b_new = old_tok(SWAHILI, padding=True, return_tensors="pt"), new_tok(SWAHILI, padding=True, return_tensors="pt")
    with torch.no_grad():
        lo, ln = old(**b_old).logits, new(**b_new).logits
    assert torch.equal(lo[..., kept], ln)  # MLM logits restricted to kept pieces: identical
    assert new.get_output_embeddings().weight.data_ptr() == new.get_input_embeddings().weight.data_ptr()  # still tied


def test_top_n_and_errors(tmp_path, tiny_bert):
    tok = AutoTokenizer.from_pretrained(tiny_bert)
    counts = np.zeros(len(tok), dtype=np.int64)
    counts[10:20] = np.arange(10, 0, -1)
    keep = select_vocab(counts, tok, VocabPolicy(top_n=3, keep_chars=False))
    assert sorted(set(keep) - set(tok.all_special_ids)) == [10, 11, 12]
    with pytest.raises(BadInput, match="not smaller than the vocabulary"):
        select_vocab(counts, tok, VocabPolicy(top_n=len(tok)))
    with pytest.raises(BadInput, match="selects no piece"):
        select_vocab(np.zeros(len(tok), dtype=np.int64), tok, VocabPolicy())
    with pytest.raises(BadInput, match="cannot trim a WordLevel tokenizer"):
        trim_tokenizer_json({"model": {"type": "WordLevel"}, "added_tokens": []}, np.array([0]))


def test_trim_refuses_existing_output_and_keeps_source(tmp_path, tiny_bert):
    corpus = tmp_path / "c.txt"
    corpus.write_text("habari ya asubuhi\n")
    before = (tiny_bert / "model.safetensors").read_bytes()
    (tmp_path / "exists").mkdir()
    with pytest.raises(BadInput, match="already exists"):
        trim_to_corpus(tiny_bert, [corpus], tmp_path / "exists", progress=False)
    trim_to_corpus(tiny_bert, [corpus], tmp_path / "ok", progress=False)
    assert (tiny_bert / "model.safetensors").read_bytes() == before
