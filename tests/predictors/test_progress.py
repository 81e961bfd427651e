"""Progress reports of the predictors' entry points: ``progress(message, done, total)`` is
called with a count that never goes back and ends at its total, never changes a result, and
(in the CLI) is drawn on stderr only for a person at a terminal, never with ``--json``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import workscope
from tests.predictors.test_models import TINY, synthetic
from workscope.cli import app, render
from workscope.predictors import leaderboard, run
from workscope.predictors.train import TrainConfig, train

Call = tuple[str, int, int]


def recorder() -> tuple[list[Call], run.Progress]:
    calls: list[Call] = []
    return calls, lambda message, done, total: calls.append((message, done, total))


def assert_counts_up_to_total(calls: list[Call], total: int) -> None:
    assert calls, "progress was never called"
    dones = [done for _, done, _ in calls]
    assert all(t == total for _, _, t in calls), calls
    assert dones == sorted(dones) and 0 <= dones[0] and dones[-1] == total, calls
    assert all(message for message, _, _ in calls)


def test_train_reports_every_epoch() -> None:
    ds = synthetic(n_entities=10, per_entity=8)
    cfg = TrainConfig(epochs=3, batch_size=16, seed=0, device="cpu", patience=100)
    calls, say = recorder()
    with_progress = train("dlinear", ds, TINY, cfg, progress=say)
    assert calls == [(f"dlinear seed 0: epoch {e}/3", e, 3) for e in (1, 2, 3)]
    # reporting must not touch the seeded randomness: same run, same numbers
    assert train("dlinear", ds, TINY, cfg).test == with_progress.test


def test_early_stop_still_ends_at_total() -> None:
    ds = synthetic(n_entities=10, per_entity=8)
    # lr 0: the validation loss never improves, so patience 1 stops after the first epoch
    cfg = TrainConfig(epochs=10, batch_size=16, lr=0.0, seed=0, device="cpu", patience=1)
    calls, say = recorder()
    result = train("dlinear", ds, TINY, cfg, progress=say)
    assert len(result.history) < 10
    assert_counts_up_to_total(calls, 10)
    assert "stopped early" in calls[-1][0]


def test_leaderboard_counts_runs() -> None:
    from tests.predictors.test_baselines import make_ds

    calls, say = recorder()
    df = leaderboard.evaluate_all(lambda s: make_ds("linear", seed=s), ["persistence", "linear"], [0, 1],
                                  None, progress=say)
    assert df.height == 4
    assert_counts_up_to_total(calls, 4)
    assert ("linear seed 1: fitting", 3, 4) in calls


def test_train_model_on_a_task(home: str) -> None:
    store = workscope.open(home)
    calls, say = recorder()
    run.train_model(store, run.task("planetlab_cpu", "pl"), "dlinear", seed=0, epochs=2,
                    overrides={"patience": 100}, progress=say)
    assert calls[0] == ("dlinear seed 0: building the dataset", 0, 2)
    assert calls[1:] == [("dlinear seed 0: epoch 1/2", 1, 2), ("dlinear seed 0: epoch 2/2", 2, 2)]


def test_evaluate_counts_epochs_and_fits_over_seeds(home: str) -> None:
    store, spec = workscope.open(home), run.task("planetlab_cpu", "pl")
    models, seeds = ["persistence", "dlinear"], [0, 1]
    calls, say = recorder()
    per_seed, _ = run.evaluate(store, spec, models, seeds, epochs=2, overrides={"patience": 100},
                               progress=say)
    # per seed: 1 unit for the baseline fit + 2 epochs of dlinear
    assert_counts_up_to_total(calls, 2 * (1 + 2))
    assert ("dlinear seed 1: epoch 2/2", 6, 6) in calls
    assert ("dlinear seed 0: epoch 1/2", 2, 6) in calls
    plain, _ = run.evaluate(store, spec, models, seeds, epochs=2, overrides={"patience": 100})
    assert per_seed.drop("fit_s").equals(plain.drop("fit_s"))


@pytest.fixture
def stderr_is_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    # CliRunner's stderr is no terminal; rich's force flags stand in for one (a person watching)
    monkeypatch.setattr(render.err, "_force_terminal", True)
    monkeypatch.setattr(render.err, "is_interactive", True)


TRAIN = ["predict", "train", "planetlab_cpu", "--trace", "pl", "--model", "dlinear", "--epochs", "2"]


def test_json_output_is_pure_and_draws_no_bar(home: str, stderr_is_a_terminal: None) -> None:
    assert render.progress_enabled(as_json=False)
    r = CliRunner().invoke(app, [*TRAIN, "--home", home, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["model"] == "dlinear"
    assert r.stderr == ""


def test_terminal_gets_a_bar_unless_quiet(home: str, stderr_is_a_terminal: None) -> None:
    r = CliRunner().invoke(app, [*TRAIN, "--home", home])
    assert r.exit_code == 0, r.output
    assert "dlinear seed 0" in r.stderr  # the bar's description, drawn on stderr
    assert "dlinear seed 0" not in r.stdout and r.stdout.startswith("dlinear on planetlab_cpu")
    r = CliRunner().invoke(app, [*TRAIN, "--home", home, "--quiet"])
    assert r.exit_code == 0 and r.stderr == ""


def test_progress_enabled_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render.err, "_force_terminal", False)
    assert not render.progress_enabled(as_json=False)
    monkeypatch.setattr(render.err, "_force_terminal", True)
    assert render.progress_enabled(as_json=False)
    assert not render.progress_enabled(as_json=True)
    assert not render.progress_enabled(as_json=False, quiet=True)
