"""The layering, pinned: every import in the package (module level, inside functions and under
TYPE_CHECKING alike) goes from a layer to the same or a lower one, and no format module (one
reader, one exporter) imports another.

    core (errors, options, numeric, schemas, store, engine, ...) <- ingest
      <- analysis / replay / predictors <- reports <- cli (and the facade, samples, notebook)

The README's "Layout" section says the same in prose; change both together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "workscope"

CORE, INGEST, MIDDLE, REPORTS, TOP = range(5)
LAYER_NAMES = {CORE: "core", INGEST: "ingest", MIDDLE: "analysis/replay/predictors", REPORTS: "reports",
               TOP: "cli/facade"}
# The first dotted part under workscope. decides the layer; anything not listed is core.
PART_LAYER = {"ingest": INGEST, "analysis": MIDDLE, "replay": MIDDLE, "predictors": MIDDLE,
              "reports": REPORTS, "cli": TOP, "samples": TOP, "notebook": TOP, "__main__": TOP}
# Modules of a format package that are shared machinery, not formats.
INGEST_SHARED = {"reader", "files", "parse", "pipeline", "registry", "timefmt", "remote", "cluster"}
EXPORTER_SHARED = {"base", "registry"}


def module_name(path: Path, pkg: Path = PKG) -> str:
    rel = path.relative_to(pkg.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> int:
    parts = module.split(".")
    if parts == ["workscope"]:
        return TOP  # the facade: workscope/__init__.py
    return PART_LAYER.get(parts[1], CORE)


def format_of(module: str) -> str | None:
    """The format a module belongs to ('ingest.swf', 'exporters.vllm'), or None for shared code."""
    parts = module.split(".")
    if parts[1:2] == ["ingest"] and len(parts) >= 3:
        name = parts[2]
        if name.startswith("_") or name in INGEST_SHARED:
            return None
        return f"ingest.{name}"
    if parts[1:3] == ["replay", "exporters"] and len(parts) >= 4:
        name = parts[3]
        if name.startswith("_") or name in EXPORTER_SHARED:
            return None
        return f"exporters.{name}"
    return None


def imports(path: Path, pkg: Path = PKG) -> list[tuple[int, str]]:
    """(line, imported module) for every import statement in the file, resolved to absolute."""
    mod = module_name(path, pkg)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from workscope.ingest import swf` imports the module workscope.ingest.swf;
            # `from workscope.ingest.parse import build` imports the module workscope.ingest.parse
            for a in node.names:
                sub = f"{target}.{a.name}"
                out.append((node.lineno, sub if known(sub, pkg) else target))
    return [(line, t) for line, t in out if t == "workscope" or t.startswith("workscope.")]


def known(module: str, pkg: Path = PKG) -> bool:
    rel = Path(*module.split(".")[1:]) if "." in module else Path()
    return (pkg / rel).with_suffix(".py").is_file() or (pkg / rel / "__init__.py").is_file()


def violations(pkg: Path = PKG) -> list[str]:
    """One line per import that goes up a layer or from one format module to another."""
    bad = []
    for path in sorted(pkg.rglob("*.py")):
        mod = module_name(path, pkg)
        for line, target in imports(path, pkg):
            where = f"{path.relative_to(pkg.parent)}:{line}"
            if layer(target) > layer(mod):
                bad.append(f"{where}: {LAYER_NAMES[layer(mod)]} module {mod} imports "
                           f"{LAYER_NAMES[layer(target)]} module {target}")
            mine, theirs = format_of(mod), format_of(target)
            if mine and theirs and mine != theirs:
                bad.append(f"{where}: format module {mod} imports another format module {target}; "
                           "move the shared code into a private _name.py module of the package")
    return bad


def test_no_import_goes_up_a_layer_and_no_format_imports_another() -> None:
    assert violations() == []


@pytest.mark.parametrize(("module", "expected"), [
    ("workscope.store", CORE), ("workscope.engine", CORE), ("workscope.options", CORE),
    ("workscope.ingest.pipeline", INGEST), ("workscope.replay.exporters.vllm", MIDDLE),
    ("workscope.reports.html", REPORTS), ("workscope.cli", TOP), ("workscope", TOP),
])
def test_layer_map(module: str, expected: int) -> None:
    assert layer(module) == expected


def test_the_checker_catches_what_it_should(tmp_path: Path) -> None:
    """A planted package: upward imports (module level, in a function, relative) and a
    format-to-format import are all reported; shared modules and same-layer imports are not."""
    pkg = tmp_path / "workscope"
    files = {
        "__init__.py": "from workscope.ingest import pipeline\n",  # facade: may import anything
        "store.py": "from workscope.reports.charts import x\n",  # core -> reports
        "engine.py": "def f():\n    from .ingest import registry\n",  # core -> ingest, relative
        "reports/__init__.py": "", "reports/charts.py": "from workscope import store\n",
        "ingest/__init__.py": "", "ingest/registry.py": "", "ingest/pipeline.py": "",
        "ingest/_shared.py": "from workscope.ingest import parse\n", "ingest/parse.py": "",
        "ingest/a.py": "from workscope.ingest import b, _shared\nfrom workscope.ingest.parse import p\n",
        "ingest/b.py": "from . import _shared\n",
        "ingest/m/__init__.py": "from workscope.ingest.m import config\n", "ingest/m/config.py": "",
        "replay/__init__.py": "", "replay/exporters/__init__.py": "",
        "replay/exporters/_llm.py": "", "replay/exporters/base.py": "",
        "replay/exporters/v.py": "from workscope.replay.exporters import _llm, base, s\n",
        "replay/exporters/s.py": "from workscope.analysis import x\n",
        "analysis/__init__.py": "import workscope.cli\n", "cli.py": "",
    }
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    found = violations(pkg)
    assert len(found) == 5, found
    assert any("store.py:1: core module workscope.store imports reports" in f for f in found)
    assert any("engine.py:2: core module workscope.engine imports ingest" in f for f in found)
    assert any("workscope/ingest/a.py:1: format module workscope.ingest.a imports another format "
               "module workscope.ingest.b" in f for f in found)
    assert any("exporters/v.py:1: format module workscope.replay.exporters.v imports another" in f
               for f in found)
    assert any("analysis/__init__.py:1: analysis/replay/predictors module" in f for f in found)
    assert format_of("workscope.ingest.mapped.config") == "ingest.mapped"
    assert format_of("workscope.ingest._huawei") is None


def test_store_imports_nothing_from_ingest() -> None:
    targets = {t for _, t in imports(PKG / "store.py")}
    assert targets and not {t for t in targets if t.startswith("workscope.ingest")}
