-- Distribution of each job quantity, one row per quantity:
--   wait_s = start_s - submit_s (jobs that started), runtime_s = run_s where the source
--   records a run time (also for jobs whose start is unknown), else end_s - start_s (jobs
--   that ended; censored jobs are counted apart by the caller), and the job sizes cpu_req, nodes,
--   gpu_req, mem_req_mb. n, mean, std (ddof 1), min, max, zeros are exact over all jobs;
--   quantiles (quantile_cont at the levels in $qs) are over a seeded reservoir sample of
--   __MAX_SAMPLE__ jobs (all jobs when fewer), so the sort stays bounded on large traces.
-- Negative waits (start before submit, seen in some logs) are kept: they are data.
-- The sample size and seed tokens are rendered as integers by cluster._sql (DuckDB takes
-- only constants in a sample clause).
WITH s AS (
    SELECT submit_s, start_s, end_s, run_s, cpu_req, nodes, gpu_req, mem_req_mb
    FROM {jobs} USING SAMPLE reservoir(__MAX_SAMPLE__ ROWS) REPEATABLE (__SEED__)
),
q AS (
    SELECT 'wait_s' AS quantity, start_s - submit_s AS v FROM {jobs} WHERE start_s IS NOT NULL
    UNION ALL SELECT 'runtime_s', coalesce(run_s, end_s - start_s) FROM {jobs}
        WHERE run_s IS NOT NULL OR (start_s IS NOT NULL AND end_s IS NOT NULL)
    UNION ALL SELECT 'cpu_req', cpu_req FROM {jobs} WHERE cpu_req IS NOT NULL
    UNION ALL SELECT 'nodes', CAST(nodes AS DOUBLE) FROM {jobs} WHERE nodes IS NOT NULL
    UNION ALL SELECT 'gpu_req', gpu_req FROM {jobs} WHERE gpu_req IS NOT NULL
    UNION ALL SELECT 'mem_req_mb', mem_req_mb FROM {jobs} WHERE mem_req_mb IS NOT NULL
),
qs AS (
    SELECT 'wait_s' AS quantity, start_s - submit_s AS v FROM s WHERE start_s IS NOT NULL
    UNION ALL SELECT 'runtime_s', coalesce(run_s, end_s - start_s) FROM s
        WHERE run_s IS NOT NULL OR (start_s IS NOT NULL AND end_s IS NOT NULL)
    UNION ALL SELECT 'cpu_req', cpu_req FROM s WHERE cpu_req IS NOT NULL
    UNION ALL SELECT 'nodes', CAST(nodes AS DOUBLE) FROM s WHERE nodes IS NOT NULL
    UNION ALL SELECT 'gpu_req', gpu_req FROM s WHERE gpu_req IS NOT NULL
    UNION ALL SELECT 'mem_req_mb', mem_req_mb FROM s WHERE mem_req_mb IS NOT NULL
),
exact AS (
    SELECT quantity, count(*) AS n, avg(v) AS mean, stddev_samp(v) AS std, min(v) AS min, max(v) AS max,
           count(*) FILTER (WHERE v = 0) AS zeros
    FROM q WHERE isfinite(v) GROUP BY quantity
),
sampled AS (
    SELECT quantity, count(*) AS n_sampled, quantile_cont(v, $qs) AS quantiles
    FROM qs WHERE isfinite(v) GROUP BY quantity
)
SELECT * FROM exact JOIN sampled USING (quantity)
