"""ONNX export, int8 quantisation and onnxruntime inference of tiny random task models (monoglot.deploy)."""

from __future__ import annotations

import copy
import json
import random

import numpy as np
import pytest
import torch
from conftest import SWAHILI, make_tiny

from monoglot.deploy import (OnnxTaskModel, export_onnx, onnx_throughput, quantize_int8, weights_bytes)
from monoglot.errors import BadInput
from monoglot.measure import model_throughput
from monoglot.tasks.finetune import encode, load_for_task, predict, score
from monoglot.tasks.readers import TaskData

WORDS = " ".join(SWAHILI).replace(",", " ,").replace(".", " .").split() + ["the", "quick", "brown", "fox"]


def _sequence_task(n: int = 40) -> TaskData:
    rng = random.Random(0)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 25))) for _ in range(n)]
    return TaskData("toy-seq", "sequence", ["a", "b", "c"], {"test": [(t, rng.choice("abc")) for t in texts]})


def _token_task(n: int = 30) -> TaskData:
    rng = random.Random(1)
    tags = ["NOUN", "VERB", "ADJ", "PUNCT"]
    sents = [[rng.choice(WORDS) for _ in range(rng.randint(1, 30))] for _ in range(n)]
    return TaskData("toy-tok", "token", tags, {"test": [(s, [rng.choice(tags) for _ in s]) for s in sents]})


def _task_model(tmp_path_factory, name: str, task: TaskData, pooling: str = "cls", **tiny):
    """A tiny random BERT/XLM-R task model whose predictions vary with the input.

    At the default init (std 0.02) a random encoder gives nearly the same [CLS] state for every
    input, so every example gets one class; weight matrices drawn with std 0.2 make them differ.
    """
    d = make_tiny(tmp_path_factory.mktemp(name) / "model", **tiny)
    tokenizer, model = load_for_task(d, task, seed=0, pooling=pooling)
    torch.manual_seed(0)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.ndim == 2 and "embeddings" not in n:
                p.normal_(0, 0.2)
    return tokenizer, model.eval()


@pytest.fixture(scope="module")
def seq_bert(tmp_path_factory):
    """(task, tokenizer, model, onnx dir): BERT sequence classifier, hidden 128, 2 layers (big enough for int8 to pay)."""
    task = _sequence_task()
    tokenizer, model = _task_model(tmp_path_factory, "seq-bert", task, family="bert", layers=2, hidden=128, heads=4,
                                   ffn=512)
    out = export_onnx(model, tokenizer, tmp_path_factory.mktemp("onnx") / "seq-bert")
    return task, tokenizer, model, out


@pytest.fixture(scope="module")
def seq_bert_mean(tmp_path_factory):
    """As ``seq_bert`` with a mean-pooled head (monoglot.tasks.pooling), saved and reloaded as the
    pipeline's deployment rows do."""
    from monoglot.tasks.pooling import apply_classifier_pooling
    from monoglot.teachers.loader import load_saved_architecture

    task = _sequence_task()
    tokenizer, model = _task_model(tmp_path_factory, "seq-bert-mean", task, pooling="mean", family="bert", layers=2,
                                   hidden=128, heads=4, ffn=512)
    saved = tmp_path_factory.mktemp("tuned") / "seq-bert-mean"
    model.save_pretrained(saved)
    model = apply_classifier_pooling(load_saved_architecture(str(saved)))
    assert model.config.classifier_pooling == "mean"
    out = export_onnx(model, tokenizer, tmp_path_factory.mktemp("onnx") / "seq-bert-mean")
    return task, tokenizer, model, out


@pytest.fixture(scope="module")
def tok_xlmr(tmp_path_factory):
    """(task, tokenizer, model, onnx dir): XLM-R token classifier (Unigram tokenizer, padding_idx positions)."""
    task = _token_task()
    tokenizer, model = _task_model(tmp_path_factory, "tok-xlmr", task, family="xlmr", layers=2, hidden=32, heads=2,
                                   ffn=64)
    out = export_onnx(model, tokenizer, tmp_path_factory.mktemp("onnx") / "tok-xlmr")
    return task, tokenizer, model, out


def _padded(tokenizer, texts):
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    assert (enc["attention_mask"] == 0).any()  # the batch really is padded
    return enc["input_ids"], enc["attention_mask"]


@pytest.mark.parametrize("which", ["seq_bert", "seq_bert_mean", "tok_xlmr"])
def test_exported_logits_match_pytorch_with_padding(which, request):
    task, tokenizer, model, out = request.getfixturevalue(which)
    texts = ["na", "Watoto wanacheza mpira uwanjani baada ya shule, na walimu wanawatazama.", SWAHILI[0],
             "fox " * 40, "Mwanzo"]  # batch 5 and a length never seen at export time
    ids, mask = _padded(tokenizer, texts)
    with torch.inference_mode():
        ref = model(input_ids=ids, attention_mask=mask).logits.numpy()
    got = OnnxTaskModel(out, threads=1).logits(ids.numpy(), mask.numpy())
    assert got.shape == ref.shape == ((5, 3) if which.startswith("seq") else (5, ids.shape[1], 4))
    if which == "tok_xlmr":  # padded positions are meaningless; compare every real token
        ref, got = ref[mask.numpy() == 1], got[mask.numpy() == 1]
    assert np.abs(got - ref).max() < 1e-4
    # self-contained: tokenizer, config and provenance beside the graph
    from transformers import AutoConfig, AutoTokenizer

    assert AutoTokenizer.from_pretrained(out)(texts[0])["input_ids"] == tokenizer(texts[0])["input_ids"]
    assert AutoConfig.from_pretrained(out).num_labels == len(task.labels)
    meta = json.loads((out / "monoglot.json").read_text())
    assert meta["stage"] == "export-onnx" and meta["stats"]["exporter"] == "torchscript+ort-transformer-optimizer"
    fused = meta["stats"]["fused_operators"]
    assert fused["Attention"] == 2 and fused["SkipLayerNormalization"] == 4  # 2 layers: attention and FFN residuals
    assert meta["stats"]["max_abs_diff"] < 1e-4


@pytest.mark.parametrize("which", ["seq_bert", "seq_bert_mean", "tok_xlmr"])
def test_onnx_predict_equals_finetune_predict(which, request):
    task, tokenizer, model, out = request.getfixturevalue(which)
    token = task.kind == "token"
    data = encode(tokenizer, task, "test", max_length=24)  # truncates some: None for words cut away
    if token:
        assert data.truncated > 0
    pad = tokenizer.pad_token_id
    ref = predict(model, data, pad, batch_size=8, token=token)
    got = OnnxTaskModel(out, threads=1).predict(data, pad, batch_size=8, token=token)
    assert got == ref
    assert len({p for s in got for p in s} if token else set(got)) > 1  # not a constant predictor
    assert score(task, "test", got) == score(task, "test", ref)


def test_int8_smaller_and_agrees(seq_bert, tmp_path):
    task, tokenizer, _, fp32 = seq_bert
    q = quantize_int8(fp32, tmp_path / "int8")
    assert weights_bytes(q) < 0.5 * weights_bytes(fp32)
    assert {"config.json", "tokenizer.json", "monoglot.json"} <= {p.name for p in q.iterdir()}
    assert json.loads((q / "monoglot.json").read_text())["stage"] == "quantize-int8"
    data = encode(tokenizer, task, "test", max_length=64)
    a = OnnxTaskModel(fp32, threads=1).predict(data, tokenizer.pad_token_id, 16, False)
    b = OnnxTaskModel(q, threads=1).predict(data, tokenizer.pad_token_id, 16, False)
    assert np.mean([x == y for x, y in zip(a, b)]) >= 0.9
    with pytest.raises(BadInput, match="already exists"):
        quantize_int8(fp32, q)


def test_onnx_throughput_same_shape_as_pytorch(seq_bert):
    _, _, model, out = seq_bert
    got = onnx_throughput(out, batch_size=4, seq_len=16, batches=1, threads=1)
    ref = model_throughput(model, batch_size=4, seq_len=16, batches=1)
    assert got.keys() == ref.keys()
    assert got["sequences_per_second"] > 0 and got["seconds_per_batch"] > 0
    assert (got["batch_size"], got["seq_len"], got["threads"]) == (4, 16, 1)


def test_bad_inputs(tmp_path, seq_bert):
    empty = tmp_path / "empty"
    empty.mkdir()
    for call in (lambda: OnnxTaskModel(empty), lambda: weights_bytes(empty), lambda: onnx_throughput(empty),
                 lambda: quantize_int8(empty, tmp_path / "q")):
        with pytest.raises(BadInput, match="model.onnx not found") as e:
            call()
        assert "\n" not in str(e.value)
    assert not (tmp_path / "q").exists()
    (empty / "model.onnx").write_bytes(b"not a graph")
    with pytest.raises(BadInput, match="onnxruntime cannot load"):
        OnnxTaskModel(empty)
    _, tokenizer, model, _ = seq_bert
    with pytest.raises(BadInput, match="ForSequenceClassification"):
        export_onnx(model.bert, tokenizer, tmp_path / "bare")
    with pytest.raises(BadInput, match="fp32"):
        export_onnx(copy.deepcopy(model).to(torch.bfloat16), tokenizer, tmp_path / "bf16")
    assert not (tmp_path / "bare").exists() and not (tmp_path / "bf16").exists()


def test_export_mismatch_raises_and_writes_nothing(tok_xlmr, tmp_path, monkeypatch):
    _, tokenizer, model, _ = tok_xlmr
    real = OnnxTaskModel.logits
    monkeypatch.setattr(OnnxTaskModel, "logits", lambda self, i, m: real(self, i, m) + 0.01)
    with pytest.raises(RuntimeError, match=r"max \|logit difference\| 0\.01"):
        export_onnx(model, tokenizer, tmp_path / "bad")
    assert not (tmp_path / "bad").exists() and list(tmp_path.iterdir()) == []
