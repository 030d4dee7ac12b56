"""Tests for the task readers and file formats (monoglot.tasks.readers/formats/hf) and the entity metric.

Real-data tests read every family from the data root (skipped without it); the rest use tiny
files written to tmp_path. No test needs the network or trains a model.
"""

from __future__ import annotations

import functools

import pytest

from conftest import write_task_files

from monoglot.errors import BadInput
from monoglot.tasks import (FORMATS, TaskData, entity_f1, entity_scores, evaluate_task, load_task, macro_f1,
                            read_file, task_sentences)
from monoglot.tasks.finetune import score
from monoglot.tasks.metrics import is_bio

UPOS = {"ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
        "SCONJ", "SYM", "VERB", "X"}
NER = ["B-DATE", "B-LOC", "B-ORG", "B-PER", "I-DATE", "I-LOC", "I-ORG", "I-PER", "O"]

# ---------------------------------------------------------------- every family on the real files

# (task, kind, primary metric, split sizes as in shared/data/README.md)
REAL = [
    ("sib200:swh_Latn", "sequence", "macro_f1", {"train": 701, "dev": 99, "test": 204}),
    ("sib200:eng_Latn", "sequence", "macro_f1", {"train": 701, "dev": 99, "test": 204}),
    ("sib200:cym_Latn", "sequence", "macro_f1", {"train": 701, "dev": 99, "test": 204}),
    ("masakhapos:swa", "token", "accuracy", {"train": 693, "dev": 138, "test": 553}),
    ("masakhaner2:swa", "token", "entity_f1", {"train": 6593, "dev": 942, "test": 1883}),
    ("afrisenti:swa", "sequence", "macro_f1", {"train": 1810, "dev": 453, "test": 748}),
    ("masakhanews:eng", "sequence", "macro_f1", {"dev": 472, "test": 948}),
    ("masakhanews:swa", "sequence", "macro_f1", {"dev": 237, "test": 476}),
    ("ud:UD_English-EWT", "token", "accuracy", {"dev": 2001, "test": 2077}),
    ("ud:UD_English-ParTUT", "token", "accuracy", {"train": 1781, "dev": 156, "test": 153}),
    ("ud:UD_English-LinES", "token", "accuracy", {"train": 3457, "dev": 1118, "test": 1121}),
    ("ud:UD_Welsh-CCG", "token", "accuracy", {"train": 1255, "dev": 409, "test": 953}),
]


@functools.lru_cache(maxsize=None)
def _real(data, name) -> TaskData:
    """Each real task read once per session (the tests only read it)."""
    return load_task(name, data)


@pytest.mark.parametrize("name,kind,metric,counts", REAL, ids=[r[0] for r in REAL])
def test_real_family_counts(data, name, kind, metric, counts):
    task = _real(data, name)
    assert (task.kind, task.metric) == (kind, metric)
    assert {s: len(x) for s, x in task.splits.items()} == counts
    for examples in task.splits.values():
        for x, y in examples:
            if kind == "sequence":
                assert isinstance(x, str) and x and y in task.labels
            else:
                assert len(x) == len(y) > 0 and set(y) <= set(task.labels)


def test_real_label_sets(data):
    tasks = data / "tasks"
    ner = _real(data, "masakhaner2:swa")
    assert ner.labels == NER  # sorted train tags: PER ORG LOC DATE in BIO
    assert _real(data, "afrisenti:swa").labels == ["negative", "neutral", "positive"]
    for lang in ("eng", "swa"):  # labels.txt order, since there is no train split
        news = _real(data, f"masakhanews:{lang}")
        assert news.labels == (tasks / f"masakhanews/{lang}/labels.txt").read_text(encoding="utf-8").split()
    assert "religion" in _real(data, "masakhanews:swa").labels
    for treebank in ("UD_English-EWT", "UD_English-ParTUT", "UD_English-LinES", "UD_Welsh-CCG"):
        assert set(_real(data, f"ud:{treebank}").labels) <= UPOS


def test_real_masakhanews_joins_headline_and_text(data):
    text, label = _real(data, "masakhanews:swa").splits["dev"][0]
    assert text.startswith("Mfahamu Spika mpya wa Bunge la Kenya") and "\nKiongozi wa chama cha Ford-Kenya" in text
    assert label == "politics"
    assert len(task_sentences("masakhanews:swa", data)) == 237 + 476  # no train split: dev + test


def test_real_ud_skips_multiword_ranges(data):
    """EWT dev line 165 is the range '1-2 Today's'; its words are 'Today' and ''s'."""
    dev = _real(data, "ud:UD_English-EWT").splits["dev"]
    tokens, tags = next((t, g) for t, g in dev if t[:3] == ["Today", "'s", "incident"])
    assert tags[:3] == ["NOUN", "PART", "NOUN"] and "Today's" not in tokens


# ---------------------------------------------------------------- metrics, hand-computed

def test_entity_f1_hand_computed():
    # gold: PER (0-1), LOC (3); pred: PER right, LOC missed, ORG (4) spurious -> P = 1/2, R = 1/2, F1 = 1/2
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O"]]
    pred = [["B-PER", "I-PER", "O", "O", "B-ORG"]]
    assert entity_scores(gold, pred) == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5})
    # a wrong boundary is a miss and a spurious entity: P = 0/1, R = 0/1
    assert entity_f1([["B-PER", "I-PER"]], [["B-PER", "O"]]) == 0.0
    # a truncated word (None) counts as O: gold LOC missed, PER found -> P = 1, R = 1/2, F1 = 2/3
    assert entity_f1([["B-PER", "O", "B-LOC"]], [["B-PER", "O", None]]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        entity_f1([["O", "O"]], [["O"]])


def test_macro_f1_hand_computed():
    gold = ["a", "a", "b", "b", "c"]
    pred = ["a", "b", "b", "b", "a"]
    # a: P 1/2 R 1/2 F1 1/2; b: P 2/3 R 1 F1 4/5; c: F1 0
    assert macro_f1(gold, pred) == pytest.approx((0.5 + 0.8 + 0.0) / 3)


def test_ner_score_uses_entity_f1():
    assert is_bio(NER) and not is_bio(["NOUN", "VERB"]) and not is_bio(["O"])
    task = TaskData("ner", "token", ["B-LOC", "B-PER", "I-PER", "O"],
                    {"test": [(["Juma", "Kassim", "yuko", "Dodoma"], ["B-PER", "I-PER", "O", "B-LOC"])]})
    assert task.metric == "entity_f1"
    o, b_per, i_per = 3, 1, 2
    result = score(task, "test", [[b_per, i_per, o, o]])  # PER right, LOC missed
    assert result == pytest.approx({"entity_f1": 2 / 3, "entity_precision": 1.0, "entity_recall": 0.5,
                                    "accuracy": 0.75})
    pos = TaskData("pos", "token", ["NOUN", "VERB"], {"test": [(["a"], ["NOUN"])]})
    assert pos.metric == "accuracy" and set(score(pos, "test", [[0]])) == {"accuracy", "upos_accuracy"}


# ---------------------------------------------------------------- bad input (tiny files)

NER_OK = "Juma B-PER\nKassim I-PER\nyuko O\nDodoma B-LOC\n\nLeo O\n"



def _folder(path, files):
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / name).write_text(text, encoding="utf-8")
    return path


def test_label_unseen_in_train(tmp_path):
    write_task_files(tmp_path, "masakhaner2", "swa", {"train.txt": NER_OK, "dev.txt": NER_OK,
                                             "test.txt": NER_OK + "\nUN B-ORG\n"})
    with pytest.raises(BadInput, match=r"masakhaner2/swa/test\.txt:8: label 'B-ORG' does not occur in the train"):
        load_task("masakhaner2:swa", tmp_path)
    head = "tweet\tlabel\n"
    write_task_files(tmp_path, "afrisenti", "swa", {"train.tsv": head + "nzuri\tpositive\n", "test.tsv": head + "nzuri\tpositive\n",
                                           "dev.tsv": head + "nzuri\tpositive\nmbaya\tnegative\n"})
    with pytest.raises(BadInput, match=r"afrisenti/swa/dev\.tsv:3: label 'negative'"):
        load_task("afrisenti:swa", tmp_path)


def test_tag_column_missing(tmp_path):
    write_task_files(tmp_path, "masakhaner2", "swa", {"train.txt": "Juma B-PER\n\nDodoma\n", "dev.txt": NER_OK, "test.txt": NER_OK})
    with pytest.raises(BadInput, match=r"masakhaner2/swa/train\.txt:3: expected 'token TAG', got 'Dodoma'"):
        load_task("masakhaner2:swa", tmp_path)
    bad = CONLLU.replace("3\tdo\tdo\tAUX", "3\tdo\tdo\t_")
    path = _folder(tmp_path / "bad", {"x.conllu": bad}) / "x.conllu"
    with pytest.raises(BadInput, match=r"x\.conllu:6: word 3 has no UPOS tag"):
        read_file(path)
    two_columns = CONLLU.replace("2\tsaw\tsee\tVERB\tVBD\t_\t0\troot\t_\t_", "2\tsaw")
    assert two_columns != CONLLU
    path.write_text(two_columns, encoding="utf-8")
    with pytest.raises(BadInput, match=r"x\.conllu:4: word 2 has no UPOS tag"):
        read_file(path)
    path = _folder(tmp_path / "bad", {"x.jsonl": '{"tokens": ["a"], "tags": ["O"]}\n\n{"tokens": ["b"]}\n'}) / "x.jsonl"
    with pytest.raises(BadInput, match=r"x\.jsonl:3: object lacks field\(s\) tags"):
        read_file(path)
    path = _folder(tmp_path / "bad", {"x.csv": "text,label\nnzuri,positive\nmbaya\n"}) / "x.csv"
    with pytest.raises(BadInput, match=r"x\.csv:3: expected 2 comma-separated fields"):
        read_file(path)


def test_empty_split_names_file_and_lines(tmp_path):
    head = "tweet\tlabel\n"
    write_task_files(tmp_path, "afrisenti", "swa", {"train.tsv": head + "nzuri\tpositive\n", "dev.tsv": head + "\n",
                                           "test.tsv": head + "nzuri\tpositive\n"})
    with pytest.raises(BadInput, match=r"afrisenti/swa/dev\.tsv holds no examples \(lines 1-2 hold only"):
        load_task("afrisenti:swa", tmp_path)
    _folder(tmp_path / "user", {"train.jsonl": '{"text": "a", "label": "x"}\n', "test.jsonl": ""})
    with pytest.raises(BadInput, match=r"user/test\.jsonl holds no examples \(the file is empty\)"):
        load_task(str(tmp_path / "user"))


def test_unknown_format_names_file_and_extensions(tmp_path):
    _folder(tmp_path / "user", {"train.tsv": "text\tlabel\na\tx\n", "test.xlsx": "?"})
    with pytest.raises(BadInput, match=r"user/test\.xlsx: unknown task file format '\.xlsx'; use one of "
                                       r"\.conllu, \.conll, \.txt, \.tsv, \.csv, \.jsonl"):
        load_task(str(tmp_path / "user"))
    with pytest.raises(BadInput, match=r"notes\.parquet: unknown task file format"):
        read_file(tmp_path / "notes.parquet")
    assert list(FORMATS) == [".conllu", ".conll", ".txt", ".tsv", ".csv", ".jsonl"]


def test_missing_test_split_and_fine_tuning_without_train(tmp_path):
    _folder(tmp_path / "user", {"train.tsv": "text\tlabel\na\tx\n"})
    with pytest.raises(BadInput, match=r"user: no test file; name it test\.EXT"):
        load_task(str(tmp_path / "user"))
    _folder(tmp_path / "user", {"dev.tsv": "text\tlabel\na\tx\n", "test.tsv": "text\tlabel\nb\ty\n"})
    (tmp_path / "user/train.tsv").unlink()
    task = load_task(str(tmp_path / "user"))  # no train: labels from every split
    assert set(task.splits) == {"dev", "test"} and task.labels == ["x", "y"]
    with pytest.raises(BadInput, match="has no train split; fine-tuning needs train, dev and test"):
        evaluate_task(tmp_path, task, progress=False)


# ---------------------------------------------------------------- formats

CSV_MULTILINE = ('text,label\n'
                 '"Alisema ""ndiyo"", kisha\nakaondoka",positive\n'
                 'Habari njema,positive\n'
                 '"Mvua, mafuriko\n\nna upepo",negative\n'
                 'Leo,weather\n')


def test_csv_quoted_multiline_fields(tmp_path):
    d = _folder(tmp_path / "user", {"train.csv": CSV_MULTILINE.rsplit("Leo", 1)[0], "test.csv": CSV_MULTILINE})
    kind, examples = read_file(d / "train.csv")
    assert kind == "sequence"
    assert examples == [('Alisema "ndiyo", kisha\nakaondoka', "positive"), ("Habari njema", "positive"),
                        ("Mvua, mafuriko\n\nna upepo", "negative")]
    # line numbers count physical lines: 'Leo' is on line 8, after two multi-line rows
    with pytest.raises(BadInput, match=r"user/test\.csv:8: label 'weather'"):
        load_task(str(d))


def test_tsv_masakhanews_multiline_and_columns(tmp_path):
    news = ('category\theadline\ttext\turl\n'
            'sports\tSimba yashinda\t"Simba ilishinda\n""mabao"" 2"\thttp://a\n'
            'health\t\tDawa mpya.\thttp://b\n')
    write_task_files(tmp_path, "masakhanews", "swa", {"dev.tsv": news, "test.tsv": news, "labels.txt": "sports\nhealth\n"})
    task = load_task("masakhanews:swa", tmp_path)
    assert task.labels == ["sports", "health"] and "train" not in task.splits
    assert task.splits["test"] == [('Simba yashinda\nSimba ilishinda\n"mabao" 2', "sports"), ("Dawa mpya.", "health")]
    d = _folder(tmp_path / "cols", {"train.tsv": "sentence\ttopic\nA\tx\n", "test.tsv": "sentence\ttopic\nB\tx\n"})
    assert load_task(str(d), text_col="sentence", label_col="topic").splits["test"] == [("B", "x")]
    with pytest.raises(BadInput, match=r"cols/train\.tsv:1: header lacks column\(s\) text, label"):
        load_task(str(d))


CONLLU = """# sent_id = 1
# text = I saw don't.
1\tI\tI\tPRON\tPRP\t_\t2\tnsubj\t_\t_
2\tsaw\tsee\tVERB\tVBD\t_\t0\troot\t_\t_
3-4\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
3\tdo\tdo\tAUX\tVBP\t_\t2\tobj\t_\t_
4\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_
4.1\tit\tit\tPRON\t_\t_\t_\t_\t3:obj\t_
5\t.\t.\tPUNCT\t.\t_\t2\tpunct\t_\t_

1\tYes\tyes\tINTJ\tUH\t_\t0\troot\t_\t_
"""


def test_conllu_multiword_range_and_empty_node(tmp_path):
    d = _folder(tmp_path / "ud", {"en-ud-train.conllu": CONLLU, "en-ud-dev.conllu": CONLLU,
                                  "en-ud-test.conllu": CONLLU})
    kind, examples = read_file(d / "en-ud-train.conllu")
    assert kind == "token"
    assert examples == [(["I", "saw", "do", "n't", "."], ["PRON", "VERB", "AUX", "PART", "PUNCT"]),
                        (["Yes"], ["INTJ"])]
    task = load_task(str(d))  # a user folder with UD-style names
    assert task.labels == ["AUX", "INTJ", "PART", "PRON", "PUNCT", "VERB"] and task.metric == "accuracy"
    (d / "en-ud-test.conllu").write_text(CONLLU.replace("INTJ", "NOUN"), encoding="utf-8")
    with pytest.raises(BadInput, match=r"en-ud-test\.conllu:11: label 'NOUN'"):
        load_task(str(d))
    (d / "en-ud-test.conllu").write_text(CONLLU.replace("1\tYes\tyes", "1 Yes yes"), encoding="utf-8")
    with pytest.raises(BadInput, match=r"en-ud-test\.conllu:11: not a CoNLL-U token line"):
        load_task(str(d))


def test_user_folder_jsonl_and_conll(tmp_path):
    tok = '{"tokens": ["Juma", "yuko", "Dodoma"], "tags": ["B-PER", "O", "B-LOC"]}\n'
    d = _folder(tmp_path / "ner", {"train.jsonl": tok, "validation.jsonl": tok, "test.jsonl": tok})
    task = load_task(str(d))
    assert (task.kind, task.metric, task.labels) == ("token", "entity_f1", ["B-LOC", "B-PER", "O"])
    assert set(task.splits) == {"train", "dev", "test"}
    seq = '{"text": "Nzuri sana", "label": 1}\n{"text": "Mbaya", "label": 0}\n'
    d = _folder(tmp_path / "seq", {"train.jsonl": seq, "test.jsonl": seq})
    assert load_task(str(d)).splits["test"] == [("Nzuri sana", "1"), ("Mbaya", "0")]
    d = _folder(tmp_path / "mixed", {"train.conll": NER_OK, "test.tsv": "text\tlabel\na\tx\n"})
    with pytest.raises(BadInput, match=r"mixed/test\.tsv: holds sequence examples but .*train\.conll holds token"):
        load_task(str(d))


# Hugging Face datasets (hf:...) are tested on real local datasets, offline, in tests/test_hub.py.
