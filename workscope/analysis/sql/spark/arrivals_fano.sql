-- Spark form of arrivals_fano.sql. Spark allows no aggregate in the recursive step of a
-- recursive CTE, so each level j is rolled up from the level-0 bins directly: window k of
-- level 0 lies in window k // 2^j of level j (as the pairwise sums reach it). Same results,
-- one pass over the level-0 bins per level instead of halving work per level.
WITH base AS (
    SELECT CAST(floor(({t} - $t0) / $b0) AS BIGINT) AS k,
           sum(CASE WHEN $weighted THEN CAST({c} AS BIGINT) ELSE 1 END) AS c
    FROM {table}
    WHERE {t} IS NOT NULL
    GROUP BY 1
),
levels AS (
    SELECT unnest(generate_series(0, $levels)) AS j
),
lv AS (
    SELECT l.j AS j, b.k // CAST(pow(2, l.j) AS BIGINT) AS k, sum(b.c) AS c
    FROM base AS b, levels AS l
    GROUP BY l.j, b.k // CAST(pow(2, l.j) AS BIGINT)
)
SELECT j,
       CAST(floor($span / ($b0 * pow(2, j))) AS BIGINT) AS n_windows,
       count(*) AS nonempty,
       CAST(sum(c) AS BIGINT) AS events,
       sum(CAST(c AS DOUBLE) * CAST(c AS DOUBLE)) AS sum_sq,
       CAST(max(c) AS BIGINT) AS peak
FROM lv
WHERE k >= 0 AND k < floor($span / ($b0 * pow(2, j)))
GROUP BY j
ORDER BY j
