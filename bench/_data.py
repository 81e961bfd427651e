"""Bench inputs, built once under bench/.cache (seeded, deterministic)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / ".cache"
CONV = ROOT.parent / "workscope" / "samples" / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv"


def azure_llm_csv(rows: int, seed: int = 7) -> Path:
    """An Azure-LLM-2023-shaped CSV of ``rows`` rows: the real conv hour tiled hour after hour.

    Each tile shifts the timestamps by one hour and jitters the token counts (seeded) so
    the file does not compress to nothing. Same header, timestamp style and CRLF endings.
    """
    CACHE.mkdir(parents=True, exist_ok=True)
    out = CACHE / f"azure_llm_conv_{rows}.csv"
    if out.exists():
        return out
    base = pl.read_csv(CONV, schema_overrides={"TIMESTAMP": pl.String})
    ts = base["TIMESTAMP"].str.strptime(pl.Datetime("ns"), "%Y-%m-%d %H:%M:%S%.f")
    rng = np.random.default_rng(seed)
    tmp = out.with_suffix(".tmp")
    written = 0
    hour = 0
    with open(tmp, "wb") as fh:
        fh.write(b"TIMESTAMP,ContextTokens,GeneratedTokens\r\n")
        while written < rows:
            n = min(base.height, rows - written)
            moved = ts.head(n) + pl.Series([hour * 3_600_000_000_000] * n).cast(pl.Duration("ns"))
            # 7 fractional digits (100 ns), as in the published file.
            frac = ((moved.dt.timestamp("ns") // 100) % 10_000_000).cast(pl.String).str.zfill(7)
            shifted = moved.dt.strftime("%Y-%m-%d %H:%M:%S") + "." + frac
            jitter = rng.integers(-3, 4, size=n)
            tile = pl.DataFrame({
                "TIMESTAMP": shifted,
                "ContextTokens": (base["ContextTokens"].head(n).to_numpy() + jitter).clip(1, None),
                "GeneratedTokens": base["GeneratedTokens"].head(n),
            })
            fh.write(tile.write_csv(include_header=False, line_terminator="\r\n").encode())
            written += n
            hour += 1
    tmp.rename(out)
    return out


def azure_functions_days(days: int, functions: int, seed: int = 11) -> Path:
    """A folder in the Azure Functions 2019 layout: per day ``dNN`` an
    ``invocations_per_function_md`` file (``functions`` rows of 1440 minute counts), a
    ``function_durations_percentiles`` file and an ``app_memory_percentiles`` file (one app per
    4 functions), with the published headers. Counts are Poisson with a lognormal rate per
    function, so most cells are 0 (as published: most functions are idle most minutes)."""
    out = CACHE / f"azure_functions_{days}d_{functions}f"
    if out.is_dir():
        return out
    rng = np.random.default_rng(seed)
    tmp = out.with_suffix(".tmp")
    tmp.mkdir(parents=True, exist_ok=True)

    def hexes(n: int) -> np.ndarray:
        return np.array([f"{v:064x}" for v in rng.integers(0, 2**62, size=n)])

    funcs, apps_of = hexes(functions), np.arange(functions) // 4
    apps, owners = hexes(int(apps_of.max()) + 1), hexes(int(apps_of.max()) // 3 + 1)
    keys = pl.DataFrame({"HashOwner": owners[np.arange(len(apps)) // 3][apps_of],
                         "HashApp": apps[apps_of], "HashFunction": funcs})
    triggers = rng.choice(["http", "timer", "queue", "event", "storage", "orchestration", "others"],
                          size=functions)
    rate = rng.lognormal(-2.5, 2.0, size=functions)
    pct = [0, 1, 25, 50, 75, 99, 100]
    for day in range(1, days + 1):
        counts = rng.poisson(rate[:, None], size=(functions, 1440))
        inv = keys.with_columns(pl.Series("Trigger", triggers)).hstack(
            pl.DataFrame(counts, schema=[str(m) for m in range(1, 1441)]))
        inv.write_csv(tmp / f"invocations_per_function_md.anon.d{day:02d}.csv")
        avg = rng.lognormal(5.0, 1.5, size=functions).round(1)
        dur = keys.with_columns(
            pl.Series("Average", avg), pl.Series("Count", counts.sum(axis=1).astype(float)),
            pl.Series("Minimum", (avg * 0.5).round(1)), pl.Series("Maximum", (avg * 3).round(1)),
            *(pl.Series(f"percentile_Average_{p}", (avg * (0.5 + p / 40)).round(1)) for p in pct))
        dur.write_csv(tmp / f"function_durations_percentiles.anon.d{day:02d}.csv")
        mb = rng.lognormal(5.0, 0.5, size=len(apps)).round(1)
        mem = pl.DataFrame({"HashOwner": owners[np.arange(len(apps)) // 3], "HashApp": apps,
                            "SampleCount": rng.integers(1, 2000, size=len(apps)).astype(float),
                            "AverageAllocatedMb": mb,
                            **{f"AverageAllocatedMb_pct{p}": (mb * (0.6 + p / 200)).round(1)
                               for p in (1, 5, 25, 50, 75, 95, 99, 100)}})
        mem.write_csv(tmp / f"app_memory_percentiles.anon.d{day:02d}.csv")
    tmp.rename(out)
    return out
