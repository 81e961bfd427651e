-- Inter-arrival gaps of the time-sorted events (files may be unsorted: the window orders by
-- time), overall (g NULL) and within each group in $tops. Equal timestamps give gaps of 0,
-- which count (they are simultaneous arrivals, or arrivals within the clock's resolution).
-- Standard deviations are population ones (ddof 0), as fitting's per-window CV. Groups are
-- partitioned on their 1-based position in $tops (g), not on names: cheaper on large tables.
WITH ev AS NOT MATERIALIZED (
    SELECT {t} AS t, CASE WHEN $grouped THEN list_position($tops, CAST({g} AS VARCHAR)) END AS g
    FROM {table}
    WHERE {t} IS NOT NULL
),
all_gaps AS (
    SELECT t - lag(t) OVER (ORDER BY t) AS gap FROM ev
),
group_gaps AS (
    SELECT g, t - lag(t) OVER (PARTITION BY g ORDER BY t) AS gap
    FROM ev
    WHERE g IS NOT NULL
)
SELECT CAST(NULL AS INTEGER) AS g, count(gap) AS gaps, avg(gap) AS mean_gap_s,
       stddev_pop(gap) AS std_gap_s, count(*) FILTER (WHERE gap = 0) AS zero_gaps
FROM all_gaps
UNION ALL
SELECT g, count(gap), avg(gap), stddev_pop(gap), count(*) FILTER (WHERE gap = 0)
FROM group_gaps
GROUP BY g
