-- Spark form of serverless_function_cdf.sql. Spark has no ASOF JOIN: the quantile at p is
-- the smallest value whose cumulative weight share is >= p, so a join on that condition and
-- min(v) per (key, p) finds the row the ASOF join picks (cdf grows with v). The join pairs
-- each p with the rows of its key only; the functions table holds one row per function.
WITH u AS (
    SELECT 'duration' AS quantity, 'avg' AS statistic, duration_avg_s AS v, "count" AS w FROM {table}
    UNION ALL SELECT 'duration', 'p50', duration_p50_s, "count" FROM {table}
    UNION ALL SELECT 'duration', 'p99', duration_p99_s, "count" FROM {table}
    UNION ALL SELECT 'memory', 'avg', memory_avg_mb, "count" FROM {table}
    UNION ALL SELECT 'memory', 'p50', memory_p50_mb, "count" FROM {table}
    UNION ALL SELECT 'memory', 'p99', memory_p99_mb, "count" FROM {table}
),
valid AS (
    SELECT quantity, statistic, v, w FROM u WHERE v IS NOT NULL AND isfinite(v) AND v >= 0
),
weighted AS (
    SELECT quantity, statistic, 'functions' AS weighting, v, 1.0 AS w FROM valid
    UNION ALL
    SELECT quantity, statistic, 'invocations', v, CAST(w AS DOUBLE) FROM valid WHERE w > 0
),
cum AS (
    SELECT quantity, statistic, weighting, v,
           sum(w) OVER (PARTITION BY quantity, statistic, weighting ORDER BY v
                        ROWS UNBOUNDED PRECEDING)
           / sum(w) OVER (PARTITION BY quantity, statistic, weighting) AS cdf,
           count(*) OVER (PARTITION BY quantity, statistic, weighting) AS n,
           sum(w) OVER (PARTITION BY quantity, statistic, weighting) AS total_w
    FROM weighted
),
keys AS (SELECT DISTINCT quantity, statistic, weighting, n, total_w FROM cum),
ps AS (SELECT keys.*, p FROM keys, (SELECT unnest($ps) AS p))
SELECT ps.quantity, ps.statistic, ps.weighting, ps.n, ps.total_w, ps.p, min(cum.v) AS value
FROM ps JOIN cum
  ON ps.quantity = cum.quantity AND ps.statistic = cum.statistic
 AND ps.weighting = cum.weighting AND cum.cdf >= ps.p - 1e-12
GROUP BY ps.quantity, ps.statistic, ps.weighting, ps.n, ps.total_w, ps.p
ORDER BY 1, 2, 3, 6
