"""Neural predictors: CloudFormer, its two single-branch ablations, an LSTM and DLinear.

Every model maps one window to one scalar with the same signature::

    forward(x_seq [B, T, M], mask [B, T], x_sys [B, M]) -> [B]

where ``x_seq`` and ``x_sys`` are *normalized* inputs (see
:meth:`workscope.predictors.dataset.Dataset.normalized`) and ``mask`` is True on real steps.
The output is in the target's own units: models carry the training target's location and
scale as buffers (``y_loc``, ``y_scale``) and, for ratio targets, end in a sigmoid so the
prediction lies in (0, 1). They also carry the input normalization statistics (``x_mean``,
``x_std``) so that a checkpoint alone is enough to predict on raw windows
(:func:`workscope.predictors.train.predict` applies them).

Build a model by name with :func:`build`; :data:`MODELS` lists the names.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from workscope.errors import UnknownNameError
from workscope.predictors.names import NEURAL_MODELS


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the neural models (the defaults are the CloudFormer paper's)."""

    d_model: int = field(default=64, metadata={"help": "token width of every encoder"})
    heads: int = field(default=4, metadata={"help": "attention heads per encoder block"})
    layers: int = field(default=4, metadata={"help": "encoder blocks per branch (LSTM: layers)"})
    ff: int = field(default=256, metadata={"help": "feed-forward width inside each encoder block"})
    dropout: float = field(default=0.1, metadata={"help": "dropout in encoders and the fusion MLP"})
    max_len: int = field(default=512, metadata={
        "help": "longest window (steps); sizes the position table and DLinear's time layers"})
    fusion_hidden: int = field(default=128, metadata={"help": "hidden width of the fusion MLP"})
    ma_kernel: int = field(default=25, metadata={
        "help": "DLinear moving-average kernel (steps; clipped to the window)"})


#: Inclusive bounds on every :class:`ModelConfig` field, checked before a model is built from a
#: config that came from a file (a checkpoint's config.json) or from code. They sit far above
#: the paper's sizes (d_model 64, 4 layers, window 512) and far below what would exhaust a
#: machine: a config asking for a 51 GB model is refused instead of allocated.
MODEL_BOUNDS: dict[str, tuple[float, float]] = {
    "d_model": (1, 4096),
    "heads": (1, 64),
    "layers": (1, 48),
    "ff": (1, 16384),
    "dropout": (0.0, 0.99),
    "max_len": (1, 100_000),
    "fusion_hidden": (1, 16384),
    "ma_kernel": (1, 100_000),
}

#: Most input metrics a model may read (a checkpoint's ``n_metrics``, a task's metric list).
MAX_METRICS = 1024

#: Most float32 elements (parameters and buffers together, 400 MB) one model may hold; a config
#: within :data:`MODEL_BOUNDS` can still multiply its sizes past this, so the built size is
#: checked too (on the meta device, which allocates nothing).
MAX_ELEMENTS = 100_000_000

_INT_FIELDS = ("d_model", "heads", "layers", "ff", "max_len", "fusion_hidden", "ma_kernel")


def config_problem(cfg: ModelConfig, n_metrics: int) -> tuple[str, str] | None:
    """(field, problem) for the first size of ``cfg`` (or ``n_metrics``) outside its bound,
    else None. Types are checked too: sizes must be ints (not bools), dropout a finite number."""
    if isinstance(n_metrics, bool) or not isinstance(n_metrics, int) or not 1 <= n_metrics <= MAX_METRICS:
        return "n_metrics", f"must be an integer in [1, {MAX_METRICS}], got {n_metrics!r}"
    for name, (lo, hi) in MODEL_BOUNDS.items():
        v = getattr(cfg, name)
        if name in _INT_FIELDS:
            if isinstance(v, bool) or not isinstance(v, int):
                return name, f"must be an integer, got {v!r}"
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return name, f"must be a finite number, got {v!r}"
        if not lo <= v <= hi:
            return name, f"must lie in [{lo:g}, {hi:g}], got {v!r}"
    if cfg.d_model % cfg.heads:
        # attention splits the width evenly over the heads
        return "heads", f"must divide d_model ({cfg.d_model}), got {cfg.heads}"
    return None


def element_count(name: str, n_metrics: int, cfg: ModelConfig, ratio_target: bool = False
                  ) -> tuple[int, dict[str, tuple[int, ...]]]:
    """(parameters + buffers, persistent state shapes) of model ``name`` without allocating it.

    The model is built on the meta device, so only shapes exist; call it after
    :func:`config_problem` has passed, as building loops over ``cfg.layers``.
    """
    with torch.device("meta"):
        model = build(name, n_metrics, cfg, ratio_target)
    total = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    return total, {k: tuple(v.shape) for k, v in model.state_dict().items()}


class Regressor(nn.Module):
    """Base class: target scaling, input statistics and the output head shared by all models.

    Subclasses implement :meth:`features` (a [B, F] representation) and set ``self.head``.
    A subclass whose output does not change when leading, fully masked steps are cut from
    a window sets ``length_invariant = True``; training and prediction then trim batches
    (see :func:`workscope.predictors.train.trim`).
    """

    length_invariant: bool = False

    def __init__(self, n_metrics: int, cfg: ModelConfig, ratio_target: bool) -> None:
        super().__init__()
        self.n_metrics = n_metrics
        self.cfg = cfg
        self.ratio_target = ratio_target
        # Buffers, not parameters: they are set from training data and saved in checkpoints.
        self.register_buffer("x_mean", torch.zeros(n_metrics))
        self.register_buffer("x_std", torch.ones(n_metrics))
        self.register_buffer("y_loc", torch.zeros(()))
        self.register_buffer("y_scale", torch.ones(()))

    def features(self, x_seq: torch.Tensor, mask: torch.Tensor, x_sys: torch.Tensor) -> torch.Tensor:
        """A [B, F] representation of each window."""
        raise NotImplementedError

    def raw(self, x_seq: torch.Tensor, mask: torch.Tensor, x_sys: torch.Tensor) -> torch.Tensor:
        """Pre-activation output [B] (a logit for ratio targets, a standardized value otherwise)."""
        return self.head(self.features(x_seq, mask, x_sys)).squeeze(-1)

    def forward(self, x_seq: torch.Tensor, mask: torch.Tensor, x_sys: torch.Tensor) -> torch.Tensor:
        """Prediction [B] in the target's units."""
        z = self.raw(x_seq, mask, x_sys).float()
        if self.ratio_target:
            return torch.sigmoid(z)
        return z * self.y_scale + self.y_loc


def sinusoidal(n: int, d: int) -> torch.Tensor:
    """The fixed sine/cosine position table of Vaswani et al., [n, d]."""
    pos = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    pe = torch.zeros(n, d)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)[:, : d // 2]
    return pe


def _encoder(cfg: ModelConfig) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.heads, cfg.ff, cfg.dropout,
                                       activation="gelu", batch_first=True, norm_first=True)
    # Nested tensors would drop padded positions in eval mode only; keep train and eval
    # on the same code path so masking behaves identically.
    return nn.TransformerEncoder(layer, cfg.layers, norm=nn.LayerNorm(cfg.d_model),
                                 enable_nested_tensor=False)


class TemporalBranch(nn.Module):
    """Each step's metric vector -> dense token; class token; sinusoidal positions; masked encoder.

    Positions count back from the window's end (the last step is position 1, the class
    token position 0). Windows are padded at the front, so a real step keeps its position
    however much padding precedes it: cutting leading padded steps (which the key padding
    mask already hides) leaves the output unchanged. Training relies on this to trim each
    batch to a length bucket.
    """

    def __init__(self, n_metrics: int, cfg: ModelConfig) -> None:
        super().__init__()
        self.embed = nn.Linear(n_metrics, cfg.d_model)
        self.cls = nn.Parameter(torch.randn(1, 1, cfg.d_model) * 0.02)
        # Position 0 belongs to the class token, steps take 1..T.
        self.register_buffer("pe", sinusoidal(cfg.max_len + 1, cfg.d_model), persistent=False)
        self.encoder = _encoder(cfg)
        self.max_len = cfg.max_len

    def forward(self, x_seq: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Class-token output [B, d]; padded steps cannot influence it (key padding mask)."""
        b, t, _ = x_seq.shape
        if t > self.max_len:
            raise ValueError(f"window of {t} steps exceeds max_len={self.max_len}")
        tok = self.embed(x_seq) + self.pe[1 : t + 1].flip(0)
        tok = torch.cat([self.cls.expand(b, -1, -1) + self.pe[:1], tok], dim=1)
        keep = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=mask.device), mask.bool()], dim=1)
        out = self.encoder(tok, src_key_padding_mask=~keep)
        return out[:, 0]


class SystemBranch(nn.Module):
    """Each metric's run mean -> one token (per-metric embedding); class token; unmasked encoder."""

    def __init__(self, n_metrics: int, cfg: ModelConfig) -> None:
        super().__init__()
        # token_m = value_m * scale_m + identity_m: a per-metric linear embedding whose bias
        # doubles as the learned metric identity (no positions: metrics form a set).
        self.scale = nn.Parameter(torch.randn(n_metrics, cfg.d_model) * 0.02)
        self.identity = nn.Parameter(torch.randn(n_metrics, cfg.d_model) * 0.02)
        self.value = nn.Linear(1, cfg.d_model)
        self.cls = nn.Parameter(torch.randn(1, 1, cfg.d_model) * 0.02)
        self.encoder = _encoder(cfg)

    def forward(self, x_sys: torch.Tensor) -> torch.Tensor:
        """Class-token output [B, d]."""
        v = x_sys.unsqueeze(-1)
        tok = self.value(v) + v * self.scale + self.identity
        tok = torch.cat([self.cls.expand(x_sys.shape[0], -1, -1), tok], dim=1)
        return self.encoder(tok)[:, 0]


def _fusion(d_in: int, cfg: ModelConfig) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, cfg.fusion_hidden), nn.SiLU(),
                         nn.LayerNorm(cfg.fusion_hidden), nn.Dropout(cfg.dropout),
                         nn.Linear(cfg.fusion_hidden, 1))


class CloudFormer(Regressor):
    """Dual-branch transformer after Shahbazinia et al. (arXiv 2509.03394).

    Temporal branch: dense embedding of each step's metric vector, learnable class token,
    sinusoidal positions, ``cfg.layers`` pre-norm encoder blocks with a key padding mask.
    System branch: the per-metric run means, one token per metric with a learned per-metric
    embedding, a class token, ``cfg.layers`` encoder blocks, no mask. Fusion: the class tokens
    concatenated, then Linear -> Swish -> LayerNorm -> Dropout -> Linear; sigmoid for ratio
    targets, linear otherwise.

    Departures from the paper: encoder blocks are pre-norm with GELU (stabler to train at
    small sizes); the system tokens embed value ``v`` as ``Linear(v) + v * s_m + e_m`` with
    per-metric ``s_m`` and ``e_m`` (the paper specifies only "a learned per-metric embedding");
    non-ratio targets are predicted standardized and rescaled with the training split's
    mean and std (buffers ``y_loc``/``y_scale``) rather than in raw units; the system branch
    takes the masked mean computed by the dataset rather than averaging inside the model.

    Positions count back from the window's end (see :class:`TemporalBranch`), which makes
    the model invariant to leading padding (``length_invariant``); the paper does not say
    which end it counts from.

    ``branches`` selects which branches feed the fusion MLP; the ablations
    :class:`TemporalOnly` and :class:`SystemOnly` are this class with one branch.
    """

    length_invariant = True

    def __init__(self, n_metrics: int, cfg: ModelConfig = ModelConfig(), ratio_target: bool = False,
                 branches: tuple[str, ...] = ("temporal", "system")) -> None:
        super().__init__(n_metrics, cfg, ratio_target)
        if not branches or set(branches) - {"temporal", "system"}:
            raise ValueError(f"branches must be a non-empty subset of temporal/system, got {branches}")
        self.branches = tuple(branches)
        self.temporal = TemporalBranch(n_metrics, cfg) if "temporal" in branches else None
        self.system = SystemBranch(n_metrics, cfg) if "system" in branches else None
        self.head = _fusion(cfg.d_model * len(self.branches), cfg)

    def features(self, x_seq: torch.Tensor, mask: torch.Tensor, x_sys: torch.Tensor) -> torch.Tensor:
        """Concatenated class tokens [B, d * branches]."""
        parts = []
        if self.temporal is not None:
            parts.append(self.temporal(x_seq, mask))
        if self.system is not None:
            parts.append(self.system(x_sys))
        return torch.cat(parts, dim=-1)


class TemporalOnly(CloudFormer):
    """Ablation: CloudFormer with the temporal branch only."""

    def __init__(self, n_metrics: int, cfg: ModelConfig = ModelConfig(), ratio_target: bool = False) -> None:
        super().__init__(n_metrics, cfg, ratio_target, branches=("temporal",))


class SystemOnly(CloudFormer):
    """Ablation: CloudFormer with the system branch only (ignores the sequence)."""

    def __init__(self, n_metrics: int, cfg: ModelConfig = ModelConfig(), ratio_target: bool = False) -> None:
        super().__init__(n_metrics, cfg, ratio_target, branches=("system",))


class LSTMRegressor(Regressor):
    """Baseline: an LSTM over the steps, masked mean of its outputs, then a linear head.

    Padded steps are zeroed and flagged by an extra input channel; pooling uses real steps
    only. (Unlike the transformer, padded steps can still shift the recurrent state when
    padding precedes real steps, so the LSTM is not strictly mask-invariant.)
    """

    def __init__(self, n_metrics: int, cfg: ModelConfig = ModelConfig(), ratio_target: bool = False) -> None:
        super().__init__(n_metrics, cfg, ratio_target)
        self.lstm = nn.LSTM(n_metrics + 1, cfg.d_model, num_layers=cfg.layers, batch_first=True,
                            dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.head = nn.Sequential(nn.LayerNorm(cfg.d_model), nn.Linear(cfg.d_model, 1))

    def features(self, x_seq: torch.Tensor, mask: torch.Tensor, x_sys: torch.Tensor) -> torch.Tensor:
        """Masked mean of the LSTM outputs [B, d]."""
        m = mask.to(x_seq.dtype).unsqueeze(-1)
        out, _ = self.lstm(torch.cat([x_seq * m, m], dim=-1))
        return (out * m).sum(1) / m.sum(1).clamp_min(1.0)


class DLinear(Regressor):
    """Baseline after Zeng et al. (DLinear): moving-average decomposition and linear maps over time.

    Each metric's series (padded steps zeroed, padded on the right to ``cfg.max_len``) is split
    into a trend (centred moving average, edge-replicated) and a remainder; one linear layer
    over time maps each to ``k`` features per metric (weights shared across metrics), and a
    linear head maps the [M * 2k] features to a scalar. Here ``k`` = ``cfg.heads`` to keep
    the config small.
    """

    def __init__(self, n_metrics: int, cfg: ModelConfig = ModelConfig(), ratio_target: bool = False) -> None:
        super().__init__(n_metrics, cfg, ratio_target)
        k = max(1, cfg.heads)
        self.trend = nn.Linear(cfg.max_len, k)
        self.remainder = nn.Linear(cfg.max_len, k)
        self.kernel = max(1, min(cfg.ma_kernel, cfg.max_len))
        self.head = nn.Linear(n_metrics * 2 * k, 1)

    def features(self, x_seq: torch.Tensor, mask: torch.Tensor, x_sys: torch.Tensor) -> torch.Tensor:
        """Trend and remainder features [B, M * 2k]."""
        t = x_seq.shape[1]
        L = self.trend.in_features
        if t > L:
            raise ValueError(f"window of {t} steps exceeds max_len={L}")
        x = (x_seq * mask.to(x_seq.dtype).unsqueeze(-1)).transpose(1, 2)  # [B, M, T]
        x = nn.functional.pad(x, (0, L - t))
        k = self.kernel
        left, right = (k - 1) // 2, k // 2
        padded = torch.cat([x[..., :1].expand(-1, -1, left), x, x[..., -1:].expand(-1, -1, right)], dim=-1)
        trend = padded.unfold(-1, k, 1).mean(-1)  # [B, M, L]
        rem = x - trend
        return torch.cat([self.trend(trend), self.remainder(rem)], dim=-1).flatten(1)


#: Model name -> class, keyed from :data:`~workscope.predictors.names.NEURAL_MODELS` (same order).
MODELS: dict[str, Callable[..., Regressor]] = dict(zip(
    NEURAL_MODELS, (CloudFormer, TemporalOnly, SystemOnly, LSTMRegressor, DLinear), strict=True))


def build(name: str, n_metrics: int, cfg: ModelConfig = ModelConfig(), ratio_target: bool = False) -> Regressor:
    """A fresh model by registry name (see :data:`MODELS`); an unknown name raises
    :class:`~workscope.errors.UnknownNameError`."""
    if name not in MODELS:
        raise UnknownNameError("neural model", name, MODELS)
    return MODELS[name](n_metrics, cfg, ratio_target)
