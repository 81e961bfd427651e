-- Popularity of functions in one pass over an event table (invocations: one row = one
-- invocation; invocation_counts: column {cnt} holds the invocations of the row, $weighted).
-- Rows of a cold-start log are left out when $skip_cold_log (they are pod starts, not
-- invocations). Trigger per row from the table itself ($trig_here) or per function from the
-- functions table ($trig_join, {ttable}); {ttable} is the event table itself when unused.
-- Output rows (part):
--   's' one summary row: functions, invocations, gini, top-1 % / top-10 % shares, median, max
--   'r' rank-frequency / concentration rows at log-spaced ranks and at each percent of functions
--   'g' the $top most invoked functions
--   't' per trigger: invocations and functions
WITH raw AS (
    SELECT CAST(function_id AS VARCHAR) AS f,
           CASE WHEN $weighted THEN TRY_CAST({cnt} AS DOUBLE) ELSE 1.0 END AS c,
           CASE WHEN $trig_here THEN CAST("trigger" AS VARCHAR) END AS tr
    FROM {table}
    WHERE NOT ($skip_cold_log AND coalesce(TRY_CAST({cold} AS BOOLEAN), false))
),
pft AS MATERIALIZED (
    SELECT f, tr, sum(c) AS c FROM raw WHERE c > 0 GROUP BY f, tr
),
pf AS MATERIALIZED (
    SELECT f, sum(c) AS c FROM pft GROUP BY f
),
ranked AS MATERIALIZED (
    SELECT f, c,
           row_number() OVER (ORDER BY c DESC, f) AS rk,          -- 1 = most invoked
           row_number() OVER (ORDER BY c ASC, f DESC) AS asc_rk,  -- for the Gini sum
           sum(c) OVER (ORDER BY c DESC, f ROWS UNBOUNDED PRECEDING) AS cum
    FROM pf
),
tot AS (
    SELECT count(*) AS n, sum(c) AS total, sum(asc_rk * c) AS wsum,
           median(c) AS med, max(c) AS mx, count(*) FILTER (WHERE c = 1) AS singles
    FROM ranked
),
ftrig AS (
    SELECT CAST(function_id AS VARCHAR) AS f, any_value(CAST("trigger" AS VARCHAR)) AS tr
    FROM {ttable}
    WHERE $trig_join AND "trigger" IS NOT NULL
    GROUP BY 1
),
trig AS (
    -- tr is NULL for functions whose trigger is not known: one bucket, which is not a trigger
    SELECT coalesce(pft.tr, ftrig.tr) AS tr, sum(pft.c) AS c, count(DISTINCT pft.f) AS nf
    FROM pft LEFT JOIN ftrig ON pft.f = ftrig.f
    WHERE $trig_here OR $trig_join
    GROUP BY 1
)
SELECT 's' AS part, CAST(NULL AS VARCHAR) AS key, n AS rk, total AS x,
       CASE WHEN n > 0 AND total > 0 THEN 2.0 * wsum / (n * total) - (n + 1.0) / n END AS y,
       (SELECT sum(c) FROM ranked WHERE rk <= ceil(0.01 * n)) / total AS z1,
       (SELECT sum(c) FROM ranked WHERE rk <= ceil(0.10 * n)) / total AS z2,
       med AS z3, mx AS z4, singles AS z5
FROM tot
UNION ALL
SELECT 'r', NULL, rk, c, cum / total, rk / n, NULL, NULL, NULL, NULL
FROM ranked, tot
WHERE rk = 1 OR rk = n
   OR floor(ln(rk) * $per_decade / ln(10)) > floor(ln(rk - 1) * $per_decade / ln(10))
   OR floor(rk * 100.0 / n) > floor((rk - 1) * 100.0 / n)
UNION ALL
SELECT 'g', f, rk, c, c / total, NULL, NULL, NULL, NULL, NULL
FROM ranked, tot
WHERE rk <= $top
UNION ALL
SELECT 't', tr, NULL, c, c / (SELECT total FROM tot), nf, nf / (SELECT n FROM tot), NULL, NULL, NULL
FROM trig
