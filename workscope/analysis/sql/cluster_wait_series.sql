-- Queueing delay (start_s - submit_s) over time: jobs binned by submit time into $bins equal
-- bins over [$t0, $t1]. jobs, mean and max are exact; the median and p95 of each bin are
-- over a seeded reservoir sample of __MAX_SAMPLE__ jobs (all jobs when fewer).
-- The sample size and seed tokens are rendered as integers by cluster._sql.
WITH w AS (
    SELECT least(CAST(floor((submit_s - $t0) / (($t1 - $t0) / $bins)) AS BIGINT), $bins - 1) AS i,
           start_s - submit_s AS wait
    FROM {jobs}
    WHERE start_s IS NOT NULL
),
exact AS (
    SELECT i, count(*) AS jobs, avg(wait) AS mean_wait_s, max(wait) AS max_wait_s FROM w GROUP BY i
),
sampled AS (
    SELECT i, quantile_cont(wait, 0.5) AS p50_wait_s, quantile_cont(wait, 0.95) AS p95_wait_s
    FROM (SELECT * FROM w USING SAMPLE reservoir(__MAX_SAMPLE__ ROWS) REPEATABLE (__SEED__))
    GROUP BY i
)
SELECT i, jobs, mean_wait_s, p50_wait_s, p95_wait_s, max_wait_s
FROM exact LEFT JOIN sampled USING (i)
ORDER BY i
