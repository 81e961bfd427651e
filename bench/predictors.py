"""Predictor benchmark: the leaderboard on every task whose data is in the repo, and
training throughput (windows per second) of each neural model.

    .venv/bin/python bench/predictors.py [--seeds 0,1,2] [--epochs 30] [--size tiny]
                                         [--tasks a,b] [--no-throughput] [--home STORE]

Data: the bundled Azure LLM 2023 samples and the real slices in tests/data (PlanetLab,
Alibaba GenAI pods, Mooncake, datacenter aggregates, the CloudPerfTrace fixture). For the
full traces, ingest them under the tasks' source names (``workscope predict tasks`` lists
them) into a store and pass it with --home, e.g.

    workscope ingest PATH/alibaba_genai_2026 --format alibaba_genai --name alibaba_genai --home STORE

The throughput table covers every neural model on CPU, CloudFormer without length
bucketing and compiled, and, when CUDA is present, the same on the GPU with and without
bf16 autocast and torch.compile.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SOURCES = {  # task source name -> (format, path)
    "azure_llm_2023": ("azure_llm", ROOT / "workscope" / "samples" / "azure_llm_2023"),
    "planetlab": ("planetlab", DATA / "planetlab" / "20110303"),
    "alibaba_genai": ("alibaba_genai", DATA / "alibaba_genai_2026_pods"),
    "mooncake": ("mooncake", DATA / "mooncake" / "synthetic_trace.jsonl"),
    "cloudperftrace": ("cloudperftrace", DATA / "cloudperftrace"),
    "datacenter_alibaba2018": ("datacenter_aggregates", DATA / "datacenter_aggregates" / "alibaba2018"
                               / "machine_usage_days_1_to_8_grouped_300_seconds.csv"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--size", default="tiny", choices=["tiny", "paper"])
    ap.add_argument("--home", default=None, help="a store that already holds the source traces")
    ap.add_argument("--tasks", default="", help="comma-separated task names (default: all)")
    ap.add_argument("--no-throughput", action="store_true", help="skip the training-throughput table")
    args = ap.parse_args()
    import torch

    import workscope
    from workscope.errors import WorkscopeError
    from workscope.predictors import catalog, leaderboard, run
    from workscope.predictors.names import ALL_MODELS, NEURAL_MODELS
    from workscope.predictors.train import resolve_device

    seeds = [int(s) for s in args.seeds.split(",")]
    store = workscope.open(args.home or Path(tempfile.mkdtemp()) / "store")
    for name, (fmt, path) in SOURCES.items():
        if name not in store and path.exists():
            try:
                store.ingest(path, format=fmt, name=name)
            except WorkscopeError as exc:
                print(f"skip source {name}: {exc}", file=sys.stderr)
    print(f"device: {resolve_device('auto')}  torch {torch.__version__}  size {args.size}  "
          f"epochs <= {args.epochs}  seeds {seeds}\n")
    wanted = [t for t in args.tasks.split(",") if t] or list(catalog.BUILTIN)
    for spec in (run.task(t) for t in wanted):
        if spec.source not in store:
            print(f"## {spec.name}: skipped (no trace {spec.source!r} in the store)\n")
            continue
        t0 = time.perf_counter()
        try:
            _, summary = run.evaluate(store, spec, list(ALL_MODELS), seeds, size=args.size, epochs=args.epochs)
        except WorkscopeError as exc:
            print(f"## {spec.name}: cannot run here ({exc})\n")
            continue
        best = summary.row(0, named=True)
        print(f"## {spec.name} ({time.perf_counter() - t0:.1f} s) — best: {best['model']} "
              f"(MAE {best['mae_mean']:.4g})\n")
        print(leaderboard.to_markdown(summary) + "\n")
        neural = summary.filter(summary["model"].is_in(NEURAL_MODELS))
        base = summary.filter(~summary["model"].is_in(NEURAL_MODELS))
        if neural.height and base.height:
            gain = 1 - neural["mae_mean"].min() / base["mae_mean"].min()
            print(f"best neural vs best baseline MAE: {gain:+.1%} (positive = neural better)\n")
    spec = catalog.BUILTIN["planetlab_cpu"]
    if spec.source in store and not args.no_throughput:
        throughput(store, spec, args.size)


def throughput(store, spec, size: str) -> None:
    """Train windows/s of every neural model, then CloudFormer's variants: without length
    bucketing, compiled, and on CUDA with and without bf16 autocast."""
    import torch

    from workscope.predictors import run
    from workscope.predictors.names import NEURAL_MODELS

    print(f"## training throughput ({spec.name}, size {size}, 5 epochs)\n")
    print("| model | device | settings | train windows/s | predict windows/s |\n|---|---|---|---:|---:|")

    def row(model: str, label: str, **overrides) -> None:
        res, _ = run.train_model(store, spec, model, seed=0, size=size, epochs=5, overrides=overrides)
        print(f"| {model} | {res.device} | {label} | {res.train_windows_per_s:,.0f} | "
              f"{res.predict_windows_per_s:,.0f} |", flush=True)

    for m in NEURAL_MODELS:
        row(m, "eager, fp32", device="cpu")
    row("cloudformer", "eager, fp32, no bucketing", device="cpu", bucket=False)
    row("cloudformer", "torch.compile, fp32", device="cpu", compile=True)
    if torch.cuda.is_available():
        for m in NEURAL_MODELS:
            row(m, "eager, bf16 autocast", device="cuda")
        row("cloudformer", "eager, fp32", device="cuda", bf16=False)
        row("cloudformer", "torch.compile, bf16 autocast", device="cuda", compile=True)
        row("cloudformer", "torch.compile, fp32", device="cuda", compile=True, bf16=False)
        row("cloudformer", "torch.compile, bf16, batch 4096", device="cuda", compile=True, batch_size=4096)


if __name__ == "__main__":
    main()
