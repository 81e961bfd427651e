"""A torn checkpoint (issue 14, class 8): a save killed between the weights and the config left
new weights beside the old config, and `predict run` used the pair. The config now records
the weights' sha256 and loading refuses a pair that does not match."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import workscope
from tests.conftest import DATA
from workscope.cli import app
from workscope.errors import TaskDataError
from workscope.predictors import run, train


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    home = tmp_path_factory.mktemp("ckpt") / "store"
    store = workscope.open(home)
    store.ingest(DATA / "planetlab" / "20110303", format="planetlab", name="pl")
    spec = run.task("planetlab_cpu", "pl")
    results = [run.train_model(store, spec, "dlinear", seed=seed, epochs=1)[0] for seed in (0, 1)]
    return home, results


def test_weights_of_another_save_beside_a_config_are_refused(tmp_path: Path, trained) -> None:
    _, (a, b) = trained
    first, second = train.save(a, tmp_path / "a"), train.save(b, tmp_path / "b")
    train.load(first)  # intact
    shutil.copy(second / "model.safetensors", first / "model.safetensors")
    with pytest.raises(TaskDataError, match="damaged checkpoint.*torn"):
        train.load(first)


def test_a_save_killed_after_the_weights_leaves_a_refused_checkpoint(tmp_path: Path, trained,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    home, (a, b) = trained
    d = train.save(a, tmp_path / "ck")

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # the process dies before the config is written

    import workscope.atomic

    monkeypatch.setattr(workscope.atomic, "write_atomic", killed)  # save() imports it when called
    with pytest.raises(KeyboardInterrupt):
        train.save(b, d)
    monkeypatch.undo()
    with pytest.raises(TaskDataError, match="damaged checkpoint.*torn"):
        train.load(d)
    r = CliRunner().invoke(app, ["predict", "run", "planetlab_cpu", "--trace", "pl", "--checkpoint", str(d),
                                 "--out", str(tmp_path / "p.parquet"), "--home", str(home), "--json"])
    assert r.exit_code == 1
    assert "torn by an interrupted save" in json.loads(r.stdout)["error"]
    assert not (tmp_path / "p.parquet").exists()


def test_a_config_without_the_weights_hash_is_an_older_version(tmp_path: Path, trained) -> None:
    _, (a, _) = trained
    d = train.save(a, tmp_path / "old")
    config = json.loads((d / "config.json").read_text())
    del config["weights_sha256"]
    config["version"] = 1
    (d / "config.json").write_text(json.dumps(config))
    with pytest.raises(TaskDataError, match="unsupported checkpoint version 1"):
        train.load(d)
