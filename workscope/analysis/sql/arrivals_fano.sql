-- Counts per window at the dyadic scales $b0 * 2^j (j = 0..$levels), windows aligned at $t0,
-- as sufficient statistics for the Fano curve (IDC), the variance-time plot and peak-to-mean.
-- Level 0 bins the events once; each further level sums pairs of the level below (a recursive
-- CTE: the work halves at each level, so all levels cost about two passes over the level-0
-- bins). Only complete windows count: window w of level j is kept when
-- w < floor($span / scale_j), so the partial window at the end of the trace never biases a level.
WITH RECURSIVE base AS (
    SELECT CAST(floor(({t} - $t0) / $b0) AS BIGINT) AS k,
           sum(CASE WHEN $weighted THEN CAST({c} AS BIGINT) ELSE 1 END) AS c
    FROM {table}
    WHERE {t} IS NOT NULL
    GROUP BY 1
),
lv(j, k, c) AS (
    SELECT 0, k, c FROM base
    UNION ALL
    SELECT j + 1, k // 2, sum(c) FROM lv WHERE j < $levels GROUP BY j + 1, k // 2
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
