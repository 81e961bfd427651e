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
from workscope.errors import DataError, SourceError, UsageError

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
        """Write the model as JSON (atomically); UsageError if ``path`` is a directory."""
        path = Path(path)
        if path.is_dir():
            raise UsageError(f"{path} is a directory; give the model file to write (e.g. {path / 'model.json'})")
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
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise SourceError(path, "no such file", hint="pass a model JSON or a ServeGen folder") from None
    except OSError as exc:
        raise SourceError(path, f"cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ModelError(f"{path}: not a JSON workload model (not UTF-8 text at byte {exc.start}); "
                         "pass a model written by `workscope replay fit`") from None
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}:{exc.lineno}: not a JSON workload model ({exc.msg}); "
                         "pass a model written by `workscope replay fit`") from None
    except RecursionError:
        raise ModelError(f"{path}: not a workload model (JSON nested too deeply)") from None
    return from_dict(doc, str(path))


def from_dict(doc: Any, where: str = "model") -> WorkloadModel:
    """Validate and build a model from its JSON form; ModelError naming the field if invalid."""
    def bad(msg: str) -> ModelError:
        return ModelError(f"{where}: {msg}")

    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise bad(f"not a workload model (format must be {FORMAT!r})")
    if doc.get("version") != VERSION:
        raise bad(f"unsupported version {doc.get('version')!r} (this workscope reads {VERSION})")
    if doc.get("table") != "requests":
        raise bad("only requests models are supported")
    window_s = _pos(doc.get("window_s"), "window_s", bad)
    groups_doc = doc.get("groups")
    if not isinstance(groups_doc, dict):
        raise bad("groups must be an object of group name -> group")
    groups: dict[str, Group] = {}
    for name, g in groups_doc.items():
        if not isinstance(g, dict) or not isinstance(g.get("windows"), list):
            raise bad(f"group {name!r} needs a list of windows")
        windows = [_window(w, f"group {name!r} window {i}", bad) for i, w in enumerate(g["windows"])]
        lengths_doc = g.get("lengths") or []
        if not isinstance(lengths_doc, list):
            raise bad(f"group {name!r}: lengths must be a list")
        lengths = [_length_entry(e, f"group {name!r} lengths[{i}]", bad) for i, e in enumerate(lengths_doc)]
        model = g.get("model")
        if model is not None and not isinstance(model, str):
            raise bad(f"group {name!r}: model must be a string, got {model!r}")
        groups[str(name)] = Group(tuple(sorted(windows, key=lambda w: w.start_s)),
                                  tuple(sorted(lengths, key=lambda e: e["start_s"])), model)
    if not groups:
        raise bad("no groups")
    source = doc.get("source") or {}
    if not isinstance(source, dict):
        raise bad("source must be an object")
    return WorkloadModel("requests", window_s, groups, dict(source))


def _window(w: Any, at: str, bad: Any) -> Window:
    """One window of a model's JSON form, checked."""
    if not isinstance(w, dict):
        raise bad(f"{at} must be an object")
    family = w.get("family")
    if family not in FAMILIES:
        raise bad(f"{at}: family {family!r} is not one of {FAMILIES}")
    params = w.get("params") or {}
    if not isinstance(params, dict):
        raise bad(f"{at}: params must be an object of name -> number")
    return Window(_num(w.get("start_s"), f"{at}: start_s", bad),
                  _num(w.get("rate_per_s"), f"{at}: rate_per_s", bad, minimum=0.0),
                  _num(w.get("cv"), f"{at}: cv", bad, minimum=0.0), family,
                  {str(k): _num(v, f"{at}: params.{k}", bad) for k, v in params.items()})


def _length_entry(entry: Any, at: str, bad: Any) -> dict[str, Any]:
    """One length entry (start_s and its fields' PMFs or quantiles) of a model's JSON form, checked."""
    if not isinstance(entry, dict):
        raise bad(f"{at} must be an object")
    item: dict[str, Any] = {"start_s": _num(entry.get("start_s"), f"{at}: start_s", bad)}
    for k, v in entry.items():
        if k == "start_s":
            continue
        if isinstance(v, dict) and isinstance(v.get("pmf"), dict):
            pmf = {_num_text(x, f"{at}: {k} pmf value", bad): _num(p, f"{at}: {k} pmf probability", bad,
                                                                  minimum=0.0)
                   for x, p in v["pmf"].items()}
            if not sum(pmf.values()) > 0:
                raise bad(f"{at}: {k} pmf needs a positive total probability")
            item[k] = {"pmf": pmf}
        elif isinstance(v, dict) and isinstance(v.get("quantiles"), list) and len(v["quantiles"]) >= 2:
            item[k] = {"quantiles": [_num(q, f"{at}: {k} quantile", bad) for q in v["quantiles"]]}
        else:
            raise bad(f"{at}: length field {k!r} needs 'pmf' (an object) or 'quantiles' (a list of >= 2)")
    return item


def _num(v: Any, name: str, bad: Any, minimum: float | None = None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise bad(f"{name} must be a finite number, got {_short(v)}")
    try:
        x = float(v)
    except OverflowError:  # an integer beyond float range
        x = math.inf
    if not math.isfinite(x):
        raise bad(f"{name} must be a finite number, got {_short(v)}")
    if minimum is not None and x < minimum:
        raise bad(f"{name} must be >= {minimum}, got {v!r}")
    return x


def _num_text(v: str, name: str, bad: Any) -> float:
    """A number written as a JSON object key."""
    if len(v) > _MAX_NUMBER_CHARS or not _NUMBER_RE.fullmatch(v.strip()):
        raise bad(f"{name} must be a number, got {_short(v)}")
    return _num(float(v), name, bad)


def _short(v: Any) -> str:
    """``repr(v)`` cut to a length fit for one error line."""
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _pos(v: Any, name: str, bad: Any) -> float:
    x = _num(v, name, bad)
    if x <= 0:
        raise bad(f"{name} must be positive")
    return x


# ---------------------------------------------------------------- ServeGen

# A decimal number as ServeGen writes it. Matched only against a token already cut out and
# at most _MAX_NUMBER_CHARS long, so the regex's work is bounded per token and parsing a
# literal is linear in its length (a regex scanning the whole literal backtracked
# quadratically on a long run of digits).
_NUMBER_RE = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?", re.ASCII)
_MAX_NUMBER_CHARS = 64  # far beyond the 17 significant digits plus exponent of any float


def parse_pmf_literal(text: str, where: str = "") -> dict[float, float]:
    """Parse a ServeGen PMF string such as ``"{39: 0.00036, 40: 0.00018}"``.

    Only ``{number: number, ...}`` (a trailing comma allowed, as in Python) is accepted;
    anything else (names, calls, nesting, numbers longer than 64 characters or beyond float
    range) is a ModelError. Nothing is evaluated; the work is linear in the text's length.
    """
    s = text.strip()
    if not (s.startswith("{") and s.endswith("}")):
        raise ModelError(f"{where}: PMF literal must be {{number: number, ...}}, got {s[:40]!r}")
    body = s[1:-1]
    if not body.strip():
        return {}
    items = body.split(",")
    if len(items) > 1 and not items[-1].strip():
        items.pop()  # a trailing comma
    out: dict[float, float] = {}
    for item in items:
        key, sep, value = item.partition(":")
        if not sep:
            raise ModelError(f"{where}: cannot parse PMF literal near {item.strip()[:30]!r} "
                             "(expected number: number)")
        pair = []
        for token in (key.strip(), value.strip()):
            if len(token) > _MAX_NUMBER_CHARS or not _NUMBER_RE.fullmatch(token):
                raise ModelError(f"{where}: cannot parse PMF literal near {token[:30]!r} "
                                 f"(expected a number of at most {_MAX_NUMBER_CHARS} characters)")
            x = float(token)
            if not math.isfinite(x):
                raise ModelError(f"{where}: PMF literal number {token[:30]!r} is beyond float range")
            pair.append(x)
        out[pair[0]] = pair[1]
    return out


def _read_text(path: Path) -> str:
    """A bundle file's text; SourceError naming it when it cannot be read or is not UTF-8."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(path, "not UTF-8 text", offset=exc.start,
                          hint="ServeGen bundles are UTF-8 CSV and JSON files") from None
    except OSError as exc:
        raise SourceError(path, f"cannot read ({exc.strerror or exc})") from None


def _servegen_windows(tf: Path) -> list[Window]:
    """The windows of one ``chunk-<client>-trace.csv``."""
    windows = []
    for i, line in enumerate(_read_text(tf).splitlines(), start=1):
        if not line.strip():
            continue
        f = line.split(",")
        if len(f) != 6:
            raise SourceError(tf, f"expected 6 fields, found {len(f)}", line=i,
                              hint="rows are window_start_s,rate,cv,family,shape,scale")
        try:
            start, rate = float(f[0]), float(f[1])
            cv = float(f[2]) if f[2].strip() else 1.0
        except ValueError:
            raise SourceError(tf, "window_start_s, rate and cv must be numbers", line=i) from None
        if not (math.isfinite(start) and math.isfinite(rate) and math.isfinite(cv)):
            raise SourceError(tf, "window_start_s, rate and cv must be finite", line=i)
        if start < 0 or rate < 0 or cv < 0:
            raise SourceError(tf, "window_start_s, rate and cv must be >= 0", line=i)
        dist = f[3].strip().lower()
        params: dict[str, float] = {}
        if dist in ("gamma", "weibull") and f[4].strip() and f[5].strip():
            try:
                shape, scale = float(f[4]), float(f[5])
            except ValueError:
                raise SourceError(tf, "shape and scale must be numbers", line=i) from None
            if not (math.isfinite(shape) and math.isfinite(scale) and shape > 0 and scale > 0):
                raise SourceError(tf, "shape and scale must be finite and > 0", line=i)
            params = {"shape": shape, "scale": scale}
            family = dist
        else:
            family = "exponential"  # ServeGen leaves the family empty for idle windows
        windows.append(Window(start, rate, cv, family, params))
    if not windows:
        raise SourceError(tf, "no windows (the file is empty)", hint="pass a complete ServeGen data folder")
    return windows


def _servegen_lengths(ds: Path) -> list[dict[str, Any]]:
    """The length entries of one ``chunk-<client>-dataset.json``."""
    text = _read_text(ds)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(ds, f"not JSON ({exc.msg})", line=exc.lineno,
                          hint="the file may be truncated; fetch it again") from None
    except RecursionError:
        raise SourceError(ds, "JSON nested too deeply") from None
    if not isinstance(doc, dict):
        raise SourceError(ds, f"expected an object of window start -> fields, found {type(doc).__name__}")
    lengths = []
    for start, fields in doc.items():
        try:
            start_s = float(start) if len(start) <= _MAX_NUMBER_CHARS else math.nan
        except ValueError:
            start_s = math.nan
        if not (math.isfinite(start_s) and start_s >= 0):
            raise SourceError(ds, f"window start {start[:30]!r} is not a number of seconds >= 0")
        if not isinstance(fields, dict):
            raise SourceError(ds, f"window {start}: expected an object of field -> PMF string, "
                                  f"found {type(fields).__name__}")
        entry: dict[str, Any] = {"start_s": start_s}
        for k, v in fields.items():
            if not isinstance(v, str):
                raise SourceError(ds, f"window {start} field {k[:30]!r}: expected a PMF string such as "
                                      f"\"{{39: 0.5}}\", found {type(v).__name__}")
            try:
                pmf = parse_pmf_literal(v)
            except ModelError as exc:
                raise SourceError(ds, f"window {start} field {k[:30]!r}: {str(exc).removeprefix(': ')}") from None
            if any(p < 0 for p in pmf.values()):
                raise SourceError(ds, f"window {start} field {k[:30]!r}: a probability is negative")
            total = sum(pmf.values())
            if total > 0:
                entry[k] = {"pmf": {x: p / total for x, p in pmf.items() if p > 0}}
        lengths.append(entry)
    for e in lengths:
        # Multimodal bundles give text and image tokens apart; input_tokens takes the text
        # tokens (image tokens stay available as their own field).
        if "input_tokens" not in e and "text_tokens" in e:
            e["input_tokens"] = e["text_tokens"]
    return lengths


def load_servegen(folder: Path) -> WorkloadModel:
    """A model from a ServeGen folder of chunk-<client>-trace.csv / -dataset.json files.

    A file that is unreadable, not UTF-8, truncated or holds a value of the wrong type or
    range is a SourceError naming the file (and the line where known).
    """
    traces = sorted(folder.glob("chunk-*-trace.csv"), key=lambda p: _client_key(p.name))
    if not traces:
        raise SourceError(folder, "no chunk-<client>-trace.csv files", hint="pass a ServeGen data folder")
    model_name = folder.name
    groups: dict[str, Group] = {}
    for tf in traces:
        client = tf.name[len("chunk-"):-len("-trace.csv")]
        windows = _servegen_windows(tf)
        ds = tf.with_name(f"chunk-{client}-dataset.json")
        lengths = _servegen_lengths(ds) if ds.exists() else []
        groups[client] = Group(tuple(sorted(windows, key=lambda w: w.start_s)),
                               tuple(sorted(lengths, key=lambda e: e["start_s"])), model_name)
    return WorkloadModel("requests", 600.0, groups,
                         {"servegen": str(folder), "clients": len(groups), "model": model_name})


def _client_key(name: str) -> tuple[int, str]:
    core = name[len("chunk-"):].split("-")[0]
    return (int(core), core) if core.isdigit() else (1 << 30, core)
