-- Requested vs used, per pair (requested column, used quantity), over jobs where both are
-- known and the request is positive: ratio = used / requested. runtime = run_s where the
-- source records it (jobs with an unknown start included), else end_s - start_s.
WITH p AS (
    SELECT 'runtime_s' AS quantity, runtime_req_s AS req, coalesce(run_s, end_s - start_s) AS used
    FROM {jobs}
    WHERE runtime_req_s > 0 AND (run_s IS NOT NULL OR (end_s IS NOT NULL AND start_s IS NOT NULL))
    UNION ALL SELECT 'cpu', cpu_req, cpu_used FROM {jobs} WHERE cpu_req > 0 AND cpu_used IS NOT NULL
    UNION ALL SELECT 'mem_mb', mem_req_mb, mem_used_mb FROM {jobs} WHERE mem_req_mb > 0 AND mem_used_mb IS NOT NULL
)
SELECT quantity, count(*) AS n,
       avg(req) AS mean_requested, avg(used) AS mean_used,
       sum(used) / sum(req) AS total_ratio,
       quantile_cont(used / req, $qs) AS ratio_quantiles,
       avg(CASE WHEN used > req THEN 1.0 ELSE 0.0 END) AS over_fraction
FROM p
GROUP BY quantity
