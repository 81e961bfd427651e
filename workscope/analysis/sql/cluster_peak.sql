-- Exact maximum of the allocated amount L(t) per time bin (same L as cluster_bins.sql), by
-- an event sweep: +r at start, -r at end, running sum in time order. The RANGE frame puts all
-- events at one instant in the same step, so a job ending when another starts is not
-- counted twice. The caller runs it on small traces only (it sorts every event).
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
    SELECT s AS t, c AS dc, m AS dm, g AS dg FROM j WHERE e > s
    UNION ALL
    SELECT e, -c, -m, -g FROM j WHERE e > s
),
lv AS (
    SELECT t, sum(dc) OVER w AS lc, sum(dm) OVER w AS lm, sum(dg) OVER w AS lg
    FROM ev
    WINDOW w AS (ORDER BY t RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT least(greatest(CAST(floor((t - $t0) / $width) AS BIGINT), 0), $bins - 1) AS i,
       max(lc) AS max_c, max(lm) AS max_m, max(lg) AS max_g
FROM lv
WHERE t < $t1
GROUP BY 1
