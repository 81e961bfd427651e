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
