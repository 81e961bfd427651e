-- Totals, time bounds and the top groups of one event table, in one scan.
-- An event is a row, or, when $weighted (invocation_counts), {c} events of the row's window.
-- t_end is the end of the last event: {t} for events, window start + {w} for counted windows.
-- For plain event tables the caller passes the time column for {c} and {w} (unused there).
WITH per AS (
    SELECT CASE WHEN $grouped THEN CAST({g} AS VARCHAR) END AS g,
           sum(CASE WHEN $weighted THEN CAST({c} AS BIGINT) ELSE 1 END) AS events,
           min({t}) AS t_min,
           max({t} + CASE WHEN $weighted THEN CAST({w} AS DOUBLE) ELSE 0.0 END) AS t_end,
           min(CASE WHEN $weighted THEN CAST({w} AS DOUBLE) END) AS w_min,
           max(CASE WHEN $weighted THEN CAST({w} AS DOUBLE) END) AS w_max
    FROM {table}
    WHERE {t} IS NOT NULL
    GROUP BY 1
)
SELECT 'top' AS part, g, CAST(events AS BIGINT) AS events, t_min, t_end, w_min, w_max,
       CAST(NULL AS BIGINT) AS n_groups
FROM (SELECT * FROM per WHERE g IS NOT NULL ORDER BY events DESC, g LIMIT $top)
UNION ALL
SELECT 'total', NULL, CAST(sum(events) AS BIGINT), min(t_min), max(t_end), min(w_min), max(w_max), count(g)
FROM per
