-- Exact allocated resource-time per time bin without sorting the events.
-- With L(t) the allocated amount (a job adds r on [s, e); censored jobs, end_s null, run to
-- $t1) and bins [x_i, x_i+1) of width $width, the area of L over bin i is
--   width * L(x_i) + sum_{s in bin i} r (x_i+1 - s) - sum_{e in bin i} r (x_i+1 - e)
-- and L(x_i) = sum of r over starts before bin i minus ends before bin i. So two GROUP BYs
-- (starts and ends per bin) suffice: for each bin and kind ('s' start, 'e' end) this returns
-- sum r and sum r (x_i+1 - t) per resource; the caller takes the cumulative sums.
-- A job with a run time (run_s) but no start_s starts at end_s - run_s when its end is known,
-- else it is placed at [submit_s, submit_s + run_s) (wait taken as 0); a started job without
-- end_s ends at start_s + run_s when run_s is known.
WITH j AS (
    SELECT greatest(s0, $t0) AS s,
           least(coalesce(end_s, s0 + run_s, $t1), $t1) AS e,
           coalesce(CAST({cpu} AS DOUBLE), 0.0) AS c,
           coalesce(CAST(mem_req_mb AS DOUBLE), 0.0) AS m,
           coalesce(CAST(gpu_req AS DOUBLE), 0.0) AS g
    FROM (SELECT *, coalesce(start_s, end_s - run_s, CASE WHEN run_s IS NOT NULL THEN submit_s END) AS s0 FROM {jobs})
    WHERE s0 IS NOT NULL AND s0 <= $t1
),
ev AS (
    SELECT 's' AS kind, s AS t, c, m, g FROM j WHERE e > s
    UNION ALL
    SELECT 'e', e, c, m, g FROM j WHERE e > s
),
b AS (
    SELECT kind, t, c, m, g,
           least(greatest(CAST(floor((t - $t0) / $width) AS BIGINT), 0), $bins - 1) AS i
    FROM ev
)
SELECT kind, i,
       sum(c) AS rc, sum(m) AS rm, sum(g) AS rg,
       sum(c * ($t0 + (i + 1) * $width - t)) AS xc,
       sum(m * ($t0 + (i + 1) * $width - t)) AS xm,
       sum(g * ($t0 + (i + 1) * $width - t)) AS xg
FROM b
GROUP BY kind, i
