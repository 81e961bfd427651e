-- Events per window of $w0 * m seconds for every multiple m in $mults, overall (g NULL,
-- is_total) and per group in $tops (g = the group's 1-based position in $tops; the other
-- groups fall into the total only). Positions, not names, are grouped on: hashing strings
-- per row costs several times more on large tables.
-- Window k of $w0 is floor((t + $offset) / $w0); window k of $w0 * m is floor(k / m), so every
-- window size is rolled up from one binning of the table (one scan). Empty windows are absent.
-- An event is a row, or {c} events of a counted window when $weighted (invocation_counts).
WITH fine AS (
    SELECT CASE WHEN $grouped THEN list_position($tops, CAST({g} AS VARCHAR)) END AS g,
           CAST(floor(({t} + $offset) / $w0) AS BIGINT) AS k,
           sum(CASE WHEN $weighted THEN CAST({c} AS BIGINT) ELSE 1 END) AS c
    FROM {table}
    WHERE {t} IS NOT NULL
    GROUP BY ALL
),
rolled AS (
    SELECT u.m AS m, f.g AS g, CAST(floor(f.k / u.m) AS BIGINT) AS k, f.c AS c
    FROM fine AS f, (SELECT unnest($mults) AS m) AS u
)
SELECT m, g, k, CAST(sum(c) AS BIGINT) AS events, grouping(g) = 1 AS is_total
FROM rolled
GROUP BY GROUPING SETS ((m, k), (m, g, k))
HAVING grouping(g) = 1 OR g IS NOT NULL
