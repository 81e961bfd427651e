"""Training, prediction, evaluation and safetensors checkpoints for the neural predictors.

:func:`train` fits one model from :data:`workscope.predictors.models.MODELS` on a
:class:`~workscope.predictors.dataset.Dataset`: inputs are standardized with training
statistics only (``Dataset.normalized``), batches are drawn by indexing tensors that already
live on the device, the loss is log-cosh in fp32 on standardized targets, the optimizer is
AdamW with a linear warm-up then cosine decay, and early stopping on the validation split
restores the best weights. On CUDA the forward pass runs under bf16 autocast.

Checkpoints are ``model.safetensors`` + ``config.json``; nothing is pickled and
``torch.load`` is never used.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from workscope.errors import TaskDataError, TaskSpecError, UnknownNameError, did_you_mean
from workscope.jsonable import json_ready
from workscope.predictors.dataset import Dataset
from workscope.predictors.models import (
    MAX_ELEMENTS,
    MAX_METRICS,
    MODEL_BOUNDS,
    ModelConfig,
    Regressor,
    build,
    config_problem,
    element_count,
)

log = logging.getLogger(__name__)

#: A progress report ``(message, done, total)``: ``done`` of ``total`` units of work finished.
Progress = Callable[[str, int, int], None]

CHECKPOINT_VERSION = 2  # 2: config.json carries the weights' sha256


@dataclass(frozen=True)
class TrainConfig:
    """How to train (optimizer, schedule, stopping, device)."""

    epochs: int = field(default=100, metadata={"help": "maximum passes over the training split"})
    batch_size: int = field(default=256, metadata={"help": "windows per optimizer step"})
    lr: float = field(default=1e-3, metadata={"help": "peak learning rate (after warm-up)"})
    weight_decay: float = field(default=1e-2, metadata={"help": "AdamW decoupled weight decay"})
    warmup_frac: float = field(default=0.05, metadata={"help": "fraction of all steps spent warming up"})
    patience: int = field(default=10, metadata={"help": "epochs without validation improvement before stopping"})
    seed: int = field(default=0, metadata={"help": "seeds initialization, shuffling and dropout"})
    device: str = field(default="auto", metadata={"help": "'auto' (CUDA if available), 'cpu', 'cuda', ..."})
    bf16: bool = field(default=True, metadata={"help": "bf16 autocast for the forward pass on CUDA"})
    compile: bool = field(default=False, metadata={"help": "torch.compile the model for training"})
    bucket: bool = field(default=True, metadata={
        "help": "batch windows of similar real length and cut their leading padding to a "
                "power-of-two length (length-invariant models only; exact, fewer FLOPs, few "
                "distinct shapes for torch.compile)"})
    loss_scale: float = field(default=1.0, metadata={
        "help": "log-cosh transition, in training-target stds: errors well below it are "
                "penalised quadratically, above it linearly (small values approach MAE)"})


@dataclass
class TrainResult:
    """A trained model and what happened while training it."""

    name: str
    model: Regressor
    model_cfg: ModelConfig
    train_cfg: TrainConfig
    metrics: list[str]
    target: str
    ratio_target: bool
    stats: dict[str, torch.Tensor]  # input normalization: per-metric "mean" and "std" (train split)
    history: list[dict[str, float]]  # per epoch: train_loss, val_loss, lr, seconds
    initial_val_loss: float  # the untrained model's validation loss (learning yardstick)
    best_epoch: int
    best_val_loss: float
    val: dict[str, float]  # evaluate() on the validation split (best weights)
    test: dict[str, float]  # evaluate() on the test split (best weights)
    device: str
    train_seconds: float
    train_windows_per_s: float
    predict_windows_per_s: float


#: The device types workscope runs on (an index may follow: "cuda:1"); "auto" picks CUDA when
#: present. Other torch device types (meta, xla, ...) cannot hold a model's weights here.
DEVICE_TYPES = ("auto", "cpu", "cuda", "mps", "xpu")


def resolve_device(device: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; anything else as given ("cuda:1" included).

    A name outside :data:`DEVICE_TYPES` raises :class:`~workscope.errors.UnknownNameError`; a
    device that this machine does not have (CUDA, MPS or XPU missing, a CUDA index past the
    last GPU) raises :class:`~workscope.errors.TaskSpecError`. Both are usage errors (exit 2).
    """
    if not isinstance(device, str):
        raise TaskSpecError(f"device must be a string such as 'cpu' or 'cuda', got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError):
        resolved = None
    if resolved is None or resolved.type not in DEVICE_TYPES:
        raise UnknownNameError("device", device, DEVICE_TYPES) from None
    available = {"cpu": lambda: True, "cuda": torch.cuda.is_available,
                 "mps": lambda: torch.backends.mps.is_available(),
                 "xpu": lambda: hasattr(torch, "xpu") and torch.xpu.is_available()}[resolved.type]
    if not available():
        raise TaskSpecError(f"device {device!r}: {resolved.type.upper()} is not available here; "
                            "use --device cpu or --device auto")
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise TaskSpecError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA "
                            f"device(s), numbered from 0; use --device cuda or --device auto")
    return resolved


def log_cosh(d: torch.Tensor) -> torch.Tensor:
    """Mean log(cosh(d)), computed stably in fp32 (cosh overflows for |d| > ~89)."""
    d = d.float()
    return (d + torch.nn.functional.softplus(-2.0 * d) - math.log(2.0)).mean()


def _lr_lambda(total: int, warmup: int):
    def f(step: int) -> float:
        if warmup > 0 and step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return f


def _batches(idx: torch.Tensor, size: int) -> list[torch.Tensor]:
    return [idx[i : i + size] for i in range(0, idx.numel(), size)]


def lead_padding(mask: torch.Tensor) -> torch.Tensor:
    """Leading padded (False) steps of each window: [N, T] bool -> [N] int64."""
    return (~mask.bool()).to(torch.int64).cumprod(dim=1).sum(dim=1)


def bucket_length(real: int, t: int) -> int:
    """The length a batch whose longest real span is ``real`` steps is cut to: the next power
    of two, at most ``t`` (the full window) and at least 1."""
    return min(t, 1 << max(0, int(real) - 1).bit_length())


def bucket_lengths(real: torch.Tensor, t: int) -> torch.Tensor:
    """:func:`bucket_length` of every element of ``real`` (vectorised)."""
    r = real.to(torch.int64).clamp_min(1)
    # exact for the integers a window can have: the next power of two via the bit length of r-1
    bits = torch.floor(torch.log2((r - 1).clamp_min(1).to(torch.float64))).to(torch.int64) + 1
    pow2 = torch.where(r <= 1, torch.ones_like(r), torch.ones_like(r) << bits)
    return pow2.clamp_max(t)


def trim(x_seq: torch.Tensor, mask: torch.Tensor, keep: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The last ``keep`` steps of each window (views; the cut steps must all be padding)."""
    t = x_seq.shape[1]
    return (x_seq, mask) if keep >= t else (x_seq[:, t - keep :], mask[:, t - keep :])


def _train_plan(idx: torch.Tensor, lead: torch.Tensor | None, t: int, size: int,
                gen: torch.Generator) -> list[tuple[torch.Tensor, int]]:
    """One epoch of (batch indices, steps to keep), shuffled with ``gen``.

    Without ``lead`` (no bucketing) the batches are a plain permutation at full length.
    With it, windows are grouped by the bucket of their real length, shuffled inside their
    bucket, and the batches of all buckets are then shuffled together.
    """
    perm = torch.randperm(idx.numel(), generator=gen)
    if lead is None:
        return [(b, t) for b in _batches(idx[perm.to(idx.device)], size)]
    keep = bucket_lengths(t - lead, t)[perm]
    shuffled = idx[perm.to(idx.device)]
    plan: list[tuple[torch.Tensor, int]] = []
    for k in torch.unique(keep).tolist():
        sel = torch.nonzero(keep == k).flatten().to(idx.device)
        plan += [(b, int(k)) for b in _batches(shuffled[sel], size)]
    order = torch.randperm(len(plan), generator=gen).tolist()
    return [plan[i] for i in order]


def _eval_plan(idx: torch.Tensor, lead: torch.Tensor | None, t: int, size: int
               ) -> list[tuple[torch.Tensor, torch.Tensor, int]]:
    """(positions in ``idx``, batch indices, steps to keep) covering ``idx`` once.

    With ``lead``, windows are sorted by real length so that each batch is cut to the
    longest real span it holds.
    """
    pos = torch.arange(idx.numel(), device=idx.device)
    if lead is None:
        return [(p, idx[p], t) for p in _batches(pos, size)]
    order = torch.argsort(lead.to(idx.device), descending=True, stable=True)
    plan = []
    for p in _batches(pos[order], size):
        shortest_lead = int(lead[p.cpu()].min())
        plan.append((p, idx[p], t - shortest_lead))
    return plan


def _lead_of(model: Regressor, ds: Dataset, idx: torch.Tensor, enabled: bool = True
             ) -> torch.Tensor | None:
    """Leading padding of windows ``idx`` (CPU) when ``model`` may be trimmed, else None."""
    if not (enabled and getattr(model, "length_invariant", False)):
        return None
    return lead_padding(ds.mask[idx]).cpu()


def _loss_on(model: Regressor, ds: Dataset, idx: torch.Tensor, scale: float, bs: int,
             autocast: bool, bucket: bool = True) -> float:
    """Mean log-cosh of the standardized error over ``idx`` (eval mode, no grad)."""
    if idx.numel() == 0:
        return float("nan")
    model.eval()
    total = 0.0
    t = ds.x_seq.shape[1]
    with torch.no_grad():
        for _, b, keep in _eval_plan(idx, _lead_of(model, ds, idx, bucket), t, bs):
            x_seq, mask = trim(ds.x_seq[b], ds.mask[b], keep)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                pred = model(x_seq, mask, ds.x_sys[b])
            total += log_cosh((pred.float() - ds.y[b]) / scale).item() * b.numel()
    return total / idx.numel()


def train(name: str, ds: Dataset, model_cfg: ModelConfig | None = None,
          train_cfg: TrainConfig | None = None, progress: Progress | None = None) -> TrainResult:
    """Train model ``name`` on ``ds`` (raw, un-normalized) and evaluate it on val and test.

    The returned model holds its normalization statistics and target scaling as buffers, so
    :func:`predict` works on raw datasets and :func:`save`/:func:`load` round-trip exactly.
    On CPU the run is deterministic under ``train_cfg.seed``. ``None`` configs mean defaults.

    ``progress(message, done, total)``, when given, is called after every epoch with ``done``
    epochs of ``total = train_cfg.epochs`` (message like ``"dlinear seed 0: epoch 3/20"``);
    an early stop reports ``done = total``, so the last call always ends the count.
    """
    model_cfg = model_cfg if model_cfg is not None else ModelConfig()
    train_cfg = train_cfg if train_cfg is not None else TrainConfig()
    _check_trainable(ds, train_cfg)
    device = resolve_device(train_cfg.device)
    model_cfg = _fit_max_len(model_cfg, ds.x_seq.shape[1])
    check_model_config(name, model_cfg, len(ds.metrics), ds.ratio_target)
    # Seeded before the model is built: initialization, then shuffling (gen) and dropout.
    torch.manual_seed(train_cfg.seed)
    gen = torch.Generator(device="cpu").manual_seed(train_cfg.seed)
    norm, stats = ds.normalized()
    y_loc, y_std = _target_scaling(ds)
    model = _new_model(name, ds, model_cfg, stats, y_loc, y_std).to(device)
    run = _Run(name=name, model=model, fwd=torch.compile(model) if train_cfg.compile else model,
               norm=norm.to(device), cfg=train_cfg, device=device,
               autocast=device.type == "cuda" and train_cfg.bf16,
               # Errors are divided by the training target's std so that log-cosh sits in its
               # quadratic-to-linear transition for any target scale (ratios included).
               scale=y_std * train_cfg.loss_scale,
               train=ds.split.train.to(device), val=ds.split.val.to(device), test=ds.split.test.to(device))
    return _final_evaluation(run, ds, model_cfg, stats, _fit(run, gen, progress))


def _check_trainable(ds: Dataset, cfg: TrainConfig) -> None:
    """Refuse a run that cannot train: no training windows, or a loss scale that is no scale."""
    if ds.split.train.numel() == 0:
        raise TaskDataError("the training split is empty")
    if not (cfg.loss_scale > 0 and math.isfinite(cfg.loss_scale)):
        raise TaskSpecError(f"loss_scale must be a positive number, got {cfg.loss_scale}")
    if not (cfg.lr >= 0 and math.isfinite(cfg.lr)):
        raise TaskSpecError(f"lr must be a finite number >= 0, got {cfg.lr}")
    for key in ("epochs", "batch_size"):
        if getattr(cfg, key) < 1:
            raise TaskSpecError(f"{key} must be >= 1, got {getattr(cfg, key)}")


def check_model_config(name: str, cfg: ModelConfig, n_metrics: int, ratio_target: bool = False) -> int:
    """The element count of model ``name`` under ``cfg``, checked against the bounds before
    anything is allocated: every size within :data:`~workscope.predictors.models.MODEL_BOUNDS`,
    then the whole model within :data:`~workscope.predictors.models.MAX_ELEMENTS`. Raises
    :class:`TaskSpecError` naming the first setting out of bounds."""
    problem = config_problem(cfg, n_metrics)
    if problem is not None:
        raise TaskSpecError(f"model setting {problem[0]} {problem[1]}")
    total, _ = element_count(name, n_metrics, cfg, ratio_target)
    if total > MAX_ELEMENTS:
        raise TaskSpecError(f"model {name} would hold {total:,} values, more than the limit of "
                            f"{MAX_ELEMENTS:,}; use smaller sizes")
    return total


def _fit_max_len(cfg: ModelConfig, t: int) -> ModelConfig:
    """``cfg``, with ``max_len`` raised to the window length ``t`` when the window is longer."""
    if t <= cfg.max_len:
        return cfg
    log.info("window of %d steps exceeds max_len=%d; raising max_len", t, cfg.max_len)
    return replace(cfg, max_len=t)


def _target_scaling(ds: Dataset) -> tuple[float, float]:
    """(mean, std) of the training targets; std 1 where it is undefined or vanishing."""
    y_tr = ds.y[ds.split.train].float()
    y_std = float(y_tr.std()) if y_tr.numel() > 1 else 1.0
    if not math.isfinite(y_std) or y_std < 1e-6:
        y_std = 1.0
    return float(y_tr.mean()), y_std


def _new_model(name: str, ds: Dataset, cfg: ModelConfig, stats: dict[str, torch.Tensor],
               y_loc: float, y_std: float) -> Regressor:
    """A fresh model ``name`` carrying the input statistics and target scaling as buffers."""
    model = build(name, len(ds.metrics), cfg, ds.ratio_target)
    with torch.no_grad():
        model.x_mean.copy_(stats["mean"])
        model.x_std.copy_(stats["std"])
        if not ds.ratio_target:  # ratio models end in a sigmoid and need no rescaling
            model.y_loc.fill_(y_loc)
            model.y_scale.fill_(y_std)
    return model


@dataclass
class _Run:
    """What every step of one training run works with (data and indices on ``device``)."""

    name: str
    model: Regressor
    fwd: Callable[..., torch.Tensor]  # the model, or its torch.compile wrapper (training steps only)
    norm: Dataset  # normalized with training statistics
    cfg: TrainConfig
    device: torch.device
    autocast: bool
    scale: float  # loss transition: training-target std x cfg.loss_scale
    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor

    def loss(self, idx: torch.Tensor) -> float:
        """Mean log-cosh over windows ``idx`` (eval mode, no grad)."""
        return _loss_on(self.model, self.norm, idx, self.scale, self.cfg.batch_size, self.autocast,
                        self.cfg.bucket)


@dataclass
class _Fit:
    """The outcome of the epochs: the best weights are back in the model."""

    history: list[dict[str, float]]
    initial_val_loss: float
    best_epoch: int
    best_val_loss: float
    windows: int  # training windows seen, over all epochs
    seconds: float  # time spent in training epochs


def _optimizer(run: _Run) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW and its schedule: linear warm-up over ``warmup_frac`` of all steps, then cosine."""
    cfg = run.cfg
    opt = torch.optim.AdamW(run.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total = max(1, math.ceil(run.train.numel() / cfg.batch_size) * cfg.epochs)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(total, int(cfg.warmup_frac * total)))


def _train_epoch(run: _Run, plan: list[tuple[torch.Tensor, int]], opt: torch.optim.Optimizer,
                 sched: torch.optim.lr_scheduler.LambdaLR) -> tuple[float, int]:
    """One pass over ``plan`` (batches of training windows): (summed loss x windows, windows)."""
    norm = run.norm
    total, n = 0.0, 0
    for b, keep in plan:
        x_seq, mask = trim(norm.x_seq[b], norm.mask[b], keep)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=run.autocast):
            pred = run.fwd(x_seq, mask, norm.x_sys[b])
        loss = log_cosh((pred.float() - norm.y[b]) / run.scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), 1.0)
        opt.step()
        sched.step()
        total += loss.item() * b.numel()
        n += b.numel()
    return total, n


def _fit(run: _Run, gen: torch.Generator, progress: Progress | None = None) -> _Fit:
    """Train epoch after epoch, stopping once ``patience`` epochs bring no validation
    improvement; the model ends with the best weights, in eval mode. ``progress`` hears of
    every epoch (see :func:`train`)."""
    cfg, model = run.cfg, run.model
    opt, sched = _optimizer(run)
    stop_idx = run.val if run.val.numel() > 0 else run.train  # no validation windows: stop on training loss
    initial = run.loss(stop_idx)
    tr_lead = _lead_of(model, run.norm, run.train, cfg.bucket)
    t = run.norm.x_seq.shape[1]
    best, best_epoch, best_state = initial, 0, copy.deepcopy(model.state_dict())
    history: list[dict[str, float]] = []
    seen, t_train = 0, 0.0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        total, n = _train_epoch(run, _train_plan(run.train, tr_lead, t, cfg.batch_size, gen), opt, sched)
        if run.device.type == "cuda":
            torch.cuda.synchronize(run.device)
        dt = time.perf_counter() - t0
        t_train += dt
        seen += n
        val_loss = run.loss(stop_idx)
        history.append({"epoch": epoch, "train_loss": total / max(1, n), "val_loss": val_loss,
                        "lr": sched.get_last_lr()[0], "seconds": dt})
        log.debug("%s epoch %d train %.4g val %.4g", run.name, epoch, total / max(1, n), val_loss)
        if val_loss < best:
            best, best_epoch, best_state = val_loss, epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= cfg.patience:
            log.info("%s: early stop at epoch %d (best %d)", run.name, epoch, best_epoch)
            if progress is not None:
                # the epochs left are skipped, not pending: the count must still reach its total
                progress(f"{run.name} seed {cfg.seed}: stopped early at epoch {epoch}/{cfg.epochs}",
                         cfg.epochs, cfg.epochs)
            break
        if progress is not None:
            progress(f"{run.name} seed {cfg.seed}: epoch {epoch}/{cfg.epochs}", epoch, cfg.epochs)
    model.load_state_dict(best_state)
    model.eval()
    return _Fit(history=history, initial_val_loss=initial, best_epoch=best_epoch, best_val_loss=best,
                windows=seen, seconds=t_train)


def _final_evaluation(run: _Run, ds: Dataset, model_cfg: ModelConfig, stats: dict[str, torch.Tensor],
                      fit: _Fit) -> TrainResult:
    """The trained model's metrics on the validation and test splits, and the run's record."""
    t0 = time.perf_counter()
    val_pred = predict(run.model, run.norm, run.val)
    test_pred = predict(run.model, run.norm, run.test)
    t_pred = time.perf_counter() - t0
    n_pred = run.val.numel() + run.test.numel()
    return TrainResult(
        name=run.name, model=run.model, model_cfg=model_cfg, train_cfg=run.cfg, metrics=list(ds.metrics),
        target=ds.target, ratio_target=ds.ratio_target,
        stats={k: v.detach().cpu() for k, v in stats.items()}, history=fit.history,
        initial_val_loss=fit.initial_val_loss, best_epoch=fit.best_epoch, best_val_loss=fit.best_val_loss,
        val=evaluate(ds.y[ds.split.val], val_pred), test=evaluate(ds.y[ds.split.test], test_pred),
        device=str(run.device), train_seconds=fit.seconds,
        train_windows_per_s=fit.windows / fit.seconds if fit.seconds > 0 else float("nan"),
        predict_windows_per_s=n_pred / t_pred if t_pred > 0 and n_pred else float("nan"),
    )


def predict(result_or_model: TrainResult | Regressor, ds: Dataset, idx: torch.Tensor | None = None,
            batch_size: int = 1024) -> torch.Tensor:
    """Predictions [len(idx)] (CPU, float32) for windows ``idx`` of ``ds`` (all when None).

    ``ds`` may be raw or already normalized (``ds.meta["normalized"]``); raw inputs are
    standardized with the statistics stored in the model, never with ``ds``'s own. Runs in
    fp32 so that predictions are reproducible across save/load.
    """
    model = result_or_model.model if isinstance(result_or_model, TrainResult) else result_or_model
    device = next(model.parameters()).device
    if idx is None:
        idx = torch.arange(ds.n)
    idx = idx.to(ds.x_seq.device)
    normalized = bool(ds.meta.get("normalized"))
    was_training = model.training
    model.eval()
    out = torch.zeros(idx.numel(), dtype=torch.float32)
    t = ds.x_seq.shape[1]
    with torch.no_grad():
        for pos, b, keep in _eval_plan(idx, _lead_of(model, ds, idx), t, batch_size):
            x_seq, mask = trim(ds.x_seq[b], ds.mask[b], keep)
            x_seq, mask, x_sys = x_seq.to(device), mask.to(device), ds.x_sys[b].to(device)
            if not normalized:
                x_seq = (x_seq - model.x_mean) / model.x_std * mask.unsqueeze(-1).to(x_seq.dtype)
                x_sys = (x_sys - model.x_mean) / model.x_std
            out[pos.cpu()] = model(x_seq, mask, x_sys).float().cpu()
    model.train(was_training)
    return out


def evaluate(y_true: torch.Tensor, y_pred: torch.Tensor) -> dict[str, float]:
    """MAE, RMSE and MAPE (a fraction, zero targets left out) of ``y_pred`` against ``y_true``,
    as :mod:`workscope.predictors.metrics` defines them (the leaderboard's figures)."""
    from workscope.predictors.metrics import mae, mape, rmse

    return {"mae": mae(y_true, y_pred), "rmse": rmse(y_true, y_pred), "mape": mape(y_true, y_pred)}


def save(result: TrainResult, directory: str | Path) -> Path:
    """Write ``model.safetensors`` and ``config.json`` into ``directory``; returns it.

    Each file is written atomically, weights first, and the config records the weights'
    sha256: a save killed between the two leaves new weights beside the old config, which
    :func:`load` refuses as torn instead of pairing them. A write that fails raises the
    ``OSError`` (the CLI reports it as one line naming the directory).
    """
    from workscope.atomic import atomic_path, write_atomic

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in result.model.state_dict().items()}
    with atomic_path(d / "model.safetensors") as tmp:
        save_file(state, str(tmp))
        weights_sha256 = _sha256(tmp)
    config: dict[str, Any] = {
        "version": CHECKPOINT_VERSION,
        "weights_sha256": weights_sha256,
        "model": result.name,
        "model_config": asdict(result.model_cfg),
        "train_config": asdict(result.train_cfg),
        "seed": result.train_cfg.seed,
        "n_metrics": len(result.metrics),
        "metrics": list(result.metrics),
        "target": result.target,
        "ratio_target": result.ratio_target,
        "normalization": {k: v.tolist() for k, v in result.stats.items()},
        "target_scaling": {"loc": float(result.model.y_loc), "scale": float(result.model.y_scale)},
        "best_epoch": result.best_epoch,
        "val": result.val,
        "test": result.test,
        "train_windows_per_s": result.train_windows_per_s,
    }
    write_atomic(d / "config.json", json.dumps(json_ready(config), indent=2))
    return d


#: Largest config.json read (bytes): a real one holds two numbers per metric, a few KB.
MAX_CONFIG_BYTES = 4 << 20

#: Largest model.safetensors read (bytes): :data:`MAX_ELEMENTS` float32 values and a header.
MAX_WEIGHTS_BYTES = 4 * MAX_ELEMENTS + (16 << 20)

_DAMAGED = "the checkpoint is damaged or was not written by workscope; train again with --out"


def load(directory: str | Path, device: str = "cpu") -> Regressor:
    """The model saved by :func:`save` (eval mode), read via safetensors only.

    See :func:`load_checkpoint`, which also returns the validated config.
    """
    return load_checkpoint(directory, device)[0]


def load_checkpoint(directory: str | Path, device: str = "cpu") -> tuple[Regressor, dict[str, Any]]:
    """(model in eval mode, validated config.json) of a checkpoint written by :func:`save`.

    Everything is checked before the model is built: the config's keys and their types, every
    size against :data:`~workscope.predictors.models.MODEL_BOUNDS`, the implied model against
    :data:`~workscope.predictors.models.MAX_ELEMENTS`, the weights' sha256 and each tensor's
    name, dtype and shape against the model the config describes; the weights must be finite.
    Any failure is one :class:`~workscope.errors.TaskDataError` naming the file and the key;
    an unusable ``device`` is a usage error (see :func:`resolve_device`).
    """
    target = resolve_device(device)  # a bad --device is the caller's mistake, found before any reading
    d = Path(directory)
    config_path, weights_path = d / "config.json", d / "model.safetensors"
    if not config_path.is_file() or not weights_path.is_file():
        raise TaskDataError(f"{d}: not a checkpoint directory (expected config.json and "
                            "model.safetensors, as `workscope predict train --out` writes)")
    config = _read_config(config_path)
    cfg, n_metrics = _model_config(config_path, config)
    problem = config_problem(cfg, n_metrics)
    if problem is not None:
        key = problem[0] if problem[0] == "n_metrics" else f"model_config.{problem[0]}"
        raise TaskDataError(f"{config_path}: {key} {problem[1]} (bounds: {_bounds_text()}); {_DAMAGED}")
    total, shapes = element_count(config["model"], n_metrics, cfg, config["ratio_target"])
    if total > MAX_ELEMENTS:
        raise TaskDataError(f"{config_path}: model_config describes a {config['model']} of {total:,} values, "
                            f"more than the limit of {MAX_ELEMENTS:,}; {_DAMAGED}")
    try:
        size = weights_path.stat().st_size
    except OSError as exc:
        raise TaskDataError(f"{weights_path}: cannot read the weights ({exc.strerror})") from None
    if size > MAX_WEIGHTS_BYTES:
        raise TaskDataError(f"{weights_path}: {size:,} bytes, more than any model within the limits "
                            f"({MAX_WEIGHTS_BYTES:,}); {_DAMAGED}")
    if config["weights_sha256"] != _sha256(weights_path):
        raise TaskDataError(f"{d}: damaged checkpoint: model.safetensors is not the file config.json "
                            "describes (torn by an interrupted save, or changed since); train again with --out")
    _check_shapes(weights_path, shapes)
    try:
        state = load_file(str(weights_path), device="cpu")
    except Exception as exc:  # noqa: BLE001 (SafetensorError, OSError: both "damaged")
        raise TaskDataError(f"{weights_path}: damaged checkpoint ({type(exc).__name__}: {exc})") from None
    for key, tensor in state.items():
        if not bool(torch.isfinite(tensor).all()):
            raise TaskDataError(f"{weights_path}: damaged checkpoint: tensor {key!r} holds NaN or "
                                f"infinite values; {_DAMAGED}")
    model = build(config["model"], n_metrics, cfg, config["ratio_target"])
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # shapes were checked; kept so no torch message escapes as a traceback
        raise TaskDataError(f"{weights_path}: damaged checkpoint ({exc})") from None
    return model.to(target).eval(), config


def _bounds_text() -> str:
    return ", ".join(f"{k} {lo:g}..{hi:g}" for k, (lo, hi) in MODEL_BOUNDS.items())


def _read_config(path: Path) -> dict[str, Any]:
    """config.json parsed and its top-level keys checked (type and presence), else TaskDataError."""
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise TaskDataError(f"{path}: {size:,} bytes, more than a checkpoint config can be "
                                f"({MAX_CONFIG_BYTES:,}); {_DAMAGED}")
        text = path.read_bytes().decode("utf-8")
        # NaN and Infinity are not JSON; save() writes null for them, so a config holding one was edited
        config = json.loads(text, parse_constant=_reject_constant)
    except OSError as exc:
        raise TaskDataError(f"{path}: cannot read the checkpoint config ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise TaskDataError(f"{path}: not UTF-8 text (byte {exc.start}); {_DAMAGED}") from None
    except json.JSONDecodeError as exc:
        raise TaskDataError(f"{path}: not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg}); "
                            f"{_DAMAGED}") from None
    except ValueError as exc:  # _reject_constant
        raise TaskDataError(f"{path}: {exc}; {_DAMAGED}") from None
    except RecursionError:
        raise TaskDataError(f"{path}: JSON nested too deeply; {_DAMAGED}") from None
    if not isinstance(config, dict) or type(config.get("version")) is not int or config["version"] != CHECKPOINT_VERSION:
        version = config.get("version") if isinstance(config, dict) else None
        raise TaskDataError(f"{path.parent}: unsupported checkpoint version {version!r} "
                            f"(this workscope reads version {CHECKPOINT_VERSION})")
    for key, (kind, want) in _CONFIG_KEYS.items():
        if key not in config:
            raise TaskDataError(f"{path}: missing key {key!r}; {_DAMAGED}")
        if not _is_kind(config[key], kind):
            raise TaskDataError(f"{path}: key {key!r} must be {want}, got {_short(config[key])}; {_DAMAGED}")
    if config["model"] not in _model_names():
        raise TaskDataError(f"{path}: key 'model' names no known model ({_short(config['model'])}; "
                            f"known: {', '.join(_model_names())}); {_DAMAGED}")
    if not 1 <= config["n_metrics"] <= MAX_METRICS:
        raise TaskDataError(f"{path}: n_metrics must be an integer in [1, {MAX_METRICS}], got "
                            f"{config['n_metrics']}; {_DAMAGED}")
    if len(config["metrics"]) != config["n_metrics"]:
        raise TaskDataError(f"{path}: key 'metrics' lists {len(config['metrics'])} metrics but n_metrics is "
                            f"{config['n_metrics']}; {_DAMAGED}")
    return config


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


#: config.json keys that loading and predicting read: key -> (kind, what the message asks for).
_CONFIG_KEYS: dict[str, tuple[str, str]] = {
    "weights_sha256": ("str", "a string (the weights' sha256)"),
    "model": ("str", "a model name"),
    "model_config": ("dict", "an object of model sizes"),
    "n_metrics": ("int", "an integer"),
    "metrics": ("strs", "a list of metric names"),
    "target": ("str", "a string"),
    "ratio_target": ("bool", "true or false"),
    "seed": ("int", "an integer"),
}


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "strs":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, {"str": str, "dict": dict, "bool": bool}[kind])


def _short(value: Any) -> str:
    """``repr(value)`` cut to one readable piece: a damaged file may hold megabytes."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _model_names() -> tuple[str, ...]:
    from workscope.predictors.names import NEURAL_MODELS

    return tuple(NEURAL_MODELS)


def _model_config(path: Path, config: dict[str, Any]) -> tuple[ModelConfig, int]:
    """(ModelConfig, n_metrics) from ``config``: every field present, none unknown, each typed."""
    from dataclasses import fields

    given = config["model_config"]
    names = [f.name for f in fields(ModelConfig)]
    for key in given:
        if key not in names:
            raise TaskDataError(f"{path}: unknown key 'model_config.{key}'{did_you_mean(str(key), names)}; "
                                f"{_DAMAGED}")
    for key in names:
        if key not in given:
            raise TaskDataError(f"{path}: missing key 'model_config.{key}'; {_DAMAGED}")
        value = given[key]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if key == "dropout":
            if not number or not math.isfinite(value):
                raise TaskDataError(f"{path}: key 'model_config.dropout' must be a finite number, got "
                                    f"{_short(value)}; {_DAMAGED}")
        elif not (isinstance(value, int) and not isinstance(value, bool)):
            raise TaskDataError(f"{path}: key 'model_config.{key}' must be an integer, got {_short(value)}; "
                                f"{_DAMAGED}")
    return ModelConfig(**given), config["n_metrics"]


def _check_shapes(path: Path, expected: dict[str, tuple[int, ...]]) -> None:
    """Compare the tensors listed in the safetensors header with those the config implies,
    reading only the header; a mismatch is a damaged checkpoint."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            found = {k: (tuple(fh.get_slice(k).get_shape()), fh.get_slice(k).get_dtype()) for k in fh.keys()}  # noqa: SIM118 (safe_open is not iterable)
    except Exception as exc:  # noqa: BLE001 (SafetensorError and friends: an unreadable header)
        raise TaskDataError(f"{path}: damaged checkpoint: not a readable safetensors file "
                            f"({type(exc).__name__}: {exc}); {_DAMAGED}") from None
    want = sum(math.prod(shape) for shape in expected.values())
    have = sum(math.prod(shape) for shape, _ in found.values())
    if want != have:
        raise TaskDataError(f"{path}: damaged checkpoint: config.json implies {want:,} weights in "
                            f"{len(expected)} tensors, the file holds {have:,} in {len(found)}; {_DAMAGED}")
    missing, extra = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or extra:
        raise TaskDataError(f"{path}: damaged checkpoint: tensor names do not match config.json "
                            f"(missing {missing[:3]}, unexpected {extra[:3]}); {_DAMAGED}")
    for key, shape in expected.items():
        got, dtype = found[key]
        if got != shape or dtype != "F32":
            raise TaskDataError(f"{path}: damaged checkpoint: tensor {key!r} is {dtype} {list(got)}, "
                                f"config.json implies F32 {list(shape)}; {_DAMAGED}")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def checkpoint_config(directory: str | Path) -> dict[str, Any]:
    """The validated ``config.json`` of a checkpoint (see :func:`load_checkpoint`)."""
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise TaskDataError(f"{Path(directory)}: not a checkpoint directory (expected config.json and "
                            "model.safetensors, as `workscope predict train --out` writes)")
    return _read_config(path)
