"""Plan versus realised: did a load generator replay a workload as planned?

:func:`check` compares a *plan* (a requests workload: a trace or a workload file written by
``workscope replay export --to parquet``) with a *result* (a trace whose ``responses`` table
holds what the tool sent and measured, see ``workscope.schemas``).

Clocks. The plan's arrivals are rebased to its first request, as the exporters do when they
write a schedule; the result's ``sent_s`` counts from the run's first send (the readers'
origin). A request's planned time is the ``plan_s`` the tool recorded, where it recorded one
(the tool's own clock, so no rebasing is needed), else the plan's rebased arrival, counted
from the arrival of the first matched request sent (the plan's first request unless that one
was dropped). A reader whose sent_s does not start at the first send shows its offset as
lateness of every request.

Matching. By ``request_id`` when both sides have a unique id on every row and more than half
of the result's ids are plan ids (a plan exported with ids and a tool that kept them);
otherwise by order: the i-th planned request (by arrival) with the i-th sent one (by
``plan_s`` when the tool recorded it on every row, else by ``sent_s``). Without ids a request
dropped in the middle can only be counted, not placed: order matching pairs the remaining
sends with the earliest planned requests, and the unmatched tail is counted as dropped.

Figures:

- send lateness = sent_s - planned time over the matched requests (p50, p99, max; positive is
  late);
- two-sample KS statistics between planned and realised inter-arrival times (all planned
  requests against all sends) and between per-window counts (``window_s``);
- tokens over the matched requests: input planned vs sent (``responses.input_tokens``),
  output planned vs requested (``output_tokens_requested``) vs received (``output_tokens``,
  requests with status ``ok`` only: a failed request's short answer is counted as a failure);
- requests dropped (planned, never matched) and failed (matched, status other than ``ok``).

Verdict. Every check of :class:`Thresholds` is evaluated; the verdict names the first that
fails in this order, since dropped requests make the later figures partial:
``incomplete`` (drop + fail share), ``behind schedule`` (p99 lateness, inter-arrival KS,
optionally window-count KS), ``lengths changed`` (token mismatch shares); ``faithful`` when
none fails. A check whose figure cannot be computed (the tool did not record the column) is
skipped and said so in the notes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl
from scipy import stats

from workscope.errors import DataError, UsageError
from workscope.replay.fidelity import _interarrivals, _window_counts, resolve
from workscope.replay.workload import Workload
from workscope.schemas import TABLES

if TYPE_CHECKING:
    from workscope.store import Store, Trace

FAITHFUL = "faithful"
BEHIND = "behind schedule"
LENGTHS = "lengths changed"
INCOMPLETE = "incomplete"
VERDICTS = (FAITHFUL, BEHIND, LENGTHS, INCOMPLETE)
"""Every verdict :func:`check` can give."""

Match = Literal["auto", "id", "order"]


@dataclass(frozen=True)
class Thresholds:
    """The limits a faithful replay stays within (``None`` turns a check off)."""

    max_lateness_p99_s: float | None = 0.050
    """p99 of send lateness, s (50 ms: well under a typical request's TTFT)."""
    max_interarrival_ks: float | None = 0.1
    """KS statistic between planned and realised inter-arrival times."""
    max_window_ks: float | None = None
    """KS statistic between planned and realised counts per window; off by default, since
    with few windows one changed window already moves it by 1/windows."""
    max_token_mismatch_share: float | None = 0.01
    """Share of compared requests whose tokens differ from the plan (each of input sent,
    output requested, output received)."""
    max_loss_share: float | None = 0.01
    """Share of planned requests dropped or failed."""
    token_rel_tol: float = 0.0
    """A token count within this relative distance of the plan counts as equal (tokenizers
    can differ by a few tokens); 0 asks for equal counts."""

    def __post_init__(self) -> None:
        for k, v in asdict(self).items():
            if v is not None and (not math.isfinite(v) or v < 0):
                raise UsageError(f"threshold {k} must be a finite number >= 0, got {v!r}")


@dataclass(frozen=True)
class CheckReport:
    """What :func:`check` found: counts, lateness, timing, tokens, checks and the verdict."""

    plan: str
    result: str
    verdict: str
    matched_by: str
    """``request_id`` or ``order``."""
    requests: dict[str, Any]
    """planned, in_result, matched, dropped, failed, extra (sent, not planned), loss_share."""
    lateness_s: dict[str, Any]
    """n, p50, p99, max (s; null with no match) and from_plan_s (rows timed by the tool's plan_s)."""
    timing: dict[str, Any]
    """window_s, interarrival_ks, window_count_ks (null with fewer than two events a side)."""
    tokens: pl.DataFrame
    """comparison, n, planned, realised, mismatched, mismatch_share (one row per comparison)."""
    checks: pl.DataFrame
    """check, value, threshold, passed (null: not evaluated), verdict (what a failure means)."""
    thresholds: Thresholds
    matches: pl.DataFrame = field(repr=False)
    """One row per matched request: plan_index, request_id, planned_s, sent_s, lateness_s,
    status, and the planned / realised token counts."""
    notes: tuple[str, ...] = ()

    @property
    def failed_checks(self) -> list[str]:
        """Names of the checks that failed, in verdict order."""
        return self.checks.filter(~pl.col("passed"))["check"].to_list()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (non-finite floats as null)."""
        return _finite({
            "plan": self.plan, "result": self.result, "verdict": self.verdict,
            "failed_checks": self.failed_checks, "matched_by": self.matched_by,
            "requests": self.requests, "lateness_s": self.lateness_s, "timing": self.timing,
            "tokens": self.tokens.to_dicts(), "checks": self.checks.to_dicts(),
            "thresholds": asdict(self.thresholds), "notes": list(self.notes),
        })

    def to_json(self) -> str:
        """The report as one JSON document."""
        return json.dumps(self.to_dict(), indent=2)

    def to_markdown(self) -> str:
        """The report as Markdown: verdict, counts, lateness and timing, tokens, checks."""
        r, la, t = self.requests, self.lateness_s, self.timing
        lines = [f"Replay check of `{self.result}` against plan `{self.plan}`: **{self.verdict}**", "",
                 "| planned | in result | matched | dropped | failed | extra | loss share |",
                 "|---:|---:|---:|---:|---:|---:|---:|",
                 (f"| {r['planned']} | {r['in_result']} | {r['matched']} | {r['dropped']} | {r['failed']} | "
                  f"{r['extra']} | {_g(r['loss_share'])} |"), "",
                 ("| lateness p50 (s) | p99 (s) | max (s) | inter-arrival KS | "
                  f"count per {t['window_s']:g} s KS |"),
                 "|---:|---:|---:|---:|---:|",
                 (f"| {_g(la['p50'])} | {_g(la['p99'])} | {_g(la['max'])} | {_g(t['interarrival_ks'])} | "
                  f"{_g(t['window_count_ks'])} |"), "",
                 "| tokens | n | planned | realised | mismatched | mismatch share |",
                 "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {d['comparison']} | {d['n']} | {_g(d['planned'])} | {_g(d['realised'])} | "
                  f"{d['mismatched']} | {_g(d['mismatch_share'])} |" for d in self.tokens.to_dicts()]
        lines += ["", "| check | value | threshold | passed | on failure |", "|---|---:|---:|---|---|"]
        lines += [f"| {d['check']} | {_g(d['value'])} | {_g(d['threshold'])} | "
                  f"{'' if d['passed'] is None else 'yes' if d['passed'] else '**no**'} | {d['verdict']} |"
                  for d in self.checks.to_dicts()]
        lines += [f"\n_{n}_" for n in self.notes]
        return "\n".join(lines) + "\n"


def _g(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.6g}"


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def result_responses(ref: str | Trace, store: Store | Callable[[], Store] | None = None) -> tuple[str, pl.DataFrame]:
    """The name and ``responses`` table of the result ``ref`` (a trace or a trace name).

    UsageError, in one line, when the trace has no ``responses`` table.
    """
    from workscope.store import Trace

    if isinstance(ref, Trace):
        trace = ref
    else:
        st = store() if callable(store) else store
        if st is None:
            raise UsageError(f"the result {ref!r} must be a trace of a store (its responses table)")
        trace = st.trace(ref)
    if "responses" not in trace.tables:
        have = ", ".join(trace.tables) or "no tables"
        raise UsageError(f"trace {trace.name!r} has no responses table (it has {have}): ingest the load "
                         "generator's result files (AIPerf, GuideLLM, vLLM or SGLang bench) as the result")
    return trace.name, trace.read("responses")


def check(plan: str | Workload | Trace, result: str | Trace | pl.DataFrame,
          store: Store | Callable[[], Store] | None = None, *, window_s: float = 1.0,
          match: Match = "auto", thresholds: Thresholds | None = None) -> CheckReport:
    """Compare the plan ``plan`` with the result ``result`` (see the module docstring).

    ``plan`` is a requests Workload, a trace, or a trace name / workload file
    (:func:`workscope.replay.fidelity.resolve`); ``result`` is a trace or trace name with a
    ``responses`` table, or that table as a DataFrame. ``store`` (or a function giving it) is
    needed where a side is a trace name. ``window_s`` is the window of the per-window counts;
    ``match`` forces matching by ``id`` or by ``order`` (``auto``: ids when both sides keep
    them). Raises UsageError for a plan without requests or a result without responses,
    DataError for an empty plan.
    """
    th = thresholds or Thresholds()
    if not (math.isfinite(window_s) and window_s > 0):
        raise UsageError(f"window_s must be a positive number of seconds, got {window_s!r}")
    if match not in ("auto", "id", "order"):
        raise UsageError(f"match must be auto, id or order, got {match!r}")
    wl = resolve(plan, store, "requests")
    plan_label = plan if isinstance(plan, str) else str(wl.meta.get("source_trace") or "workload")
    if isinstance(result, pl.DataFrame):
        result_label, res = "responses", result
    else:
        result_label, res = result_responses(result, store)

    p = _plan_frame(wl.collect())
    if p.height == 0:
        raise DataError(f"the plan {plan_label!r} has no requests to check against")
    r = _result_frame(res)
    notes: list[str] = []
    matched_by, pairs = _match(p, r, match, notes)
    m = _matched(p, r, pairs)

    failed = int((m["status"] != "ok").sum()) if m.height else 0
    dropped = p.height - m.height
    requests = {"planned": p.height, "in_result": r.height, "matched": m.height, "dropped": dropped,
                "failed": failed, "extra": r.height - m.height,
                "loss_share": (dropped + failed) / p.height}
    if requests["extra"]:
        notes.append(f"{requests['extra']} sent requests match no planned request (warm-up or extra sends)")

    lat = m["lateness_s"].to_numpy() if m.height else np.array([])
    from_plan_s = int(m["plan_s"].is_not_null().sum()) if m.height else 0
    lateness = {"n": int(lat.size), "p50": _q(lat, 0.5), "p99": _q(lat, 0.99),
                "max": float(lat.max()) if lat.size else None, "from_plan_s": from_plan_s}
    if 0 < from_plan_s < m.height:
        notes.append(f"the tool recorded plan_s for {from_plan_s} of {m.height} matched requests; "
                     "the others are timed against the plan's rebased arrival")

    planned_t = p.select(pl.col("arrival_s").alias("t"))
    sent_t = r.select(pl.col("sent_s").alias("t"))
    timing = {"window_s": window_s,
              "interarrival_ks": _ks(_interarrivals(planned_t, "t"), _interarrivals(sent_t, "t")),
              "window_count_ks": _ks(_window_counts(planned_t, "t", window_s),
                                     _window_counts(sent_t, "t", window_s))}

    tokens = _tokens(m, th.token_rel_tol)
    checks = _checks(requests, lateness, timing, tokens, th, notes)
    failing = checks.filter(~pl.col("passed"))  # null (not evaluated) is not a failure
    verdict = failing["verdict"][0] if failing.height else FAITHFUL
    return CheckReport(plan_label, result_label, verdict, matched_by, requests, lateness, timing, tokens,
                       checks, th, m, tuple(notes))


def _plan_frame(df: pl.DataFrame) -> pl.DataFrame:
    """The plan sorted by arrival, rebased to its first request, with its index."""
    cols = {c: (pl.col(c) if c in df.columns else pl.lit(None)) for c in ("request_id", "input_tokens",
                                                                          "output_tokens")}
    df = df.sort("arrival_s", maintain_order=True)
    return df.select(
        pl.int_range(pl.len()).alias("plan_index"),
        (pl.col("arrival_s") - pl.col("arrival_s").min()).alias("arrival_s"),
        cols["request_id"].cast(pl.String).alias("request_id"),
        cols["input_tokens"].cast(pl.Int64).alias("input_tokens"),
        cols["output_tokens"].cast(pl.Int64).alias("output_tokens"),
    )


_RESULT_COLUMNS = ("request_id", "plan_s", "sent_s", "input_tokens", "output_tokens_requested",
                   "output_tokens", "status")


def _result_frame(df: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in ("sent_s", "status") if c not in df.columns]
    if missing:
        raise UsageError(f"the result has no {', '.join(missing)} column: give a canonical responses table")
    dtypes = TABLES["responses"].polars_schema
    # a DataFrame given directly may lack optional columns or type them loosely (int ids)
    df = df.select([(pl.col(c) if c in df.columns else pl.lit(None)).cast(dtypes[c]).alias(c)
                    for c in _RESULT_COLUMNS])
    if df["sent_s"].is_null().any():
        raise DataError("the result has requests without sent_s: cannot time them")
    # the tool's planned time orders the sends as the tool meant them (two sends a few µs
    # apart may leave in either order); sent_s when the tool did not record it everywhere
    key = "plan_s" if df.height and df["plan_s"].null_count() == 0 else "sent_s"
    return df.sort(key, "sent_s", maintain_order=True).with_row_index("result_index")


def _ids_usable(ids: pl.Series) -> bool:
    return ids.len() > 0 and ids.null_count() == 0 and ids.n_unique() == ids.len()


def _match(p: pl.DataFrame, r: pl.DataFrame, how: Match, notes: list[str]) -> tuple[str, pl.DataFrame]:
    """(how, pairs of plan_index and result_index)."""
    ids_ok = _ids_usable(p["request_id"]) and _ids_usable(r["request_id"])
    if how == "id" and not ids_ok:
        raise UsageError("cannot match by request_id: both plan and result need a unique id on every row")
    if how != "order" and ids_ok:
        pairs = p.select("plan_index", "request_id").join(
            r.select("result_index", "request_id"), on="request_id", how="inner")
        if how == "id" and pairs.height == 0:
            raise UsageError("cannot match by request_id: no result id is a plan id")
        if how == "id" or pairs.height * 2 > r.height:
            return "request_id", pairs.select("plan_index", "result_index")
        notes.append(f"only {pairs.height} of {r.height} result ids are plan ids (the tool kept its own): "
                     "matched by order")
    n = min(p.height, r.height)
    return "order", pl.DataFrame({"plan_index": pl.int_range(n, eager=True).cast(pl.Int64),
                                  "result_index": pl.int_range(n, eager=True).cast(pl.UInt32)})


def _matched(p: pl.DataFrame, r: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    rr = r.rename({"request_id": "result_request_id", "input_tokens": "input_tokens_sent"})
    m = (pairs.with_columns(pl.col("plan_index").cast(pl.Int64), pl.col("result_index").cast(pl.UInt32))
         .join(p.rename({"output_tokens": "output_tokens_planned", "input_tokens": "input_tokens_planned"}),
               on="plan_index")
         .join(rr, on="result_index")
         .sort("plan_index"))
    # sent_s counts from the run's first send, so the plan's zero is the arrival of the request
    # sent first; that is the plan's first request unless it was dropped, when rebasing to it
    # would make every request look early by the dropped request's lead
    zero = m.sort("sent_s")["arrival_s"][0] if m.height else 0.0
    planned = pl.coalesce(pl.col("plan_s"), pl.col("arrival_s") - zero)
    return m.select(
        "plan_index", "request_id", "result_request_id", planned.alias("planned_s"), "plan_s", "sent_s",
        (pl.col("sent_s") - planned).alias("lateness_s"), "status",
        "input_tokens_planned", "input_tokens_sent", "output_tokens_planned", "output_tokens_requested",
        "output_tokens")


def _q(a: np.ndarray, q: float) -> float | None:
    return float(np.quantile(a, q)) if a.size else None


def _ks(a: np.ndarray, b: np.ndarray) -> float | None:
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    return float(stats.ks_2samp(a, b).statistic) if a.size and b.size else None


def _tokens(m: pl.DataFrame, rel_tol: float) -> pl.DataFrame:
    """Planned against realised tokens: input sent, output requested, output received (ok only)."""
    comparisons = (("input_sent", "input_tokens_planned", "input_tokens_sent", None),
                   ("output_requested", "output_tokens_planned", "output_tokens_requested", None),
                   ("output_received", "output_tokens_planned", "output_tokens", "ok"))
    rows = []
    for name, a, b, status in comparisons:
        d = m.filter(pl.col(a).is_not_null() & pl.col(b).is_not_null())
        if status is not None:
            d = d.filter(pl.col("status") == status)
        pa, pb = d[a].cast(pl.Float64), d[b].cast(pl.Float64)
        bad = int(((pb - pa).abs() > rel_tol * pa.abs()).sum()) if d.height else 0
        rows.append({"comparison": name, "n": d.height, "planned": int(d[a].sum()) if d.height else None,
                     "realised": int(d[b].sum()) if d.height else None, "mismatched": bad,
                     "mismatch_share": bad / d.height if d.height else None})
    return pl.DataFrame(rows, schema={"comparison": pl.String, "n": pl.Int64, "planned": pl.Int64,
                                      "realised": pl.Int64, "mismatched": pl.Int64,
                                      "mismatch_share": pl.Float64})


def _checks(requests: dict[str, Any], lateness: dict[str, Any], timing: dict[str, Any],
            tokens: pl.DataFrame, th: Thresholds, notes: list[str]) -> pl.DataFrame:
    share = {d["comparison"]: d["mismatch_share"] for d in tokens.to_dicts()}
    # verdict order: losses first (they make the rest partial), then timing, then lengths
    specs = [("loss_share", requests["loss_share"], th.max_loss_share, INCOMPLETE),
             ("lateness_p99_s", lateness["p99"], th.max_lateness_p99_s, BEHIND),
             ("interarrival_ks", timing["interarrival_ks"], th.max_interarrival_ks, BEHIND),
             ("window_count_ks", timing["window_count_ks"], th.max_window_ks, BEHIND),
             *((f"{k}_mismatch_share", share[k], th.max_token_mismatch_share, LENGTHS)
               for k in ("input_sent", "output_requested", "output_received"))]
    rows = []
    for name, value, limit, verdict in specs:
        passed = None if value is None or limit is None else bool(value <= limit)
        if value is None and limit is not None:
            notes.append(f"{name} not checked: the figure is not available (column not recorded or "
                         "too few requests)")
        rows.append({"check": name, "value": None if value is None else float(value),
                     "threshold": limit, "passed": passed, "verdict": verdict})
    return pl.DataFrame(rows, schema={"check": pl.String, "value": pl.Float64, "threshold": pl.Float64,
                                      "passed": pl.Boolean, "verdict": pl.String})
