-- Inter-arrival gaps of one event table, in one pass over the sorted event times.
-- Rows with part = 'w': exact per-window figures (window = floor(t / $window_s); a gap
-- belongs to the window of the later of its two events). Rows with part = 's': a seeded
-- reservoir sample of (window, gap) for the fits.
WITH ordered AS MATERIALIZED (
    SELECT {t} AS t, {t} - lag({t}) OVER (ORDER BY {t}) AS gap
    FROM {table}
    WHERE {t} IS NOT NULL
),
sampled AS (
    -- USING SAMPLE applies before WHERE, so filter in a subquery first.
    -- The sample size and seed tokens are rendered as integers by fitting._sql: DuckDB
    -- takes only constants in a sample clause, so they cannot be $params
    SELECT win, gap
    FROM (SELECT floor(t / $window_s) AS win, gap FROM ordered WHERE gap IS NOT NULL)
    USING SAMPLE reservoir(__MAX_SAMPLE__ ROWS) REPEATABLE (__SEED__)
)
SELECT 'w' AS part,
       floor(t / $window_s) AS win,
       count(*) AS arrivals,
       count(gap) AS gaps,
       avg(gap) AS gap_mean_s,
       stddev_pop(gap) AS gap_std_s,
       count(*) FILTER (WHERE gap = 0) AS zero_gaps,
       CAST(NULL AS DOUBLE) AS gap
FROM ordered
GROUP BY 2
UNION ALL
SELECT 's', win, NULL, NULL, NULL, NULL, NULL, gap
FROM sampled
