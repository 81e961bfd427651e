"""One characterization pipeline in this process; prints wall time and peak RSS as JSON."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

WINDOWS = (1.0, 10.0, 60.0, 600.0, 3600.0)


def workscope_pipeline(home: Path) -> dict[str, object]:
    import workscope
    from workscope.analysis import characterize

    profile = characterize(workscope.open(home).trace("bench"))
    json.dumps(profile.to_dict())  # the JSON the CLI prints is part of the work
    return {"analyses": ",".join(profile.results)}


def reference_pipeline(home: Path) -> dict[str, object]:
    """The same metrics, as a pandas + scipy notebook computes them."""
    import numpy as np
    import pandas as pd
    from scipy import stats

    import workscope

    # the trace's current generation (a replace writes a new one; see README, What a trace is)
    files = workscope.open(home).trace("bench").files("requests")
    df = pd.concat(pd.read_parquet(f, columns=["arrival_s", "input_tokens", "output_tokens"]) for f in files)
    df = df.sort_values("arrival_s")
    t = df["arrival_s"].to_numpy()
    gaps = np.diff(t)
    out: dict[str, object] = {"cv": float(gaps.std() / gaps.mean())}
    span = t[-1] - t[0]
    scales = np.unique(np.geomspace(0.1, span / 10, 24))
    fano, peak, var_m = [], [], []
    for w in scales:
        counts = np.bincount(((t - t[0]) // w).astype(np.int64))
        fano.append(counts.var() / counts.mean())
        peak.append(counts.max() / counts.mean())
        var_m.append(counts.var() / (w * w))
    hurst = 1 + np.polyfit(np.log(scales), np.log(np.asarray(var_m) * scales * scales / scales), 1)[0] / 2
    out["fano"], out["peak"], out["hurst"] = fano, peak, float(hurst)
    series = {w: df.groupby((df["arrival_s"] // w).astype("int64")).size() for w in WINDOWS}
    ts = pd.to_datetime(df["arrival_s"], unit="s")
    out["hourly"] = ts.dt.hour.value_counts().sort_index().tolist()
    out["weekly"] = ts.dt.dayofweek.value_counts().sort_index().tolist()
    rng = np.random.default_rng(0)
    fits = {}
    for name, x in (("interarrival", gaps[gaps > 0]), ("input", df["input_tokens"].to_numpy().astype(float)),
                    ("output", df["output_tokens"].to_numpy().astype(float))):
        x = x[x > 0]
        s = rng.choice(x, size=min(x.size, 200_000), replace=False)
        for fam in (stats.expon, stats.gamma, stats.weibull_min, stats.lognorm, stats.pareto):
            params = fam.fit(s, floc=0) if fam is not stats.pareto else fam.fit(s, floc=0, fscale=s.min())
            ll = fam.logpdf(s, *params).sum()
            fits[(name, fam.name)] = (2 * len(params) - 2 * ll, stats.kstest(s, fam.cdf, args=params).statistic)
    out["fits"] = len(fits)
    win = (df["arrival_s"] // 600).astype("int64")
    per_window = df.assign(gap=np.concatenate([[np.nan], gaps]), win=win).groupby("win")["gap"].agg(["count", "mean", "std"])
    out["windows"] = len(per_window)
    for c in ("input_tokens", "output_tokens"):
        np.quantile(df[c].to_numpy(), [0.5, 0.9, 0.99])
    out["corr"] = float(stats.spearmanr(df["input_tokens"], df["output_tokens"]).statistic)
    np.histogram2d(np.log1p(df["input_tokens"]), np.log1p(df["output_tokens"]), bins=40)
    del series
    return {"analyses": "reference"}


def main() -> None:
    pipeline, home = sys.argv[1], Path(sys.argv[2])
    fn = {"workscope": workscope_pipeline, "reference": reference_pipeline}[pipeline]
    t0 = time.perf_counter()
    extra = fn(home)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"pipeline": pipeline, "wall_s": wall, "rss_mb": rss, **extra}))


if __name__ == "__main__":
    main()
