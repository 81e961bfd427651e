"""Workload models: per group and per time window, the arrival rate, its burstiness and the
length distributions, as JSON; fitted from a trace, or read from Alibaba ServeGen bundles.

Format (``format: "workscope.workload_model"``, version 1)::

    {"format": "workscope.workload_model", "version": 1, "table": "requests",
     "window_s": 600, "source": {...},
     "groups": {"<client or model>": {
        "model": "deepseek-r1",                      # optional, model name for the requests
        "windows": [{"start_s": 0, "rate_per_s": 0.105, "cv": 0.93,
                     "family": "gamma", "params": {"shape": 1.17, "scale": 8.06}}, ...],
        "lengths": [{"start_s": 0, "input_tokens": {"pmf": {"39": 0.00036, ...}},
                     "output_tokens": {"quantiles": [1, 5, ...]}}, ...]}}}

A length field is a probability mass function (value -> probability) or 101 quantiles
(p0..p100, sampled by inverse-CDF interpolation). Synthesis (replay.synth) draws a renewal
process per window with the window's rate, CV and family, and lengths from the entry whose
``start_s`` is the latest not after the arrival.

ServeGen (github.com/alibaba/ServeGen, Apache-2.0) releases per-client bundles:
``chunk-<client>-trace.csv`` (no header: window_start_s, rate_rps, cv, Gamma|Weibull|empty,
shape, scale) and ``chunk-<client>-dataset.json`` (window start -> field -> a *Python dict
literal* of a PMF, stored as a string). The literals are parsed by a strict number-pair
parser, never evaluated.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workscope.atomic import atomic_path
from workscope.errors import DataError, SourceError

FORMAT = "workscope.workload_model"
VERSION = 1
FAMILIES = ("exponential", "gamma", "weibull", "lognormal", "pareto")


class ModelError(DataError):
    """A workload model file that is not valid."""


@dataclass(frozen=True)
class Window:
    """Arrivals of one group in one window."""

    start_s: float
    rate_per_s: float
    cv: float
    family: str
    params: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Group:
    """One client / model: its windows and its length distributions over time."""

    windows: tuple[Window, ...]
    lengths: tuple[dict[str, Any], ...] = ()
    model: str | None = None


@dataclass(frozen=True)
class WorkloadModel:
    """A workload model (see the module docstring for the JSON form)."""

    table: str
    window_s: float
    groups: dict[str, Group]
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def span_s(self) -> float:
        """Time covered: from 0 to the end of the last window of any group."""
        return max((w.start_s for g in self.groups.values() for w in g.windows), default=0.0) + self.window_s

    def summary(self) -> dict[str, Any]:
        """How big the model is: groups, fitted windows and the span they cover (s)."""
        return {"groups": len(self.groups), "windows": sum(len(g.windows) for g in self.groups.values()),
                "span_s": self.span_s}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "format": FORMAT, "version": VERSION, "table": self.table, "window_s": self.window_s,
            "source": self.source,
            "groups": {
                name: {
                    **({"model": g.model} if g.model else {}),
                    "windows": [{"start_s": w.start_s, "rate_per_s": w.rate_per_s, "cv": w.cv,
                                 "family": w.family, "params": w.params} for w in g.windows],
                    "lengths": [_lengths_json(entry) for entry in g.lengths],
                } for name, g in self.groups.items()
            },
        }

    def save(self, path: str | Path) -> Path:
        """Write the model as JSON (atomically)."""
        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False))
        return path


def _lengths_json(entry: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"start_s": entry["start_s"]}
    for k, v in entry.items():
        if k == "start_s":
            continue
        if "pmf" in v:
            out[k] = {"pmf": {_num_key(x): p for x, p in v["pmf"].items()}}
        else:
            out[k] = {"quantiles": list(v["quantiles"])}
    return out


def _num_key(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def load(path: str | Path) -> WorkloadModel:
    """Read a workload model JSON file, or a ServeGen bundle directory; ModelError if invalid."""
    path = Path(path)
    if path.is_dir():
        return load_servegen(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceError(path, "no such file", hint="pass a model JSON or a ServeGen folder") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: not a JSON workload model ({exc})") from None
    return from_dict(doc, str(path))


def from_dict(doc: Any, where: str = "model") -> WorkloadModel:
    """Validate and build a model from its JSON form."""
    def bad(msg: str) -> ModelError:
        return ModelError(f"{where}: {msg}")

    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise bad(f"not a workload model (format must be {FORMAT!r})")
    if doc.get("version") != VERSION:
        raise bad(f"unsupported version {doc.get('version')!r} (this workscope reads {VERSION})")
    if doc.get("table") != "requests":
        raise bad("only requests models are supported")
    window_s = _pos(doc.get("window_s"), "window_s", bad)
    groups: dict[str, Group] = {}
    for name, g in (doc.get("groups") or {}).items():
        if not isinstance(g, dict) or not isinstance(g.get("windows"), list):
            raise bad(f"group {name!r} needs a list of windows")
        windows = []
        for i, w in enumerate(g["windows"]):
            family = w.get("family")
            if family not in FAMILIES:
                raise bad(f"group {name!r} window {i}: family {family!r} is not one of {FAMILIES}")
            windows.append(Window(_num(w.get("start_s"), "start_s", bad),
                                  _num(w.get("rate_per_s"), "rate_per_s", bad, minimum=0.0),
                                  _num(w.get("cv"), "cv", bad, minimum=0.0), family,
                                  {str(k): float(v) for k, v in (w.get("params") or {}).items()}))
        lengths = []
        for entry in g.get("lengths") or []:
            item: dict[str, Any] = {"start_s": _num(entry.get("start_s"), "start_s", bad)}
            for k, v in entry.items():
                if k == "start_s":
                    continue
                if isinstance(v, dict) and "pmf" in v:
                    item[k] = {"pmf": {float(x): float(p) for x, p in v["pmf"].items()}}
                elif isinstance(v, dict) and "quantiles" in v and len(v["quantiles"]) >= 2:
                    item[k] = {"quantiles": [float(q) for q in v["quantiles"]]}
                else:
                    raise bad(f"group {name!r}: length field {k!r} needs 'pmf' or 'quantiles'")
            lengths.append(item)
        groups[str(name)] = Group(tuple(sorted(windows, key=lambda w: w.start_s)),
                                  tuple(sorted(lengths, key=lambda e: e["start_s"])), g.get("model"))
    if not groups:
        raise bad("no groups")
    return WorkloadModel("requests", window_s, groups, dict(doc.get("source") or {}))


def _num(v: Any, name: str, bad: Any, minimum: float | None = None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise bad(f"{name} must be a finite number, got {v!r}")
    if minimum is not None and v < minimum:
        raise bad(f"{name} must be >= {minimum}, got {v!r}")
    return float(v)


def _pos(v: Any, name: str, bad: Any) -> float:
    x = _num(v, name, bad)
    if x <= 0:
        raise bad(f"{name} must be positive")
    return x


# ---------------------------------------------------------------- ServeGen

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PAIR = re.compile(rf"\s*({_NUMBER})\s*:\s*({_NUMBER})\s*(,|$)")


def parse_pmf_literal(text: str, where: str = "") -> dict[float, float]:
    """Parse a ServeGen PMF string such as ``"{39: 0.00036, 40: 0.00018}"``.

    Only ``{number: number, ...}`` is accepted; anything else (names, calls, nesting) is a
    ModelError. Nothing is evaluated.
    """
    s = text.strip()
    if not (s.startswith("{") and s.endswith("}")):
        raise ModelError(f"{where}: PMF literal must be {{number: number, ...}}, got {s[:40]!r}")
    body = s[1:-1].strip()
    out: dict[float, float] = {}
    pos = 0
    while pos < len(body):
        m = _PAIR.match(body, pos)
        if not m:
            raise ModelError(f"{where}: cannot parse PMF literal near {body[pos:pos + 30]!r}")
        out[float(m.group(1))] = float(m.group(2))
        pos = m.end()
        while pos < len(body) and body[pos].isspace():
            pos += 1
    return out


def load_servegen(folder: Path) -> WorkloadModel:
    """A model from a ServeGen folder of chunk-<client>-trace.csv / -dataset.json files."""
    traces = sorted(folder.glob("chunk-*-trace.csv"), key=lambda p: _client_key(p.name))
    if not traces:
        raise SourceError(folder, "no chunk-<client>-trace.csv files", hint="pass a ServeGen data folder")
    model_name = folder.name
    groups: dict[str, Group] = {}
    for tf in traces:
        client = tf.name[len("chunk-"):-len("-trace.csv")]
        windows = []
        for i, line in enumerate(tf.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            f = line.split(",")
            if len(f) != 6:
                raise SourceError(tf, f"expected 6 fields, found {len(f)}", line=i)
            try:
                start, rate = float(f[0]), float(f[1])
                cv = float(f[2]) if f[2] else 1.0
            except ValueError:
                raise SourceError(tf, "window_start_s, rate and cv must be numbers", line=i) from None
            dist = f[3].strip().lower()
            params: dict[str, float] = {}
            if dist in ("gamma", "weibull") and f[4] and f[5]:
                params = {"shape": float(f[4]), "scale": float(f[5])}
                family = dist
            else:
                family = "exponential"  # ServeGen leaves the family empty for idle windows
            if not (math.isfinite(rate) and math.isfinite(cv)):
                raise SourceError(tf, "rate and cv must be finite", line=i)
            windows.append(Window(start, max(rate, 0.0), max(cv, 0.0), family, params))
        lengths = []
        ds = tf.with_name(f"chunk-{client}-dataset.json")
        if ds.exists():
            try:
                doc = json.loads(ds.read_text())
            except json.JSONDecodeError as exc:
                raise SourceError(ds, f"not JSON ({exc})") from None
            for start, fields in doc.items():
                entry: dict[str, Any] = {"start_s": float(start)}
                for k, v in fields.items():
                    pmf = parse_pmf_literal(v, f"{ds}:{start}:{k}") if isinstance(v, str) else {}
                    total = sum(pmf.values())
                    if total > 0:
                        entry[k] = {"pmf": {x: p / total for x, p in pmf.items() if p > 0}}
                lengths.append(entry)
            for e in lengths:
                # Multimodal bundles give text and image tokens apart; input_tokens takes the text
                # tokens (image tokens stay available as their own field).
                if "input_tokens" not in e and "text_tokens" in e:
                    e["input_tokens"] = e["text_tokens"]
        groups[client] = Group(tuple(sorted(windows, key=lambda w: w.start_s)),
                               tuple(sorted(lengths, key=lambda e: e["start_s"])), model_name)
    return WorkloadModel("requests", 600.0, groups,
                         {"servegen": str(folder), "clients": len(groups), "model": model_name})


def _client_key(name: str) -> tuple[int, str]:
    core = name[len("chunk-"):].split("-")[0]
    return (int(core), core) if core.isdigit() else (1 << 30, core)
