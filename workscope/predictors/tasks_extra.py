"""More built-in prediction tasks (merged into :data:`workscope.predictors.tasks.BUILTIN`).

- ``datacenter_util``: the Alibaba 2018 datacenter-wide averages (reader
  ``datacenter_aggregates``, ingested under the trace name ``datacenter_alibaba2018``): all
  five metrics of that source over the last hour (12 x 300 s) -> the CPU utilisation one
  step (300 s) later; the last 20% of time in test.
- ``mooncake_rate``: the Mooncake trace's requests counted per 1 s (trace name ``mooncake``)
  -> the next bin's count; the last 20% of time in test.

Both split by time (:func:`~workscope.predictors.windowing.split_time`): each is a single
series, so there is no entity to hold out.
"""

from __future__ import annotations

from workscope.predictors.tasks import TaskSpec

#: The columns of the Alibaba 2018 aggregate file, as the reader names them (metric = column).
ALIBABA_AGG_METRICS = ("cpu_util_percent", "mem_util_percent", "net_in", "net_out",
                       "disk_io_percent")

DATACENTER_UTIL = TaskSpec(
    name="datacenter_util",
    description="DataCenter-Traces-Datasets, Alibaba 2018 datacenter averages: CPU %, memory %, "
                "net in/out and disk I/O % over 12 x 300 s -> CPU % one step later; the last "
                "20% of time in test. Ingest alibaba2018/machine_usage_days_1_to_8_grouped_300_"
                "seconds.csv as trace 'datacenter_alibaba2018' (format datacenter_aggregates)",
    source="datacenter_alibaba2018",
    metrics=ALIBABA_AGG_METRICS,
    target="cpu_util_percent",
    # the step is fixed rather than inferred: a trace that also holds the 10 s day-1 series
    # is then averaged onto the same 300 s grid instead of changing the task's step
    window=12, horizon=1, step_s=300.0, split="time",
)

MOONCAKE_RATE = TaskSpec(
    name="mooncake_rate",
    description="Mooncake (FAST 2025) requests: arrivals per 1 s over the last 10 s -> the next "
                "second's count; the last 20% of time in test",
    source="mooncake", table="requests", target="rate",
    # a short window keeps whole windows inside the test period of short traces/slices
    window=10, horizon=1, step_s=1.0, split="time",
)

EXTRA: dict[str, TaskSpec] = {s.name: s for s in (DATACENTER_UTIL, MOONCAKE_RATE)}
