"""Deployment: export a fine-tuned task model to ONNX, quantise it to int8, run and measure it with onnxruntime.

An ONNX directory is self-contained: ``model.onnx`` (plus ``model.onnx.data`` when the weights are
stored outside the graph, only for models near protobuf's 2 GiB limit), the tokenizer and
``config.json`` (``save_pretrained``), and ``monoglot.json`` (stage, parent, settings, stats). The
graph takes ``input_ids`` and ``attention_mask`` (int64, ``[batch, seq]``, both axes dynamic) and
returns ``logits``: ``[batch, num_labels]`` for a sequence-classification model,
``[batch, seq, num_labels]`` for a token-classification model.

- :func:`export_onnx` exports with ``torch.onnx.export(dynamo=True)`` (the torch.export-based
  exporter; needs ``onnx`` and ``onnxscript``, works offline) and checks onnxruntime's logits
  against PyTorch's;
- :func:`quantize_int8` applies onnxruntime's dynamic int8 quantisation (int8 weights, activations
  quantised at run time);
- :class:`OnnxTaskModel` runs a directory on the CPU and predicts exactly as
  :func:`monoglot.tasks.finetune.predict`, so :func:`monoglot.tasks.finetune.score` scores it;
- :func:`onnx_throughput` measures it as :func:`monoglot.measure.model_throughput` measures PyTorch.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .artifacts import META, atomic_dir, save_tokenizer, write_meta
from .errors import BadInput, first_line
from .measure import time_batches

MODEL_FILE = "model.onnx"
SUPPORTED_TYPES = {"bert", "roberta", "xlm-roberta", "camembert", "xlm-roberta-xl"}
SUPPORTED_HEADS = ("ForSequenceClassification", "ForTokenClassification")
TOLERANCE = 1e-4  # max |logit difference| allowed between onnxruntime and PyTorch after export
EXTERNAL_DATA_BYTES = 1_500_000_000  # above this many weight bytes, store them outside the graph (protobuf: 2 GiB)

# Inputs for checking an export: different lengths so that the batch is padded, several scripts.
SAMPLE_TEXTS = [
    "Habari ya asubuhi, rafiki yangu.",
    "Serikali ya Tanzania imetangaza mpango mpya wa elimu kwa shule za msingi nchini kote.",
    "The quick brown fox jumps over the lazy dog.",
    "Watoto wanacheza mpira uwanjani baada ya shule, na walimu wanawatazama kwa furaha kubwa.",
    "Ndiyo.",
    "Le chat dort sur le canapé depuis ce matin.",
]


def _model_path(onnx_dir: str | Path) -> Path:
    path = Path(onnx_dir, MODEL_FILE)
    if not path.is_file():
        raise BadInput(f"{path} not found; pass a directory written by monoglot's ONNX export (export_onnx or quantize_int8)")
    return path


def _external_files(model_path: Path) -> list[Path]:
    """The external-data files that ``model_path``'s initializers point to (relative to its folder)."""
    import onnx

    model = onnx.load(str(model_path), load_external_data=False)
    names = set()
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                names.add(entry.value)
    return [model_path.parent / name for name in sorted(names)]


def weights_bytes(onnx_dir: str | Path) -> int:
    """Bytes on disk of an ONNX directory's weights: ``model.onnx`` plus its external-data files, if any.

    Raises:
        BadInput: ``onnx_dir`` has no ``model.onnx``.
    """
    path = _model_path(onnx_dir)
    return path.stat().st_size + sum(p.stat().st_size for p in _external_files(path) if p.is_file())


@contextlib.contextmanager
def _quiet_export():
    """Silence the exporters' deprecation/tracer warnings and the 'torchvision is not installed' log lines."""
    names = ("torch.onnx", "torch.onnx._internal.exporter._registration", "torch.export", "torch._dynamo")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


class _DropPreprocessHint(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def _check_model(model) -> bool:
    """Return ``True`` for a token-classification model; raise BadInput for anything unsupported."""
    name = type(model).__name__
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type not in SUPPORTED_TYPES or not name.endswith(SUPPORTED_HEADS):
        raise BadInput(f"cannot export {name} (model_type {model_type!r}) to ONNX; pass a BERT or XLM-R family "
                       f"*ForSequenceClassification or *ForTokenClassification model")
    import torch

    dtypes = {p.dtype for p in model.parameters()}
    if dtypes != {torch.float32}:
        raise BadInput(f"cannot export {name} with parameters of {sorted(map(str, dtypes))} to ONNX; "
                       f"convert it to fp32 with model.float() first")
    return name.endswith("ForTokenClassification")


def _sample_batch(tokenizer, texts: list[str], max_length: int) -> dict[str, np.ndarray]:
    """Tokenized ``texts`` padded to the longest, as int64 arrays ``[batch, seq]``, ``seq != batch``.

    torch.export gives inputs dimensions of equal size one symbol, which would tie the batch and
    sequence axes, so one more padding column is added when the two happen to be equal.
    """
    enc = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="np")
    ids, mask = enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64)
    if ids.shape[0] == ids.shape[1]:
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        ids = np.pad(ids, ((0, 0), (0, 1)), constant_values=pad)
        mask = np.pad(mask, ((0, 0), (0, 1)))
    return {"input_ids": ids, "attention_mask": mask}


def _max_length(model) -> int:
    from .positions import max_sequence_length

    return min(128, max_sequence_length(model.config))


def _torch_logits(model, batch: dict[str, np.ndarray]) -> np.ndarray:
    import torch

    device = next(model.parameters()).device
    with torch.inference_mode():
        out = model(input_ids=torch.from_numpy(batch["input_ids"]).to(device),
                    attention_mask=torch.from_numpy(batch["attention_mask"]).to(device))
    return out.logits.float().cpu().numpy()


def _max_diff(a: np.ndarray, b: np.ndarray, mask: np.ndarray, token: bool) -> float:
    """Max |a - b|, over real (unpadded) positions for token logits ``[batch, seq, labels]``."""
    if a.shape != b.shape:
        return float("inf")
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    if token:
        d = d[mask.astype(bool)]
    return float(d.max()) if d.size else 0.0


def export_onnx(model, tokenizer, out: str | Path, *, opset: int | None = None,
                texts: list[str] | None = None, overwrite: bool = False, optimize: bool = True) -> Path:
    """Export a fine-tuned task model to ``out/model.onnx`` and check it against PyTorch.

    Args:
        model: a BERT or XLM-R family ``*ForSequenceClassification`` or ``*ForTokenClassification``
            model in fp32 (put in eval mode here; its training flag is restored afterwards). Only
            ``input_ids`` and ``attention_mask`` are inputs: BERT's token types are all zero.
        tokenizer: its tokenizer; saved into ``out`` and used to make the check's inputs.
        out: the output directory (written atomically; must not exist unless ``overwrite``).
        opset: the ONNX opset (default: the exporter's own, 20 with torch 2.13).
        texts: texts for the check (default :data:`SAMPLE_TEXTS`); at least two, of different lengths.
        overwrite: replace an existing ``out``.
        optimize: fuse the graph with onnxruntime's transformer optimizer (see :func:`_export_fused`);
            if that fails, the plain export below is used.

    With ``optimize`` (the default), the graph is exported by the TorchScript exporter with eager
    attention and fused by onnxruntime's transformer optimizer (:func:`_export_fused`). Otherwise,
    or if that fails, the graph is exported with the torch.export-based exporter (``dynamo=True``) on a padded batch
    of the first half of ``texts``, with dynamic batch and sequence axes; where that exporter fails,
    the TorchScript exporter (``dynamo=False``) is tried. onnxruntime's logits are then compared
    with PyTorch's on that batch and on a batch of all ``texts`` (another shape), at every real
    (unpadded) position.

    Returns:
        ``out``, holding ``model.onnx`` (+ external weight files above 1.5 GB of weights), the
        tokenizer, ``config.json`` and ``monoglot.json`` (stats: ``max_abs_diff``, ``exporter``,
        ``fused_operators``, ``weights_bytes``, ``export_seconds``).

    Raises:
        BadInput: an unsupported model (architecture or dtype); ``out`` exists and not ``overwrite``.
        RuntimeError: onnxruntime's logits differ from PyTorch's by more than 1e-4 (the message
            names the maximum difference), or both exporters fail.
    """
    import torch

    token = _check_model(model)
    texts = list(texts or SAMPLE_TEXTS)
    if len(texts) < 2:
        raise BadInput("export_onnx needs at least two check texts (of different lengths); pass more texts")
    max_len = _max_length(model)
    first = _sample_batch(tokenizer, texts[:max(2, len(texts) // 2)], max_len)
    full = _sample_batch(tokenizer, texts, max_len)
    n_params = sum(p.numel() * p.element_size() for p in model.parameters())
    was_training = model.training
    model.eval()
    try:
        with atomic_dir(out, overwrite=overwrite) as tmp:
            path = tmp / MODEL_FILE
            t0 = time.perf_counter()
            external = n_params > EXTERNAL_DATA_BYTES
            fused = _export_fused(model, first, path, token, opset, external) if optimize else None
            exporter = "torchscript+ort-transformer-optimizer" if fused is not None else _export(model, first, path, token, opset, external)
            seconds = time.perf_counter() - t0
            onnx_model = OnnxTaskModel(tmp, threads=None)
            diff = max(_max_diff(_torch_logits(model, b), onnx_model.logits(b["input_ids"], b["attention_mask"]),
                                 b["attention_mask"], token) for b in (first, full))
            del onnx_model
            if not diff <= TOLERANCE:
                raise RuntimeError(f"ONNX export of {type(model).__name__} ({exporter} exporter) differs from PyTorch: "
                                   f"max |logit difference| {diff:.3g} > {TOLERANCE:g}")
            model.config.save_pretrained(tmp)
            save_tokenizer(tokenizer, tmp)
            write_meta(tmp, "export-onnx", getattr(model.config, "_name_or_path", None) or None,
                       {"opset": opset, "task_head": "token" if token else "sequence", "optimize": optimize},
                       {"exporter": exporter, "fused_operators": fused or {}, "max_abs_diff": diff, "weights_bytes": weights_bytes(tmp),
                        "export_seconds": round(seconds, 2), "torch_version": torch.__version__})
    finally:
        model.train(was_training)
    return Path(out)


def _torchscript_export(model, kwargs: dict, path: Path, token: bool, opset: int | None) -> None:
    import torch

    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
            "logits": {0: "batch", 1: "seq"} if token else {0: "batch"}}
    with _quiet_export():
        torch.onnx.export(model, (), str(path), kwargs=kwargs, dynamo=False, opset_version=opset or 17,
                          dynamic_axes=axes, do_constant_folding=True,
                          input_names=["input_ids", "attention_mask"], output_names=["logits"])


def _export_fused(model, batch: dict[str, np.ndarray], path: Path, token: bool, opset: int | None,
                  external: bool) -> dict[str, int] | None:
    """Export with fused transformer operators; return the count of each fused operator, or ``None``
    (nothing written) if export or fusion fails.

    onnxruntime's transformer optimizer (``onnxruntime.transformers.optimizer.optimize_model``,
    ``model_type="bert"``) rewrites the subgraphs of BERT-style encoders into its fused CPU kernels:
    ``EmbedLayerNormalization``, ``Attention`` (Q/K/V projections, softmax and context in one op),
    ``SkipLayerNormalization`` (residual + LayerNorm) and ``BiasGelu``. It recognises the patterns of
    the TorchScript exporter with eager attention (not those of the torch.export-based exporter or
    of SDPA), so the model is exported that way, with its attention implementation switched to
    ``eager`` for the export and restored afterwards.
    """
    import torch

    device = next(model.parameters()).device
    kwargs = {k: torch.from_numpy(v).to(device) for k, v in batch.items()}
    raw = path.with_name("raw-" + path.name)
    previous = model.config._attn_implementation
    try:
        model.set_attn_implementation("eager")
        _torchscript_export(model, kwargs, raw, token, opset)
        from onnxruntime.transformers.fusion_options import FusionOptions
        from onnxruntime.transformers.optimizer import optimize_model

        cfg = model.config
        with _quiet_export():
            fused = optimize_model(str(raw), model_type="bert", num_heads=cfg.num_attention_heads,
                                   hidden_size=cfg.hidden_size, optimization_options=FusionOptions("bert"), opt_level=0)
            fused.save_model_to_file(str(path), use_external_data_format=external)
        return {k: int(v) for k, v in fused.get_fused_operator_statistics().items() if v}
    except Exception as e:  # an architecture the optimizer does not know, an exporter failure, ...
        logging.getLogger(__name__).warning("fused ONNX export failed (%s: %s); exporting without fusion",
                                            type(e).__name__, first_line(e))
        for p in path.parent.glob(f"*{MODEL_FILE}*"):
            p.unlink()
        return None
    finally:
        model.set_attn_implementation(previous)
        for p in path.parent.glob(f"raw-{MODEL_FILE}*"):
            p.unlink()


def _export(model, batch: dict[str, np.ndarray], path: Path, token: bool, opset: int | None, external: bool) -> str:
    """Write ``path`` with the dynamo exporter, or the TorchScript one if that fails; return which ran."""
    import torch

    device = next(model.parameters()).device
    kwargs = {k: torch.from_numpy(v).to(device) for k, v in batch.items()}
    names = dict(input_names=["input_ids", "attention_mask"], output_names=["logits"])
    errors = []
    try:
        from torch.export import Dim

        b, s = Dim("batch"), Dim("seq")
        with _quiet_export():
            torch.onnx.export(model, (), str(path), kwargs=kwargs, dynamo=True, opset_version=opset,
                              dynamic_shapes={"input_ids": {0: b, 1: s}, "attention_mask": {0: b, 1: s}},
                              external_data=external, verbose=False, **names)
        return "dynamo"
    except Exception as e:  # onnxscript missing, an op torch.export cannot capture, ...
        errors.append(f"dynamo: {type(e).__name__}: {first_line(e)}")
        for p in path.parent.glob(f"{MODEL_FILE}*"):
            p.unlink()
    logging.getLogger(__name__).warning("torch.export-based ONNX export failed (%s); trying the TorchScript exporter",
                                        errors[0])
    try:
        _torchscript_export(model, kwargs, path, token, opset)
    except Exception as e:
        raise RuntimeError(f"ONNX export of {type(model).__name__} failed with both exporters: {errors[0]}; "
                           f"torchscript: {type(e).__name__}: {e}") from e
    return "torchscript"  # past 2 GiB it stores each large tensor in its own file beside model.onnx


def _copy_side_files(src: Path, dst: Path) -> None:
    """Copy everything but the graph, its external data and ``monoglot.json`` (tokenizer, config)."""
    skip = {MODEL_FILE, META} | {p.name for p in _external_files(src / MODEL_FILE)}
    for p in src.iterdir():
        if p.name in skip or p.name.startswith("."):
            continue
        if p.is_dir():
            shutil.copytree(p, dst / p.name)
        else:
            shutil.copy2(p, dst / p.name)


def quantize_int8(onnx_dir: str | Path, out: str | Path, *, per_channel: bool = False, overwrite: bool = False,
                  parent: str | None = None, extra_stats: dict[str, Any] | None = None) -> Path:
    """Dynamic int8 quantisation of ``onnx_dir/model.onnx`` into ``out/model.onnx``.

    onnxruntime's ``quantize_dynamic`` with int8 weights (``QuantType.QInt8``; one scale per tensor,
    or per output channel with ``per_channel``): the weights of every MatMul, fused ``Attention``
    (as ``QAttention``) and the embedding Gathers are stored as int8 with a scale; activations are
    quantised to uint8 at run time and the products computed with integer kernels (VNNI where the
    CPU has it). Small Gemm heads and LayerNorms stay fp32. The tokenizer and config are
    copied; ``monoglot.json`` records the parent (``onnx_dir``, or ``parent`` when given: the
    model an fp32 graph in a temporary folder came from), the bytes before and after, and
    ``extra_stats``.

    Returns:
        ``out`` (written atomically).

    Raises:
        BadInput: ``onnx_dir`` has no ``model.onnx``; ``out`` exists and not ``overwrite``.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    onnx_dir = Path(onnx_dir)
    src = _model_path(onnx_dir)
    before = weights_bytes(onnx_dir)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        t0 = time.perf_counter()
        model = onnx.load(str(src))
        # The dynamo exporter records a value_info (shape) for each weight; quantize_dynamic turns a
        # Gemm(transB=1) into a MatMul by transposing its weight in place but keeps that stale shape,
        # and its shape inference then fails ("Inferred shape and existing shape differ"). Shapes of
        # initializers are known from the initializers themselves, so drop those entries.
        weights = {t.name for t in model.graph.initializer}
        keep = [vi for vi in model.graph.value_info if vi.name not in weights]
        del model.graph.value_info[:]
        model.graph.value_info.extend(keep)
        hint = _DropPreprocessHint()
        logging.getLogger().addFilter(hint)
        try:
            # fused contrib operators (Attention, SkipLayerNormalization) escape ONNX shape
            # inference; their outputs are fp32, which DefaultTensorType tells the quantiser
            quantize_dynamic(model, tmp / MODEL_FILE, weight_type=QuantType.QInt8, per_channel=per_channel,
                             use_external_data_format=before > EXTERNAL_DATA_BYTES,
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        finally:
            logging.getLogger().removeFilter(hint)
        seconds = time.perf_counter() - t0
        _copy_side_files(onnx_dir, tmp)
        write_meta(tmp, "quantize-int8", parent or str(onnx_dir), {"weight_type": "QInt8", "per_channel": per_channel,
                                                                    "method": "onnxruntime.quantization.quantize_dynamic"},
                   {"weights_bytes": weights_bytes(tmp), "parent_weights_bytes": before,
                    "quantize_seconds": round(seconds, 2), **(extra_stats or {})})
    return Path(out)


def _default_threads() -> int:
    import torch

    return torch.get_num_threads()


class OnnxTaskModel:
    """An ONNX task model (a directory from :func:`export_onnx` or :func:`quantize_int8`) on the CPU.

    Args:
        onnx_dir: the directory holding ``model.onnx`` (and ``config.json``, read if present).
        threads: onnxruntime intra-op threads; default ``torch.get_num_threads()``, so that ONNX and
            PyTorch measurements use the same number of threads.

    Attributes:
        session: the ``onnxruntime.InferenceSession`` (CPUExecutionProvider, one inter-op thread).
        config: ``config.json`` as a dict (``{}`` when absent).
        threads: the intra-op thread count used.

    Raises:
        BadInput: ``onnx_dir`` has no ``model.onnx``, or onnxruntime cannot load it.
    """

    def __init__(self, onnx_dir: str | Path, threads: int | None = None):
        import onnxruntime as ort

        self.dir = Path(onnx_dir)
        path = _model_path(self.dir)
        cfg = self.dir / "config.json"
        self.config: dict[str, Any] = json.loads(cfg.read_text()) if cfg.is_file() else {}
        self.threads = int(threads or _default_threads())
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as e:
            first = first_line(e)
            raise BadInput(f"onnxruntime cannot load {path}: {first}; re-export it with monoglot's export_onnx") from e
        self.input_names = [i.name for i in self.session.get_inputs()]

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Run the model on one padded batch.

        Args:
            input_ids: token ids ``[batch, seq]`` (any integer dtype; cast to int64).
            attention_mask: 1 for real tokens, 0 for padding, ``[batch, seq]``.

        Returns:
            float32 logits, ``[batch, num_labels]`` (sequence model) or ``[batch, seq, num_labels]``
            (token model).
        """
        ids = np.ascontiguousarray(input_ids, dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ascontiguousarray(attention_mask, dtype=np.int64)}
        if "token_type_ids" in self.input_names:  # a graph exported elsewhere with token types
            feed["token_type_ids"] = np.zeros_like(ids)
        return self.session.run(["logits"], {k: v for k, v in feed.items() if k in self.input_names})[0]

    def predict(self, data, pad_id: int, batch_size: int, token: bool) -> list:
        """Class-id predictions for an encoded split, exactly as :func:`monoglot.tasks.finetune.predict`.

        Args:
            data: a :class:`monoglot.tasks.finetune.Encoded` split.
            pad_id: the tokenizer's padding id.
            batch_size: examples per batch (batched by length, as for PyTorch).
            token: a token task (one prediction per word) rather than a sequence task.

        Returns:
            one int per example (sequence), or per sentence a list with one int per word, ``None``
            for words truncated away (token); ready for :func:`monoglot.tasks.finetune.score`.
        """
        from .tasks.finetune import batches, collate

        preds: list = [None] * len(data.ids)
        for idx in batches([len(x) for x in data.ids], batch_size, None):
            b = collate(data, idx, pad_id, token)
            best = self.logits(b["input_ids"].numpy(), b["attention_mask"].numpy()).argmax(-1).tolist()
            for row, i in enumerate(idx):
                preds[i] = [best[row][p] if p >= 0 else None for p in data.first[i]] if token else best[row]
        return preds


def onnx_throughput(onnx_dir: str | Path, batch_size: int = 32, seq_len: int = 128, batches: int = 3,
                    threads: int | None = None, seed: int = 0) -> dict[str, float]:
    """CPU inference throughput of an ONNX task model with onnxruntime, in sequences per second.

    Measured as :func:`monoglot.measure.model_throughput` measures PyTorch: one warm-up batch, then
    ``batches`` timed batches of ``batch_size`` x ``seq_len`` random non-special token ids (ids in
    ``[5, vocab_size - 1)``, the same generator and seed) with a full attention mask. The ONNX graph
    includes the task head, which PyTorch's measurement leaves out (one or two small linear layers:
    negligible beside the encoder).

    Args:
        threads: onnxruntime intra-op threads; default ``torch.get_num_threads()`` (PyTorch's).

    Returns:
        ``{"sequences_per_second", "seconds_per_batch", "batch_size", "seq_len", "threads",
        "other_busy_cores"}`` (see :class:`monoglot.measure.BusyWatch`).

    Raises:
        BadInput: ``onnx_dir`` has no ``model.onnx``, or no ``config.json`` with ``vocab_size``.
    """
    import torch

    model = OnnxTaskModel(onnx_dir, threads=threads)
    vocab = model.config.get("vocab_size")
    if not vocab:
        raise BadInput(f"{Path(onnx_dir, 'config.json')} is missing or has no vocab_size; "
                       f"pass a directory written by monoglot's ONNX export")
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab - 1, (batch_size, seq_len), generator=g).numpy()
    mask = np.ones_like(ids)
    model.logits(ids, mask)
    dt, busy = time_batches(lambda: model.logits(ids, mask), batches)
    return {"sequences_per_second": batch_size / dt, "seconds_per_batch": dt, "batch_size": batch_size,
            "seq_len": seq_len, "threads": model.threads, "other_busy_cores": busy}
