"""Counting pieces by distinct word gives exactly the counts of encoding every segment."""

import json

import numpy as np
import pytest

from conftest import SWAHILI, _wordpiece_tokenizer, _xlmr_tokenizer

from monoglot.vocab.count import count_pieces, word_mode

TRICKY = SWAHILI + [
    "Habari  ya   asubuhi", " leading space", "trailing space ", "tab\there\nnew line\r\n",
    "nbsp\u00a0here and\u3000ideographic", "zero\u200bwidth\u200b and soft\u00adhyphen",
    "combining e\u0301 and \u0301start", "\u2581already \u2581\u2581marked\u2581", "special <mask> and <s> [MASK] [CLS] text",
    "fullwidth \uff1cmask\uff1e", "punct,.!? (x) \u00abmaneno\u00bb -- don't", "\u65e5\u672c\u8a9e \u30c6\u30ad\u30b9\u30c8",
    "emoji \U0001f642\U0001f643", "ALL CAPS Mixed \u00c9t\u00e9", "123 4567 89", "control\x1cchar\x00nul",
    "Mwanzo Mungu aliumba mbingu na nchi.", "Mwanzo Mungu aliumba mbingu na nchi.",
]


def _byte_level_bpe_tokenizer():
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    t = ByteLevelBPETokenizer()
    t.train_from_iterator(SWAHILI * 3, vocab_size=400, min_frequency=1, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    return PreTrainedTokenizerFast(tokenizer_object=t._tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", mask_token="<mask>")


def _metaspace_without_normalizer():
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    tok = _xlmr_tokenizer()
    backend = Tokenizer.from_str(tok.backend_tokenizer.to_str())
    backend.normalizer = None  # runs of spaces then become lone "▁" pieces
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>", mask_token="<mask>")


FAMILIES = {
    "unigram_metaspace": (_xlmr_tokenizer, "metaspace"),
    "unigram_metaspace_no_normalizer": (_metaspace_without_normalizer, "metaspace"),
    "wordpiece_bert": (_wordpiece_tokenizer, "spaces"),
    "byte_level_bpe": (_byte_level_bpe_tokenizer, None),
}


def _assert_same(a, b):
    assert np.array_equal(a.per_corpus, b.per_corpus)
    assert np.array_equal(a.doc_freq, b.doc_freq)
    assert a.chars == b.chars and a.documents == b.documents


@pytest.mark.parametrize("family", FAMILIES)
def test_counting_by_word_equals_encoding_tiny_random_tokenizers(family):
    make, mode = FAMILIES[family]
    tok = make()
    assert word_mode(tok.backend_tokenizer) == mode
    corpora = [TRICKY, SWAHILI[::-1] + TRICKY[5:9]]
    exact = count_pieces(tok, corpora, batch_size=7, by_word=False)
    fast = count_pieces(tok, corpora, batch_size=7)
    _assert_same(fast, exact)
    assert exact.total.sum() > 100
    no_df = count_pieces(tok, corpora, batch_size=5, doc_freq=False)
    assert no_df.doc_freq is None and np.array_equal(no_df.per_corpus, exact.per_corpus)


def test_word_mode_falls_back_for_bpe_dropout_and_truncation():
    from tokenizers import Tokenizer

    tj = json.loads(_byte_level_bpe_tokenizer().backend_tokenizer.to_str())
    tj["pre_tokenizer"] = {"type": "WhitespaceSplit"}
    assert word_mode(Tokenizer.from_str(json.dumps(tj))) == "spaces"
    tj["model"]["dropout"] = 0.1
    assert word_mode(Tokenizer.from_str(json.dumps(tj))) is None
    backend = _xlmr_tokenizer().backend_tokenizer
    backend.enable_truncation(16)
    assert word_mode(backend) is None


@pytest.mark.slow
def test_counting_by_word_equals_encoding_real_e5_small_swahili(e5_dir, data):
    from monoglot.corpus import iter_documents, iter_segments
    from monoglot.teachers import load_tokenizer

    tok = load_tokenizer(e5_dir)
    segs = list(iter_segments(iter_documents(data / "corpora" / "swa" / "maneno_yetu.txt")))
    corpora = [segs[:6000:2], segs[1:6000:2] + TRICKY]
    _assert_same(count_pieces(tok, corpora), count_pieces(tok, corpora, by_word=False))
