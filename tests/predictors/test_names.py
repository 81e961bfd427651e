"""Model names live in names.py (torch-free); unknown model, task and device names are
workscope usage errors that suggest the closest name."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workscope.errors import TaskSpecError, UnknownNameError, UsageError
from workscope.predictors import baselines, models, run
from workscope.predictors.names import ALL_MODELS, BASELINE_MODELS, NEURAL_MODELS
from workscope.predictors.train import resolve_device


def test_registries_are_keyed_by_the_names_in_order() -> None:
    assert tuple(models.MODELS) == NEURAL_MODELS
    assert tuple(baselines.BASELINES) == BASELINE_MODELS
    assert tuple(baselines.DESCRIPTIONS) == BASELINE_MODELS
    assert ALL_MODELS == NEURAL_MODELS + BASELINE_MODELS
    assert models.MODELS["cloudformer"] is models.CloudFormer
    assert baselines.BASELINES["persistence"] is baselines.fit_persistence


def test_names_import_without_torch() -> None:
    code = ("import sys; import workscope.predictors.names as n; "
            "assert n.ALL_MODELS; assert 'torch' not in sys.modules and 'sklearn' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(("call", "kind", "suggestion"), [
    (lambda: models.build("cloudfromer", 3), "neural model", "cloudformer"),
    (lambda: baselines.fit("persistance", None), "baseline", "persistence"),  # type: ignore[arg-type]
    (lambda: run.task("planetlab_cpuu"), "task", "planetlab_cpu"),
    (lambda: run.configs("tiyn", None, 0), "model size", "tiny"),
    (lambda: resolve_device("cdua"), "device", "cuda"),
])
def test_unknown_names_suggest_the_closest(call, kind: str, suggestion: str) -> None:
    with pytest.raises(UnknownNameError) as exc:
        call()
    assert isinstance(exc.value, UsageError) and exc.value.exit_code == 2
    assert exc.value.kind == kind
    assert f"did you mean {suggestion!r}" in str(exc.value)


def test_unknown_model_in_a_leaderboard_is_refused_before_any_work() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'dlinear'"):
        run.evaluate(None, run.task("planetlab_cpu"), ["dlinaer"], [0])  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError, match="did you mean 'lstm'"):
        run.train_model(None, run.task("planetlab_cpu"), "lstn")  # type: ignore[arg-type]


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_is_a_usage_error() -> None:
    with pytest.raises(TaskSpecError, match="CUDA is not available"):
        resolve_device("cuda")
