-- Resource-time per group (user / queue / group) and per time window.
-- x = r * overlap([s, e), window) with r the job's resource (cpu cores / processors / GPUs),
-- s = start_s, e = end_s (censored jobs run to $t1), both clipped to [$t0, $t1].
-- Rows with part = 'u': the $top groups by total x (x over the whole span, jobs);
-- the row with part = 't': n, sum x, sum x^2 over every group with x > 0.
-- Rows with part = 'w': per-window sums over the groups with x > 0: n, sum x, sum x^2
-- (Jain's index of the window is (sum x)^2 / (n sum x^2)).
-- A job with a run time (run_s) but no start_s starts at end_s - run_s when its end is known,
-- else it is placed at [submit_s, submit_s + run_s) (wait taken as 0); a started job without
-- end_s ends at start_s + run_s when run_s is known.
WITH j AS (
    SELECT CAST({g} AS VARCHAR) AS g, CAST({r} AS DOUBLE) AS r,
           greatest(s0, $t0) AS s, least(coalesce(end_s, s0 + run_s, $t1), $t1) AS e
    FROM (SELECT *, coalesce(start_s, end_s - run_s, CASE WHEN run_s IS NOT NULL THEN submit_s END) AS s0 FROM {jobs})
    WHERE s0 IS NOT NULL AND {g} IS NOT NULL AND {r} > 0
),
ok AS (SELECT * FROM j WHERE e > s),
users AS (SELECT g, sum(r * (e - s)) AS x, count(*) AS jobs FROM ok GROUP BY g),
expanded AS (
    SELECT g, r, s, e,
           unnest(range(CAST(floor((s - $t0) / $w) AS BIGINT),
                        CAST(floor((e - $t0) / $w) AS BIGINT) + 1)) AS k
    FROM ok
),
per AS (
    SELECT k, g, sum(r * (least(e, $t0 + (k + 1) * $w) - greatest(s, $t0 + k * $w))) AS x
    FROM expanded GROUP BY k, g
)
(SELECT 'u' AS part, g, x, jobs, NULL::BIGINT AS k, NULL::BIGINT AS n, NULL::DOUBLE AS sx, NULL::DOUBLE AS sxx
 FROM users
 QUALIFY row_number() OVER (ORDER BY x DESC, g) <= $top)
UNION ALL
SELECT 't', NULL, sum(x), CAST(sum(jobs) AS BIGINT), NULL, count(*), sum(x), sum(x * x)
FROM users WHERE x > 0
UNION ALL
SELECT 'w', NULL, NULL, NULL, k, count(*), sum(x), sum(x * x)
FROM per WHERE x > 0
GROUP BY k
