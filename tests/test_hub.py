"""Hub data without a network: ``hf:`` corpora and tasks read from datasets the tests write in
formats ``datasets`` reads locally (parquet files, ``save_to_disk`` folders), monoglot's hub cache,
the parquet-export fallback, recipe corpus entries with local/hub alternatives, and ``monoglot data``."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest

datasets = pytest.importorskip("datasets")

from monoglot import hub  # noqa: E402
from io import StringIO  # noqa: E402

from rich.console import Console  # noqa: E402

from monoglot.corpus import CorpusRef, CorpusStats, Decontaminator, fetch_corpus, iter_documents, iter_segments  # noqa: E402
from monoglot.datacheck import check_recipe_data  # noqa: E402
from monoglot.errors import BadInput  # noqa: E402
from monoglot.recipe import load_recipe  # noqa: E402
from monoglot.sources import recipe_needs, resolve_corpus, resolve_task  # noqa: E402
from monoglot.tasks import load_task  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["Hapo mwanzo Mungu aliziumba mbingu na nchi. Nchi ilikuwa ukiwa.",
        "   ",
        "Mungu akasema, Iwe nuru; ikawa nuru.",
        "Watoto wanacheza mpira uwanjani baada ya shule ya msingi leo."]
TOPICS = ["science/technology", "travel", "politics"]


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No network and an empty monoglot cache for every test here."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MONOGLOT_CACHE", str(tmp_path / "cache"))


def parquet_corpus(folder: Path, config: str = "20231101.sw", docs=DOCS) -> Path:
    """A Wikipedia-like dataset folder: CONFIG/train-00000-of-00001.parquet with id, title, text."""
    (folder / config).mkdir(parents=True)
    datasets.Dataset.from_dict({"id": [str(i) for i in range(len(docs))], "title": ["t"] * len(docs), "text": docs}) \
        .to_parquet(str(folder / config / "train-00000-of-00001.parquet"))
    return folder


def sib_dataset(n: int = 6) -> "datasets.DatasetDict":
    """A SIB-200-like task: index_id, category (strings), text; train/validation/test."""
    def split(offset):
        return datasets.Dataset.from_dict({"index_id": list(range(offset, offset + n)),
                                           "category": [TOPICS[i % 3] for i in range(n)],
                                           "text": [f"Sentensi ya {TOPICS[i % 3]} namba {offset + i}." for i in range(n)]})
    return datasets.DatasetDict({"train": split(0), "validation": split(100), "test": split(200)})


def ner_dataset() -> "datasets.DatasetDict":
    feats = datasets.Features({"id": datasets.Value("string"), "tokens": datasets.Sequence(datasets.Value("string")),
                               "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER", "I-PER"]))})
    part = datasets.Dataset.from_dict({"id": ["0", "1"], "tokens": [["Juma", "Kassim", "alikuja"], ["Leo", "ni", "Jumatatu"]],
                                       "ner_tags": [[1, 2, 0], [0, 0, 0]]}, features=feats)
    return datasets.DatasetDict({"train": part, "validation": part, "test": part})


# ---------------------------------------------------------------- corpora


def test_hub_corpus_reads_like_the_same_local_file(tmp_path):
    folder = parquet_corpus(tmp_path / "wiki")
    txt = tmp_path / "wiki.txt"
    txt.write_text("\n".join(DOCS) + "\n", encoding="utf-8")
    eval_texts = ["Mungu akasema, Iwe nuru; ikawa nuru."]
    results = []
    for name in (f"hf:{folder}:20231101.sw", str(txt)):
        stats = CorpusStats()
        segs = list(Decontaminator(eval_texts, n=8).filter(iter_segments(iter_documents(name, stats=stats), stats=stats), stats))
        results.append((segs, stats))
    (hub_segs, hub_stats), (txt_segs, txt_stats) = results
    assert hub_segs == txt_segs == ["Hapo mwanzo Mungu aliziumba mbingu na nchi.", "Nchi ilikuwa ukiwa.",
                                    "Watoto wanacheza mpira uwanjani baada ya shule ya msingi leo."]
    assert hub_stats == txt_stats
    assert (hub_stats.documents, hub_stats.dropped_contaminated) == (3, 1)


def test_hub_corpus_caps_and_ref(tmp_path):
    name = f"hf:{parquet_corpus(tmp_path / 'wiki')}:20231101.sw"
    assert list(iter_documents(CorpusRef(name, max_documents=2))) == [DOCS[0], DOCS[2]]
    assert list(iter_documents(name, max_words=3)) == [DOCS[0]]  # the first document already reaches 3 words
    ref = CorpusRef(name, text_column="text", max_words=10)
    assert str(ref) == f"{name} [text_column=text, max_words=10]" and type(str(ref)) is str
    back = pickle.loads(pickle.dumps(ref))
    assert (back, back.source, back.max_words, back.max_documents) == (ref, name, 10, None)
    with pytest.raises(BadInput, match="max_words must be at least 1"):
        CorpusRef(name, max_words=0)


def test_hub_corpus_errors_name_the_problem(tmp_path):
    folder = parquet_corpus(tmp_path / "wiki")
    with pytest.raises(BadInput, match=r"has no column 'body'; its columns are id, title, text"):
        iter_documents(f"hf:{folder}:20231101.sw", text_column="body")
    with pytest.raises(BadInput, match=r"has no split 'test' \(it has train\)"):
        iter_documents(f"hf:{folder}:20231101.sw:test")
    with pytest.raises(BadInput, match=r"has no sub-folder '20231101.xx'"):
        iter_documents(f"hf:{folder}:20231101.xx")
    with pytest.raises(BadInput, match=r"not of the form hf:DATASET\[:CONFIG\]\[:SPLIT\]"):
        iter_documents("hf:a:b:c:d")
    with pytest.raises(BadInput, match=r"cannot load hf:nobody/nothing:sw: .*OfflineModeIsEnabled.*--fetch"):
        iter_documents("hf:nobody/nothing:sw")


def test_fetched_capped_corpus_is_read_offline_from_the_cache(tmp_path):
    folder = parquet_corpus(tmp_path / "wiki")
    name = f"hf:{folder}:20231101.sw"
    copy = fetch_corpus(name, "text", max_documents=2, max_words=None)
    assert copy.is_relative_to(tmp_path / "cache" / "hub")
    assert datasets.load_from_disk(str(copy))["text"] == [DOCS[0], DOCS[2]]  # the capped part only
    os.rename(folder, tmp_path / "gone")  # the source is no longer there: the cached copy is read
    assert list(iter_documents(CorpusRef(name, max_documents=2))) == [DOCS[0], DOCS[2]]
    with pytest.raises(BadInput, match="cannot load"):  # another cap has no copy
        iter_documents(CorpusRef(name, max_documents=3))


# ---------------------------------------------------------------- tasks


def test_hub_task_from_a_save_to_disk_folder_with_classlabels(tmp_path):
    ner_dataset().save_to_disk(str(tmp_path / "ner"))
    task = load_task(f"hf:{tmp_path / 'ner'}")
    assert (task.kind, task.metric, task.labels) == ("token", "entity_f1", ["O", "B-PER", "I-PER"])
    assert task.splits["dev"][0] == (["Juma", "Kassim", "alikuja"], ["B-PER", "I-PER", "O"])


def test_known_hub_task_read_from_the_cache_with_its_columns():
    # SIB-200 as fetched into the cache: its columns (text, category) are known, no column names needed
    sib_dataset().save_to_disk(str(hub.parse("hf:Davlan/sib200:swh_Latn").cache_path))
    task = load_task("hf:Davlan/sib200:swh_Latn")
    assert (task.kind, task.labels) == ("sequence", sorted(TOPICS))
    assert task.splits["test"][0] == ("Sentensi ya science/technology namba 200.", "science/technology")
    assert len(task.splits["train"]) == len(task.splits["dev"]) == 6
    zero_shot = load_task("hf:Davlan/sib200:swh_Latn->hf:Davlan/sib200:swh_Latn")
    assert zero_shot.splits["test"] == task.splits["test"]


def test_hub_task_errors(tmp_path):
    d = sib_dataset()
    d["test"] = d["test"].map(lambda r: {"category": "sports"})
    d.save_to_disk(str(tmp_path / "bad"))
    with pytest.raises(BadInput, match=r"test\[0\]: label 'sports' does not occur in the train"):
        load_task(f"hf:{tmp_path / 'bad'}", label_col="category")
    with pytest.raises(BadInput, match=r"neither text\+label nor tokens"):
        load_task(f"hf:{tmp_path / 'bad'}")
    with pytest.raises(BadInput, match=r"cannot load hf:nosuch/dataset: .*OfflineModeIsEnabled"):
        load_task("hf:nosuch/dataset")


def test_script_only_dataset_is_read_from_the_parquet_export(tmp_path, monkeypatch):
    """datasets >= 4 refuses loading scripts; the hub's parquet export (CONFIG/SPLIT/0000.parquet,
    here a local copy of its layout) is read instead."""
    export = tmp_path / "export"
    for split, part in ner_dataset().items():
        (export / "swa" / split).mkdir(parents=True)
        part.to_parquet(str(export / "swa" / split / "0000.parquet"))
    real, calls = datasets.load_dataset, []

    def load_dataset(path, name=None, **kw):
        calls.append((path, name, kw.get("revision"), kw.get("data_dir")))
        if path == "masakhane/masakhaner2" and kw.get("revision") != hub.PARQUET_EXPORT:
            raise RuntimeError("Dataset scripts are no longer supported, but found masakhaner2.py")
        return real(str(export), data_dir=kw["data_dir"], streaming=kw.get("streaming", False))

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    task = load_task("hf:masakhane/masakhaner2:swa")
    assert calls == [("masakhane/masakhaner2", "swa", None, None), ("masakhane/masakhaner2", None, hub.PARQUET_EXPORT, "swa")]
    assert task.labels == ["O", "B-PER", "I-PER"] and task.splits["test"][0][1] == ["B-PER", "I-PER", "O"]


def test_missing_datasets_library_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # as if not installed
    with pytest.raises(BadInput, match=r"pip install 'monoglot\[hf\]'"):
        load_task("hf:x/y")


# ---------------------------------------------------------------- recipes


def _recipe(tmp_path, data: str, tasks: str = '["sib200:swh_Latn"]') -> Path:
    path = tmp_path / "r.toml"
    path.write_text(f'name = "r"\nlanguages = ["sw"]\n[data]\n{data}\n[evaluate]\ntasks = {tasks}\n')
    return path


def test_corpus_entries_local_first_then_hub(tmp_path):
    root = tmp_path / "root"
    (root / "corpora").mkdir(parents=True)
    (root / "corpora" / "a.txt").write_text("habari\n")
    r = load_recipe(_recipe(tmp_path, 'corpora = ["corpora/a.txt", "hf:w/x:sw", '
                                      '{ local = "corpora/b.txt", hub = "hf:w/x:sw", max_documents = 5 }]'))
    got = [resolve_corpus(c, root, r.languages) for c in r.data.corpora]
    assert got == [str(root / "corpora" / "a.txt"), "hf:w/x:sw", "hf:w/x:sw [max_documents=5]"]
    assert got[2].max_documents == 5
    with pytest.raises(BadInput, match=r"corpus corpora/b.txt: the data root .*nowhere does not exist; set MONOGLOT_DATA, "
                                       r"or read a hub corpus instead: \{ local = \"corpora/b.txt\", hub = \"hf:wikimedia/wikipedia:20231101.sw\" \}"):
        resolve_corpus("corpora/b.txt", tmp_path / "nowhere", r.languages)


@pytest.mark.parametrize("entry, message", [
    ('{ local = "a.txt", hub = "w/x" }', "hub = 'w/x' must start with hf:"),
    ("{ max_words = 10 }", "a corpus needs local"),
    ('{ local = "a.txt", max_words = 0 }', "'data.corpora.0.max_words': Input should be greater than or equal to 1"),
    ('{ local = "a.txt", nope = 1 }', "unknown key 'data.corpora.0.nope'"),
])
def test_bad_corpus_entries_are_one_line_errors(tmp_path, entry, message):
    with pytest.raises(BadInput, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_recipe(_recipe(tmp_path, f"corpora = [{entry}]"))


def test_hub_tasks_replace_missing_local_tasks_on_both_sides(tmp_path):
    root = tmp_path / "root"
    (root / "tasks" / "sib200" / "eng_Latn").mkdir(parents=True)
    fallbacks = {"sib200:eng_Latn": "hf:Davlan/sib200:eng_Latn", "sib200:swh_Latn": "hf:Davlan/sib200:swh_Latn"}
    assert resolve_task("sib200:eng_Latn->sib200:swh_Latn", root, fallbacks) == "sib200:eng_Latn->hf:Davlan/sib200:swh_Latn"
    assert resolve_task("masakhapos:swa", root, fallbacks) == "masakhapos:swa"
    with pytest.raises(BadInput, match=r"tasks/afrisenti/swa does not exist; .* or read the task from the hub as "
                                       r"hf:shmuhammad/AfriSenti-twitter-sentiment:swa"):
        load_task("afrisenti:swa", root)


def test_recipe_needs_lists_every_side_and_status(tmp_path):
    folder = parquet_corpus(tmp_path / "wiki")
    r = load_recipe(_recipe(tmp_path, f'corpora = ["corpora/missing.txt", {{ local = "corpora/missing.txt", hub = "hf:{folder}:20231101.sw" }}, '
                                      '{ hub = "hf:w/x:sw", max_words = 100 }]\nhub_tasks = { "sib200:swh_Latn" = "hf:Davlan/sib200:swh_Latn" }',
                            '["sib200:eng_Latn->sib200:swh_Latn", "masakhaner2:swa"]'))
    needs = recipe_needs(r, tmp_path / "root")
    rows = [(n.kind, n.name, n.status) for n in needs]
    assert rows == [("corpus", "corpora/missing.txt", "missing"), ("corpus", "corpora/missing.txt", "present"),
                    ("corpus", "hf:w/x:sw", "hub"), ("task", "sib200:eng_Latn", "missing"),
                    ("task", "sib200:swh_Latn", "hub"), ("task", "masakhaner2:swa", "missing"), ("teacher", "e5-small", "present")]
    assert needs[0].note == 'or hub = "hf:wikimedia/wikipedia:20231101.sw"'
    assert needs[2].source == "hf:w/x:sw [max_words=100]" and needs[2].corpus.max_words == 100
    assert needs[3].note == "or hf:Davlan/sib200:eng_Latn" and needs[5].note == "or hf:masakhane/masakhaner2:swa"


# ---------------------------------------------------------------- command line


def _cli(*args, env=None):
    e = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "1000", **(env or {})}
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "monoglot", *map(str, args)], capture_output=True, text=True, cwd=ROOT, env=e)
    return r, time.perf_counter() - t


def test_data_table_lists_what_a_recipe_reads(tmp_path):
    sib_dataset().save_to_disk(str(tmp_path / "sib"))
    folder = parquet_corpus(tmp_path / "wiki")
    recipe = _recipe(tmp_path, f'corpora = ["hf:{folder}:20231101.sw", {{ hub = "hf:org/wiki:sw", max_documents = 2 }}, '
                               '"corpora/here.txt"]', f'["hf:{tmp_path / "sib"}"]')
    (tmp_path / "root" / "corpora").mkdir(parents=True)
    (tmp_path / "root" / "corpora" / "here.txt").write_text("habari\n")
    out = StringIO()
    check_recipe_data(recipe, tmp_path / "root", console=Console(file=out, width=1000))
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in out.getvalue().splitlines() if line.startswith("│")]
    assert [(row[0], row[3]) for row in rows] == [("corpus", "present"), ("corpus", "hub"), ("corpus", "present"),
                                                 ("task", "present"), ("teacher", "present")]
    assert rows[1][2:] == ["hf:org/wiki:sw [max_documents=2]", "hub", "streamed from the hub"]
    out = StringIO()
    with pytest.raises(BadInput, match=r"^1 of 5 things .*r\.toml reads are missing \(corpora/here\.txt\); set MONOGLOT_DATA"):
        check_recipe_data(recipe, tmp_path / "nowhere", console=Console(file=out, width=1000))
    assert "│ missing │" in out.getvalue()


def test_fetch_stores_hub_data_for_offline_runs(tmp_path, monkeypatch):
    """``--fetch`` with the hub stood in for by local copies (no network here): afterwards the
    capped corpus and the task are read from monoglot's cache, without the hub."""
    wiki = parquet_corpus(tmp_path / "wiki")
    sib_dataset().save_to_disk(str(tmp_path / "sib"))
    real = datasets.load_dataset

    def hub_copy(path, name=None, **kw):
        if path == "org/wiki":
            return real(str(wiki), data_dir=name, streaming=kw.get("streaming", False))
        if path == "org/sib":
            return datasets.load_from_disk(str(tmp_path / "sib"))
        raise ConnectionError(f"Couldn't reach '{path}' on the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(datasets, "load_dataset", hub_copy)
    recipe = _recipe(tmp_path, 'corpora = [{ hub = "hf:org/wiki:20231101.sw", max_documents = 2 }]', '["hf:org/sib"]')
    out = StringIO()
    needs = check_recipe_data(recipe, tmp_path / "root", fetch=True, console=Console(file=out, width=1000))
    assert [(n.name, n.status) for n in needs] == [("hf:org/wiki:20231101.sw", "cached"), ("hf:org/sib", "cached"),
                                                  ("e5-small", "present")]
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("read the hub after --fetch"))
    assert list(iter_documents(resolve_corpus(load_recipe(recipe).data.corpora[0], tmp_path / "root"))) == [DOCS[0], DOCS[2]]
    task = load_task("hf:org/sib", text_col="text", label_col="category")
    assert len(task.splits["test"]) == 6


def test_missing_hub_dataset_offline_is_exit_2_at_once(tmp_path):
    recipe = _recipe(tmp_path, 'corpora = ["hf:nobody/nothing:sw"]', '["hf:nobody/nothing-either"]')
    r, seconds = _cli("run", recipe, "--out", tmp_path / "out", env={"MONOGLOT_CACHE": str(tmp_path / "cache")})
    assert r.returncode == 2, r.stderr
    err = [line for line in r.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "cannot load hf:nobody/nothing-either: Couldn't reach" in err[0] and "--fetch" in err[0]
    # python start-up and the imports of torch/transformers included (seconds on 2 busy cores); the
    # failing load itself is immediate, as timed in-process below
    assert seconds < 30, f"took {seconds:.1f} s (a retry loop?)"
    t = time.perf_counter()
    with pytest.raises(BadInput, match="OfflineModeIsEnabled"):
        load_task("hf:nobody/nothing-either")
    assert time.perf_counter() - t < 2


def test_recipe_on_hub_data_alone_tiny_random_bert(tmp_path):
    """The whole pipeline with no data root: a capped hub corpus (a local parquet dataset folder),
    and a zero-shot pair of hub tasks cached by --fetch (SIB-200's id and columns)."""
    from conftest import SWAHILI, make_tiny

    from monoglot.pipeline import run_recipe

    teacher = make_tiny(tmp_path / "teacher", "bert", hidden=32, heads=4, ffn=64, layers=2)
    wiki = parquet_corpus(tmp_path / "wiki", docs=SWAHILI * 40)
    sib_dataset(12).save_to_disk(str(hub.parse("hf:Davlan/sib200:swh_Latn").cache_path))
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'''
name = "hub"
teacher = "{teacher}"
[data]
corpora = [{{ hub = "hf:{wiki}:20231101.sw", max_documents = 150 }}]
[shrink]
layers = 1
hidden = 16
ffn = 32
importance_sequences = 4
seq_len = 16
[distill]
steps = 2
batch_size = 2
seq_len = 16
val_batches = 1
[evaluate]
tasks = ["hf:Davlan/sib200:swh_Latn->hf:Davlan/sib200:swh_Latn"]
[evaluate.finetune]
epochs = 1
batch_size = 16
max_length = 16
[measure]
batch_size = 2
seq_len = 16
batches = 1
''')
    run_dir = run_recipe(load_recipe(recipe), out=tmp_path / "out", data=tmp_path / "no-data-root", progress=False)
    import json

    report = json.loads((run_dir / "report.json").read_text())
    trim = json.loads((run_dir / "trimmed" / "monoglot.json").read_text())
    assert trim["settings"]["corpora"] == [f"hf:{wiki}:20231101.sw [max_documents=150]"]
    assert trim["stats"]["corpus"]["documents"] == 150
    assert list(report["evaluation"]["student"]) == ["hf:Davlan/sib200:swh_Latn->hf:Davlan/sib200:swh_Latn"]
    files = sorted((run_dir / "eval").iterdir())  # one flat file per model and task, whatever the '/' in hub ids
    assert len(files) == 4 and all(f.is_file() for f in files)  # teacher, trimmed teacher, student-init, student
    assert "student__hf-Davlan_sib200-swh_Latn->hf-Davlan_sib200-swh_Latn.probe.json" in [f.name for f in files]
