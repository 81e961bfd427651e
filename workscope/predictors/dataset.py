"""The tensor dataset every model and baseline trains on.

A sample is one window of one entity: a sequence of metric vectors (the temporal branch's
input), its per-metric means (the system branch's input), a padding mask for runs shorter
than the window, and a scalar target. Splits are index tensors; normalization statistics
come from the training split only (see :meth:`Dataset.normalized`).

Shapes: ``x_seq`` [N, T, M] float32, ``mask`` [N, T] bool (True = real step),
``x_sys`` [N, M] float32, ``y`` [N] float32, ``entity`` list of N strings, ``t_end`` [N]
float64 (end time of each window, seconds since the trace origin).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch


@dataclass(frozen=True)
class Split:
    """Indices of the train / validation / test samples, and how they were chosen."""

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    kind: str  # "entity" (unseen entities in test) or "time" (the future in test)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Dataset:
    """Windows of one task, ready for training (see the module docstring for shapes)."""

    x_seq: torch.Tensor
    mask: torch.Tensor
    x_sys: torch.Tensor
    y: torch.Tensor
    entity: list[str]
    t_end: torch.Tensor
    metrics: list[str]
    split: Split
    target: str
    ratio_target: bool = False  # target in [0, 1]: sigmoid head
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.y.shape[0])

    def to(self, device: str | torch.device) -> Dataset:
        """The same dataset with its tensors on ``device``."""
        return replace(self, x_seq=self.x_seq.to(device), mask=self.mask.to(device),
                       x_sys=self.x_sys.to(device), y=self.y.to(device))

    def normalized(self) -> tuple[Dataset, dict[str, torch.Tensor]]:
        """Inputs standardized with the training split's mean and std (per metric).

        Only training windows, and only their real (unmasked) steps, contribute to the
        statistics, so nothing about validation or test data leaks into training. A metric
        that is constant in training is only centred (scale 1).
        """
        tr = self.split.train
        seq = self.x_seq[tr]
        m = self.mask[tr].unsqueeze(-1).to(seq.dtype)
        count = m.sum(dim=(0, 1)).clamp_min(1.0)
        mean = (seq * m).sum(dim=(0, 1)) / count
        var = (((seq - mean) ** 2) * m).sum(dim=(0, 1)) / count
        # A metric constant over the training windows gets scale 1 (as scikit-learn's
        # StandardScaler does): a tiny floor would blow an unseen test value up by 1e6.
        std = torch.where(var.sqrt() > 1e-6, var.sqrt(), torch.ones_like(var))
        x_seq = (self.x_seq - mean) / std * self.mask.unsqueeze(-1).to(seq.dtype)
        x_sys = (self.x_sys - mean) / std
        stats = {"mean": mean, "std": std}
        return replace(self, x_seq=x_seq, x_sys=x_sys, meta={**self.meta, "normalized": True}), stats
