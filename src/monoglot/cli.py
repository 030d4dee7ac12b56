"""The ``monoglot`` command line: one command per stage, plus ``run`` and ``report``. No logic of its own."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from .distill.settings import AdaptSettings, DistillSettings
from .errors import BadInput, Interrupted, Terminated, first_validation_error
from .files import slug
from .recipe import DataSection
from .shrink.settings import ShrinkSettings
from .tasks.settings import FinetuneSettings, parse_lr_grid
from .vocab.settings import VocabPolicy

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Compress a multilingual encoder into a small model for one language.")


def _opt(settings, name: str, *decls: str, help: str | None = None):
    """A typer option whose default (and, unless ``help`` is given, help text) is the pydantic
    field ``name`` of ``settings``: the settings classes are the one source of every default."""
    field = settings.model_fields[name]
    text = help or field.description[0].upper() + field.description[1:] + "."
    return typer.Option(field.get_default(call_default_factory=True), *decls, help=text)


NoProgress = typer.Option(False, "--quiet", help="Hide progress bars.")
TextColumn = _opt(DataSection, "text_column")
MaxDocuments = typer.Option(None, "--max-documents", help="Read at most this many documents of each corpus (e.g. of a large hub corpus).")
MaxWords = typer.Option(None, "--max-words", help="Stop reading each corpus after the document that reaches this many words.")


def _corpora(names: List[str], max_documents: Optional[int], max_words: Optional[int]) -> list:
    """The --corpus values with the caps attached (plain strings when there are none)."""
    if max_documents is None and max_words is None:
        return list(names)
    from .corpus import CorpusRef

    return [CorpusRef(n, max_documents=max_documents, max_words=max_words) for n in names]


@app.callback()
def _options(allow_pickle: bool = typer.Option(False, "--allow-pickle", help="Also load pickled weights (pytorch_model.bin); unpickling can run code, so only for files you trust.")) -> None:
    """Compress a multilingual encoder into a small model for one language."""
    if allow_pickle:
        from .teachers.loader import allow_pickle as allow

        allow(True)


@app.command()
def teacher(name: str = typer.Argument(..., help="e5-small (the embedded default), a model directory, or a hub id."),
            out: Path = typer.Option(..., "--out", help="Directory to write (must not exist)."),
            trust_remote_code: bool = typer.Option(False, help="Allow the model's own code from the hub (unsafe).")) -> None:
    """Write a teacher as a plain Hugging Face model directory (converting the embedded e5-small)."""
    import shutil

    from .artifacts import atomic_dir, save_tokenizer, write_meta
    from .teachers import EMBEDDED, load_tokenizer, resolve_model
    from .teachers.loader import load_saved_architecture

    with atomic_dir(out) as tmp:
        path = resolve_model(name, trust_remote_code=trust_remote_code)
        if name in EMBEDDED:
            for f in Path(path).iterdir():
                (shutil.copytree if f.is_dir() else shutil.copy2)(f, tmp / f.name)
            from .st_format import write_sentence_transformers

            write_sentence_transformers(tmp)  # a cache converted before the sentence-transformers files existed
        else:
            load_saved_architecture(path).save_pretrained(tmp)
            save_tokenizer(load_tokenizer(path, trust_remote_code=trust_remote_code), tmp)
            write_meta(tmp, "teacher", name, {"name": name})
    typer.echo(str(out))


@app.command()
def trim(model: str = typer.Argument(..., help="Model directory, hub id, or e5-small."),
         out: Path = typer.Option(..., "--out", help="Directory to write (must not exist)."),
         corpus: List[str] = typer.Option([], "--corpus", help="Target text (.txt/.tsv/.jsonl, optionally .gz, or hf:DATASET[:CONFIG][:SPLIT]); repeat for several corpora (e.g. a source and a target language)."),
         min_count: int = _opt(VocabPolicy, "min_count", help="Keep pieces seen at least this many times in all corpora together."),
         min_doc_freq: Optional[int] = _opt(VocabPolicy, "min_doc_freq", help="Keep pieces found in at least this many documents (corpus segments)."),
         min_rel_freq: Optional[float] = _opt(VocabPolicy, "min_rel_freq", help="Keep pieces whose relative frequency reaches this in ANY corpus (bilingual, BiStil), e.g. 1e-6."),
         coverage: Optional[float] = _opt(VocabPolicy, "coverage", help="Keep the fewest most frequent pieces covering this fraction of token occurrences, e.g. 0.99."),
         top_n: Optional[int] = _opt(VocabPolicy, "top_n", help="Then keep at most the N most frequent pieces (default: no limit)."),
         keep_chars: bool = _opt(VocabPolicy, "keep_chars"),
         keep_token: List[str] = _opt(VocabPolicy, "keep_tokens", "--keep-token", help="A piece to always keep; repeatable."),
         pieces: Optional[Path] = typer.Option(None, "--pieces", help="Keep exactly the pieces listed in this file (.txt one per line, or .json list); --corpus optional."),
         text_column: str = TextColumn,
         max_documents: Optional[int] = MaxDocuments, max_words: Optional[int] = MaxWords,
         quiet: bool = NoProgress) -> None:
    """Vocabulary trimming: keep the pieces the corpus uses; exact on covered text. Thresholds compose."""
    from .vocab import trim_to_corpus

    policy = VocabPolicy(min_count=min_count, min_doc_freq=min_doc_freq, min_rel_freq=min_rel_freq, coverage=coverage,
                         top_n=top_n, keep_chars=keep_chars, keep_tokens=keep_token,
                         pieces_file=str(pieces) if pieces else None)
    trim_to_corpus(model, _corpora(corpus, max_documents, max_words), out, policy, text_column=text_column, progress=not quiet)
    _print_stats(out, skip=("coverage_curve",))


@app.command()
def shrink(model: str = typer.Argument(..., help="Model directory, hub id, or e5-small."),
           out: Path = typer.Option(..., "--out", help="Directory to write (must not exist)."),
           layers: Optional[int] = _opt(ShrinkSettings, "layers"),
           hidden: Optional[int] = _opt(ShrinkSettings, "hidden"),
           ffn: Optional[int] = _opt(ShrinkSettings, "ffn"),
           heads: Optional[int] = _opt(ShrinkSettings, "heads"),
           layer_strategy: str = _opt(ShrinkSettings, "layer_strategy"),
           head_strategy: str = _opt(ShrinkSettings, "head_strategy"),
           ffn_strategy: str = _opt(ShrinkSettings, "ffn_strategy"),
           hidden_strategy: str = _opt(ShrinkSettings, "hidden_strategy"),
           corpus: List[str] = typer.Option([], "--corpus", help="Target text for the importance and PCA strategies (a file or hf:DATASET[:CONFIG][:SPLIT]); repeatable."),
           importance_sequences: int = _opt(ShrinkSettings, "importance_sequences", help="Sequences of --seq-len tokens read for scoring."),
           seq_len: int = _opt(ShrinkSettings, "seq_len"),
           text_column: str = TextColumn,
           max_documents: Optional[int] = MaxDocuments, max_words: Optional[int] = MaxWords,
           measure: bool = typer.Option(True, help="Measure CPU throughput after each step (layers, FFN, heads and hidden)."),
           seed: int = _opt(ShrinkSettings, "seed"),
           quiet: bool = NoProgress) -> None:
    """Student initialisation: choose layers, then prune heads, FFN neurons and hidden size by importance."""
    from .shrink import shrink_to_dir

    s = ShrinkSettings(layers=layers, hidden=hidden, ffn=ffn, heads=heads, layer_strategy=layer_strategy,
                       head_strategy=head_strategy, ffn_strategy=ffn_strategy, hidden_strategy=hidden_strategy,
                       importance_sequences=importance_sequences, seq_len=seq_len, seed=seed)
    shrink_to_dir(model, out, s, corpora=_corpora(corpus, max_documents, max_words), text_column=text_column, measure={} if measure else None, progress=not quiet)
    _print_stats(out, skip=("choices",))


def _parse_weights(items: List[str]) -> dict:
    out = {}
    for it in items:
        name, _, w = it.partition("=")
        try:
            out[name.strip()] = float(w) if w else 1.0
        except ValueError:
            raise BadInput(f"--loss {it!r}: the weight must be a number, as in --loss logits=1.0") from None
    return out


@app.command()
def distill(teacher: str = typer.Argument(..., help="Teacher model directory (usually the trimmed, adapted teacher)."),
            student: str = typer.Argument(..., help="Student model directory (from shrink; same tokenizer)."),
            corpus: List[str] = typer.Option(..., "--corpus", help="Target-language text (a file or hf:DATASET[:CONFIG][:SPLIT]); repeatable."),
            out: Path = typer.Option(..., "--out", help="Directory to write (must not exist); checkpoints go to OUT.work."),
            source_corpus: List[str] = typer.Option([], "--source-corpus", help="Source-language text for bilingual distillation (BiStil); repeatable."),
            source_ratio: float = _opt(DistillSettings, "source_ratio", help="Fraction of batches from the source language (0.5 alternates)."),
            steps: int = _opt(DistillSettings, "steps", help="Optimizer steps."),
            batch_size: int = _opt(DistillSettings, "batch_size", help="Sequences per optimizer step, over all processes."),
            grad_accum: int = _opt(DistillSettings, "grad_accum", help="Micro-batches per optimizer step."),
            seq_len: int = _opt(DistillSettings, "seq_len", help="Tokens per sequence."),
            sentence_batch_size: Optional[int] = _opt(DistillSettings, "sentence_batch_size", help="Sentences per optimizer step for the sentence losses (default: --batch-size)."),
            group_by_length: bool = _opt(DistillSettings, "group_by_length", help="Sentence batches of similar length: less padding computed."),
            lr: float = _opt(DistillSettings, "lr", help="Peak learning rate (AdamW, linear warmup and decay)."),
            loss: List[str] = typer.Option([], "--loss", help="NAME=WEIGHT for logits, hidden, attention, relations, cosine, mlm, embedding, parallel, contrastive, similarity; repeatable; unnamed losses keep their defaults (hidden=1, attention=1)."),
            parallel: Optional[str] = typer.Option(None, "--parallel", help="SOURCE_FILE,TARGET_FILE: parallel text for the parallel (cross-lingual embedding) and contrastive losses: two line-aligned files, or verse-aligned Bibles (e.g. eng/bible_web.txt,swa/bible_suv.tsv)."),
            monolingual_share: float = _opt(DistillSettings, "monolingual_share", help="With --parallel: share of the sentence pairs that are --corpus segments paired with themselves (the corpus's domain)."),
            passage_share: float = _opt(DistillSettings, "passage_share", help="Share of the --corpus texts of the sentence losses that are passages of consecutive segments (longer text)."),
            passage_words: int = _opt(DistillSettings, "passage_words", help="Words per passage at least (with --passage-share)."),
            embedding_loss: str = _opt(DistillSettings, "embedding_loss", help="Distance of the embedding and parallel losses: mse or cosine."),
            contrastive_temperature: float = _opt(DistillSettings, "contrastive_temperature", help="Temperature of the contrastive and similarity losses."),
            contrastive_queue: int = _opt(DistillSettings, "contrastive_queue", help="Teacher embeddings of earlier batches kept as extra negatives of the contrastive and similarity losses (0: in-batch only)."),
            logit_loss: str = _opt(DistillSettings, "logit_loss", help="mse or kl (with --temperature)."),
            temperature: float = _opt(DistillSettings, "temperature", help="Temperature of the logit KL."),
            layer_map: Optional[str] = typer.Option(None, help="Teacher layer (1-based) per student layer, e.g. 3,6,9,12 (default: the layers shrink kept)."),
            hidden_projection: str = _opt(DistillSettings, "hidden_projection", help="learned (TinyBERT) or pca (fixed, BiStil) where hidden sizes differ."),
            attention_layers: str = _opt(DistillSettings, "attention_layers", help="last (MiniLM) or all (TinyBERT)."),
            attention_loss: str = _opt(DistillSettings, "attention_loss", help="kl or mse."),
            dropout: float = _opt(DistillSettings, "dropout", help="Student dropout while distilling (off by default: soft targets regularise, and it halves CPU speed)."),
            keep_dropout: bool = typer.Option(False, "--keep-dropout", help="Use the student's own dropout instead of --dropout."),
            precision: str = _opt(DistillSettings, "precision", help="auto (bf16 where the CPU/GPU has bf16 matrix units, else fp32), no (fp32), bf16, bf16-teacher (only the frozen teacher in bf16) or fp16."),
            grad_checkpointing: bool = _opt(DistillSettings, "grad_checkpointing", help="Recompute activations in the backward pass (saves memory)."),
            val_every: int = _opt(DistillSettings, "val_every", help="Validate every N steps (0: before and after only)."),
            patience: Optional[int] = _opt(DistillSettings, "patience", help="Early stopping after N validations without improvement."),
            keep_best: bool = _opt(DistillSettings, "keep_best", help="Write the student of the best validation loss."),
            checkpoint_every: int = _opt(DistillSettings, "checkpoint_every", help="Checkpoint every N steps (and always on Ctrl-C / SIGTERM)."),
            resume: bool = typer.Option(False, "--resume", help="Continue from the newest checkpoint in OUT.work."),
            seed: int = _opt(DistillSettings, "seed", help="Random seed."),
            decontaminate: List[str] = typer.Option([], "--decontaminate", help="Task (e.g. sib200:swh_Latn) whose sentences are removed from the corpus; repeatable."),
            text_column: str = TextColumn,
            max_documents: Optional[int] = MaxDocuments, max_words: Optional[int] = MaxWords,
            data: Optional[Path] = typer.Option(None, help="Data root for --decontaminate tasks (default $MONOGLOT_DATA or ../shared/data)."),
            quiet: bool = NoProgress) -> None:
    """General distillation with any mix of the papers' losses; resumable; runs under `accelerate launch`."""
    from .distill import LossWeights
    from .distill import distill as run
    from .paths import data_root
    from .pipeline import evaluation_texts

    try:
        lmap = [int(x) for x in layer_map.split(",")] if layer_map else None
    except ValueError:
        raise BadInput(f"--layer-map {layer_map!r}: give comma-separated teacher layer numbers, e.g. 3,6,9,12") from None
    texts = evaluation_texts(decontaminate, data_root(data, must_exist=False)) if decontaminate else None
    pair = None
    if parallel is not None:
        pair = tuple(x.strip() for x in parallel.split(","))
        if len(pair) != 2 or not all(pair):
            raise BadInput(f"--parallel {parallel!r}: give two files, source first, separated by a comma, e.g. --parallel eng.txt,swa.txt")
    s = DistillSettings(steps=steps, batch_size=batch_size, grad_accum=grad_accum, seq_len=seq_len, lr=lr, seed=seed,
                        sentence_batch_size=sentence_batch_size, group_by_length=group_by_length, monolingual_share=monolingual_share,
                        passage_share=passage_share, passage_words=passage_words,
                        loss=LossWeights(**_parse_weights(loss)), logit_loss=logit_loss, temperature=temperature,
                        embedding_loss=embedding_loss, contrastive_temperature=contrastive_temperature, contrastive_queue=contrastive_queue,
                        layer_map=lmap, hidden_projection=hidden_projection, attention_layers=attention_layers,
                        attention_loss=attention_loss, dropout=None if keep_dropout else dropout, precision=precision,
                        grad_checkpointing=grad_checkpointing, source_ratio=source_ratio, val_every=val_every,
                        patience=patience, keep_best=keep_best, checkpoint_every=checkpoint_every, text_column=text_column)
    run(teacher, student, _corpora(corpus, max_documents, max_words), out, s,
        source_corpora=_corpora(source_corpus, max_documents, max_words), eval_texts=texts, parallel=pair, resume=resume, progress=not quiet)
    if out.is_dir():  # only the main process writes it
        _print_stats(out, skip=("validations",))


@app.command()
def adapt(teacher: str = typer.Argument(..., help="Teacher model directory (usually the trimmed teacher), or e5-small."),
          corpus: List[str] = typer.Option(..., "--corpus", help="Target-language text (a file or hf:DATASET[:CONFIG][:SPLIT]); repeatable."),
          out: Path = typer.Option(..., "--out", help="Directory to write (must not exist)."),
          head_steps: int = _opt(AdaptSettings, "head_steps"),
          mlm_steps: int = _opt(AdaptSettings, "mlm_steps"),
          batch_size: int = _opt(AdaptSettings, "batch_size"),
          seq_len: int = _opt(AdaptSettings, "seq_len"),
          lr: float = _opt(AdaptSettings, "lr"),
          resume: bool = typer.Option(False, "--resume", help="Continue from the newest checkpoint."),
          seed: int = _opt(DistillSettings, "seed", help="Random seed."),
          text_column: str = TextColumn,
          max_documents: Optional[int] = MaxDocuments, max_words: Optional[int] = MaxWords,
          quiet: bool = NoProgress) -> None:
    """Teacher adaptation: train an MLM head on the frozen body, then continued MLM (Gurgurov et al. step 0)."""
    from .distill import adapt_teacher

    a = AdaptSettings(head_steps=head_steps, mlm_steps=mlm_steps, lr=lr, batch_size=batch_size, seq_len=seq_len)
    adapt_teacher(teacher, _corpora(corpus, max_documents, max_words), out, a, settings=a.distill_settings(seed=seed, text_column=text_column),
                  resume=resume, progress=not quiet)
    if out.is_dir():
        _print_stats(out, skip=("validations",))


@app.command()
def evaluate(models: List[str] = typer.Argument(..., help="Model directories or hub ids."),
             task: List[str] = typer.Option(..., "--task", help="FAMILY:LANG (sib200:swh_Latn, masakhapos:swa, masakhaner2:swa, afrisenti:swa, ud:UD_Welsh-CCG), SRC->TGT for zero-shot transfer (sib200:eng_Latn->sib200:swh_Latn), a folder of train/dev/test files, or hf:DATASET; with --method probe also flores:eng_Latn-swh_Latn or bitext:FILE1,FILE2 (bitext mining); repeatable."),
             out: Path = typer.Option(..., "--out", help="Directory for the results (created; must not exist)."),
             method: str = _opt(FinetuneSettings, "method", help="full fine-tuning, lt-sft (sparse, BiStil), lora (peft, frozen body), or probe (frozen encoder, MTEB's protocol; also flores:SRC-TGT and bitext:FILE1,FILE2 tasks)."),
             epochs: int = _opt(FinetuneSettings, "epochs"),
             patience: Optional[int] = _opt(FinetuneSettings, "patience", help="Early stopping: stop after this many epochs without a better dev score (counting only epochs above the majority class's); default: run every epoch."),
             lr: float = _opt(FinetuneSettings, "lr"),
             lr_grid: Optional[str] = typer.Option(None, help="Comma-separated learning rates; the best on dev is used (see --lr-selection), e.g. 5e-5,2e-4,5e-4."),
             lr_selection: str = _opt(FinetuneSettings, "lr_selection", help="How the rate is chosen on dev: first-seed (one run per rate) or seed-mean (every seed at every rate, the best mean dev score; steadier on small dev sets)."),
             seeds: int = _opt(FinetuneSettings, "seeds"),
             density: float = _opt(FinetuneSettings, "density"),
             pooling: str = _opt(FinetuneSettings, "pooling", help="What a sequence head reads: cls (the first token), mean (the mean over the tokens), or auto (mean for a directory with sentence-transformers mean pooling, such as e5 and monoglot's outputs; else cls)."),
             teacher: Optional[Path] = typer.Option(None, help="A task-tuned teacher directory (same task and tokenizer): task distillation."),
             distill_alpha: float = _opt(FinetuneSettings, "distill_alpha", help="With --teacher: weight of the gold-label loss; 1 - alpha goes to the teacher's soft labels."),
             distill_temperature: float = _opt(FinetuneSettings, "distill_temperature", help="With --teacher: softmax temperature of the soft labels."),
             distill_hidden: float = _opt(FinetuneSettings, "distill_hidden", help="With --teacher: weight of TinyBERT's hidden-state loss, each student layer against the teacher layer it was distilled against, in shrink's basis (0: off)."),
             distill_attention: float = _opt(FinetuneSettings, "distill_attention", help="With --teacher: weight of the last-layer attention KL (0: off)."),
             transfer_corpus: List[str] = typer.Option([], "--transfer-corpus", help="With --teacher, on sentence tasks: unlabeled text in the tasks' language (a corpus file, as --corpus takes); --transfer sentences of it, less those sharing an 8-word span with any --task, join the training set with the teacher's soft labels only (a transfer set; TinyBERT's data augmentation). Repeatable."),
             transfer: int = typer.Option(2000, help="Sentences sampled (seeded) from --transfer-corpus."),
             text_column: str = TextColumn,
             batch_size: int = _opt(FinetuneSettings, "batch_size"),
             max_length: int = _opt(FinetuneSettings, "max_length"),
             seed: int = _opt(FinetuneSettings, "seed"),
             save_models: bool = typer.Option(False, "--save-models", help="Keep each fine-tuned task model (the first seed's, at the chosen rate) in OUT/models/MODEL__TASK/: a transformers directory to deploy, or the task teacher that --teacher takes."),
             data: Optional[Path] = typer.Option(None, help="Data root (default $MONOGLOT_DATA or ../shared/data)."),
             quiet: bool = NoProgress) -> None:
    """Fine-tune and test each model on each task, the same way for every model; selection on dev only.
    With --method probe: frozen-encoder probes with MTEB's protocol instead (no fine-tuning).
    Task distillation in two runs: the trimmed teacher with --save-models, then the student with
    --teacher OUT/models/MODEL__TASK (same tokenizer)."""
    from .artifacts import atomic_dir, check_new_output
    from .paths import data_root
    from .tasks import evaluate as run_eval, load_task
    from .teachers import load_tokenizer, resolve_model

    root = data_root(data, must_exist=False)  # hf: tasks need none; FAMILY:LANG names say what is missing
    check_new_output(out)
    paths = [resolve_model(m) for m in models]
    if method == "probe":
        from .tasks.probe import probe_model

        if save_models:
            raise BadInput("--save-models keeps fine-tuned task models, and --method probe fine-tunes none: drop one of them")

        def run_model(name: str, p, tmp: Path) -> dict:
            return probe_model(p, list(task), root, progress=not quiet, seed=seed)
    else:  # every model, tokenizer, task and setting is checked before any fine-tuning
        tasks = {t: load_task(t, root) for t in task}
        token_task = any(t.kind == "token" for t in tasks.values())
        for p in paths:
            load_tokenizer(p, require_fast=token_task)
        teacher_dir = resolve_model(teacher) if teacher is not None else None
        sentences = _transfer_set(transfer_corpus, transfer, text_column, teacher, tasks, root, seed)
        grid = parse_lr_grid(lr_grid)
        slugs = [slug(m) for m in models]
        twins = [x for x in slugs if slugs.count(x) > 1]
        if save_models and twins:
            raise BadInput(f"--save-models: two models would share the folder models/{twins[0]}__TASK; give each model once, by distinct paths")
        distill = dict(distill_alpha=distill_alpha, distill_temperature=distill_temperature, distill_hidden=distill_hidden,
                       distill_attention=distill_attention)
        s = FinetuneSettings(epochs=epochs, patience=patience, lr=lr, batch_size=batch_size, max_length=max_length, seed=seed, seeds=seeds,
                             lr_grid=grid, lr_selection=lr_selection, method=method, density=density, pooling=pooling, **distill)
        changed = [k for k, v in distill.items() if v != FinetuneSettings.model_fields[k].default]
        if teacher is None and changed:
            raise BadInput(f"--{changed[0].replace('_', '-')} is a task-distillation setting: give --teacher DIR (a task-tuned teacher) or drop it")
        if teacher_dir is not None and distill_hidden > 0:
            from transformers import AutoConfig

            from .tasks.task_distill import hidden_basis

            width = AutoConfig.from_pretrained(teacher_dir).hidden_size
            for p in paths:
                hidden_basis(width, AutoConfig.from_pretrained(p).hidden_size, p if Path(p).is_dir() else None)

        def run_model(name: str, p, tmp: Path) -> dict:
            results = {}
            for t in task:
                keep = Path("models") / f"{slug(name)}__{slug(t)}" if save_models else None
                results[t] = run_eval(p, tasks[t], s, progress=not quiet, teacher=teacher, transfer=sentences,
                                      save_to=tmp / keep if keep else None)
                if keep:
                    results[t]["saved_to"] = str(keep)
            return results
    with atomic_dir(out) as tmp:
        results = {m: run_model(m, p, tmp) for m, p in zip(models, paths)}
        (tmp / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    _print_results(results)
    if save_models:
        print(f"task models: {out / 'models'}/ (one per model and task; --teacher takes one, 'monoglot export' turns one into ONNX)")


def _transfer_set(corpora: List[str], count: int, text_column: str, teacher: Optional[Path], tasks: dict, root: Path,
                  seed: int) -> Optional[list[str]]:
    """``monoglot evaluate``'s transfer set (:func:`monoglot.tasks.transfer.transfer_sentences`),
    decontaminated against every split of every task; None without ``--transfer-corpus``.

    Raises:
        BadInput: no ``--teacher``; a token task among ``tasks``.
    """
    if not corpora:
        return None
    if teacher is None:
        raise BadInput("--transfer-corpus needs --teacher DIR: the task teacher labels the transfer set")
    token = [name for name, t in tasks.items() if t.kind != "sequence"]
    if token:
        raise BadInput(f"--transfer-corpus: {', '.join(token)} is a token task; a transfer set of sentences serves sentence tasks only")
    from .tasks.readers import task_texts
    from .tasks.transfer import transfer_sentences

    return transfer_sentences(corpora, text_column, [x for t in tasks.values() for x in task_texts(t)], count, seed=seed)


def _print_results(results: dict[str, dict[str, dict]]) -> None:
    """One line per (model, task): every metric as mean±std (fractions in [0, 1])."""
    for m, per in results.items():
        for t, r in per.items():
            typer.echo(f"{m}\t{t}\t{r.get('method', '')}\t" + "\t".join(f"{k}={v:.4f}±{r['std'].get(k, 0.0):.4f}" for k, v in r["metrics"].items()))


@app.command()
def run(recipe: Path = typer.Argument(..., help="Recipe TOML, e.g. recipes/swahili.toml."),
        out: Optional[Path] = typer.Option(None, "--out", help="Output root (default: the recipe's 'out'); the run goes to OUT/<name>/."),
        data: Optional[Path] = typer.Option(None, help="Data root (default $MONOGLOT_DATA or ../shared/data)."),
        set_: List[str] = typer.Option([], "--set", help="Override a recipe key: KEY=VALUE, a dotted key and a TOML value; repeatable, e.g. --set distill.steps=2400 --set name=swahili-2400 (a new name keeps the old run)."),
        quiet: bool = NoProgress) -> None:
    """Run the whole pipeline of a recipe; finished stages with the same settings are skipped."""
    from .pipeline import run_recipe
    from .recipe import load_recipe

    run_dir = run_recipe(load_recipe(recipe, set_), out, data, progress=not quiet)
    typer.echo((run_dir / "report.md").read_text())


@app.command()
def data(recipe: Path = typer.Argument(..., help="Recipe TOML, e.g. recipes/swahili.toml."),
         fetch: bool = typer.Option(False, "--fetch", help="Download the hub datasets and hub teacher the recipe reads into the cache, so that runs work offline."),
         root: Optional[Path] = typer.Option(None, "--data", help="Data root (default $MONOGLOT_DATA or ../shared/data).")) -> None:
    """List every file and hub dataset a recipe reads and whether it is here; --fetch downloads the hub ones."""
    from .datacheck import check_recipe_data

    check_recipe_data(recipe, root, fetch)


@app.command()
def report(run_dir: Path = typer.Argument(..., help="A run directory written by 'monoglot run' (holds recipe.json).")) -> None:
    """Re-measure the models of a finished run and rewrite its report.md / report.json (cached evaluations are reused)."""
    from .artifacts import read_meta, settings_hash
    from .paths import data_root
    from .pipeline import finish_run
    from .recipe import Recipe
    from .teachers import resolve_model

    f = run_dir / "recipe.json"
    if not f.is_file():
        raise BadInput(f"{run_dir} holds no recipe.json; pass the directory that 'monoglot run' wrote (OUT/<name>)")
    recipe = Recipe.model_validate_json(f.read_text())
    labels = {"trimmed teacher": run_dir / "trimmed", **({"assistant": run_dir / "assistant"} if recipe.assistant else {}),
              "student-init": run_dir / "student-init", "student": run_dir / "student"}
    for label, p in labels.items():
        if not read_meta(p).get("settings_hash"):
            raise BadInput(f"{p} is missing or incomplete; finish the run with 'monoglot run' first")
    models = {"teacher": (resolve_model(recipe.teacher), settings_hash("teacher", recipe.teacher)),
              **{k: (p, read_meta(p)["settings_hash"]) for k, p in labels.items()}}
    finish_run(run_dir, recipe, models, data_root(must_exist=False), progress=True, remeasure=True)
    typer.echo((run_dir / "report.md").read_text())


@app.command()
def embed(model: str = typer.Argument(..., help="Model directory, hub id, or e5-small."),
          file: Path = typer.Argument(..., help="UTF-8 text file, one text per line."),
          out: Path = typer.Option(..., "--out", help="Where to write the embeddings: .npy or .safetensors."),
          kind: str = typer.Option("query", "--kind", help="Prompt kind: query (classification, queries) or passage (documents)."),
          batch_size: int = typer.Option(32, "--batch-size", help="Texts per forward pass."),
          max_length: int = typer.Option(512, "--max-length", help="Tokens per text at most (longer texts are truncated)."),
          overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output file."),
          quiet: bool = NoProgress) -> None:
    """Write the L2-normalised sentence embeddings of every line of FILE (one row per line)."""
    from .embed import embed_file

    emb = embed_file(model, file, out, kind=kind, batch_size=batch_size, max_length=max_length,
                     overwrite=overwrite, progress=not quiet)
    typer.echo(f"{out}: {emb.shape[0]} x {emb.shape[1]} float32")


@app.command()
def export(model: str = typer.Argument(..., help="A fine-tuned task model: OUT/models/MODEL__TASK of 'evaluate --save-models', or any BERT / XLM-R *ForSequenceClassification or *ForTokenClassification directory or hub id."),
           out: Path = typer.Option(..., "--out", help="Directory for the ONNX model (created; must not exist unless --overwrite)."),
           int8: bool = typer.Option(False, "--int8", help="Dynamic int8 quantisation (onnxruntime): int8 weights with one scale per output channel, a quarter of the bytes, integer kernels (VNNI where the CPU has it)."),
           per_tensor: bool = typer.Option(False, "--per-tensor", help="With --int8: one scale per weight tensor instead of per output channel (as fast, and it lost more: SIB-200 swh 71.2 against 74.3 per channel, the fp32 model's 75.0)."),
           optimize: bool = typer.Option(True, "--optimize/--no-optimize", help="Fuse attention and layer norms with onnxruntime's transformer optimizer; --no-optimize exports the plain graph."),
           score: bool = typer.Option(False, "--score", help="Score the test split with PyTorch and with the ONNX model, side by side, on the model's task (from MODEL/task-result.json, or --task)."),
           task: Optional[str] = typer.Option(None, "--task", help="The task MODEL was fine-tuned on (FAMILY:LANG, a folder, hf:DATASET); implies --score."),
           throughput: bool = typer.Option(False, "--throughput", help="Measure CPU throughput of PyTorch fp32 and the ONNX model side by side (32 x 128 random tokens, alternating rounds)."),
           threads: Optional[int] = typer.Option(None, min=1, help="onnxruntime's threads for --score; both PyTorch's and onnxruntime's for --throughput (default: PyTorch's)."),
           data: Optional[Path] = typer.Option(None, help="Data root for --score (default $MONOGLOT_DATA or ../shared/data)."),
           overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out.")) -> None:
    """Export a fine-tuned task model to ONNX (fp32, or int8 with --int8), checked against PyTorch;
    --score compares their test scores."""
    from .export import export_and_score
    from .paths import data_root

    if per_tensor and not int8:
        raise BadInput("--per-tensor chooses int8 scales: add --int8, or drop --per-tensor")
    r = export_and_score(model, out, int8=int8, per_channel=not per_tensor, optimize=optimize, overwrite=overwrite,
                         task=task, score=score, data_root=data_root(data, must_exist=False), threads=threads,
                         throughput=throughput)
    stats = r["stats"]
    fp32 = stats.get("fp32_export", stats)
    kind = f"int8 ({'per tensor' if per_tensor else 'per channel'})" if int8 else "fp32"
    mb = (lambda b: f"{b / 1e6:.1f} MB")
    typer.echo(f"{out}: ONNX {kind} of {model}, weights {mb(stats['weights_bytes'])}"
               + (f" (fp32 graph {mb(fp32['weights_bytes'])})" if int8 else "")
               + f"; {fp32['exporter']} exporter; fp32 logits within {fp32['max_abs_diff']:.1e} of PyTorch's")
    if r["scores"] is not None:
        m = r["metric"]
        typer.echo(f"test {m} on {r['task']} ({r['n_test']} examples): "
                   f"PyTorch {100 * r['scores']['pytorch'][m]:.1f}, ONNX {kind} {100 * r['scores']['onnx'][m]:.1f}")
    if r["throughput"] is not None:
        t = r["throughput"]
        typer.echo(f"throughput ({t['batch_size']} x {t['seq_len']} tokens, {t['threads']} threads, {t['cpu']['model']}): "
                   f"PyTorch fp32 {t['pytorch']:.1f} seq/s, ONNX {kind} {t['onnx']:.1f} seq/s ({t['ratio']:.2f}x)")


def _print_stats(out: Path, skip: tuple[str, ...] = ()) -> None:
    from .artifacts import read_meta

    stats = {k: v for k, v in read_meta(out).get("stats", {}).items() if k not in ("history", *skip)}
    typer.echo(json.dumps(stats, indent=2, default=str))


def _quiet_libraries() -> None:
    import os
    import warnings

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    warnings.filterwarnings("ignore", category=UserWarning)
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


STOPPED = "unfinished output was removed, finished outputs are kept; run the command again to redo it"


def _stop(signum: int, what: str | None = None) -> None:
    """Print one line for a run stopped by a signal and exit with 128 + the signal number (130, 143).

    ``what`` (default: the signal's name and what happened to the outputs) is the line's text."""
    import signal

    if what is None:
        name = signal.Signals(signum).name
        what = f"{'interrupted' if name == 'SIGINT' else 'terminated'} ({name}); {STOPPED}"
    typer.echo(f"stopped: {what}", err=True)
    sys.exit(128 + signum)


_SIGNALLED: list[int] = []  # signals received, so that a library that turns them into another error still exits 130/143


def _raise_terminated(signum, frame) -> None:
    _SIGNALLED.append(signum)
    raise Terminated()


def _raise_interrupt(signum, frame) -> None:
    _SIGNALLED.append(signum)
    raise KeyboardInterrupt


def _handle_sigterm() -> None:
    """Make SIGTERM raise :class:`Terminated` (as SIGINT raises ``KeyboardInterrupt``), unless the
    parent process chose to ignore it, and record both signals: C code that calls back into Python
    (torch building a tensor while safetensors writes, say) may replace the exception by its own
    ``ValueError``, and :func:`main` must still report the signal."""
    import signal

    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_terminated)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _raise_interrupt)


def _usage_errors() -> tuple[type[Exception], ...]:
    """click's usage errors, and typer's copies of them (newer typer releases ship their own click)."""
    import click

    errors = getattr(typer, "TyperException", None)
    return (click.ClickException, errors) if errors is not None else (click.ClickException,)


def main() -> None:
    """Entry point: run the app and turn its outcome into an exit status.

    Bad input becomes ``error: ...`` on stderr and status 2; SIGINT (Ctrl-C) and SIGTERM stop the
    command with one ``stopped: ...`` line and status 130 / 143, after the temporary output is
    removed (:func:`monoglot.artifacts.atomic_dir`).
    """
    import signal

    _handle_sigterm()
    try:
        _quiet_libraries()
        rc = app(standalone_mode=False)
    except BadInput as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
    except __import__("pydantic").ValidationError as e:
        _, where, what = first_validation_error(e)
        typer.echo(f"error: --{where.replace('_', '-')}: {what}", err=True)
        sys.exit(2)
    except Interrupted as e:
        _stop(e.signum, str(e))
    except (typer.Abort, KeyboardInterrupt):
        _stop(signal.SIGINT)
    except Terminated:
        _stop(signal.SIGTERM)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except _usage_errors() as e:  # unknown option, missing argument, bad choice: one line, status 2
        ctx = getattr(e, "ctx", None)
        hint = f"; see '{ctx.command_path} --help'" if ctx is not None else ""
        typer.echo(f"error: {e.format_message().rstrip('.')}{hint}", err=True)
        sys.exit(2)
    except Exception:
        if not _SIGNALLED:
            raise
        _stop(_SIGNALLED[-1])
    if rc == 128 + signal.SIGINT:  # typer turns KeyboardInterrupt into Exit(130), returned without standalone mode
        _stop(signal.SIGINT)
    if isinstance(rc, int) and rc:
        sys.exit(rc)
