-- Failure figures of the requests table in ONE scan. A row counts as failed when
-- lower(trim(status)) is in $failed, ok when in $ok; any other status value (pending,
-- processing, cancelled...) is 'other'; rows with a null status are left out.
-- Output rows by part: 'status' (rows per source status value), 'group' (per top group,
-- '(other)' pooling the rest; only when $grouped), 'time' (per time bin
-- floor(t / $bin_s)). Each row carries requests, failed, ok.
WITH base AS MATERIALIZED (
    SELECT CAST({status} AS VARCHAR) AS status,
           CASE WHEN $grouped THEN coalesce(CAST({g} AS VARCHAR), '(none)') END AS g0,
           CAST(floor(CAST({t} AS DOUBLE) / $bin_s) AS BIGINT) AS tbin,
           list_contains($failed, lower(trim(CAST({status} AS VARCHAR)))) AS is_failed,
           list_contains($ok, lower(trim(CAST({status} AS VARCHAR)))) AS is_ok
    FROM {table}
    WHERE {status} IS NOT NULL
),
top AS (
    SELECT g0 FROM base WHERE g0 IS NOT NULL GROUP BY g0 ORDER BY count(*) DESC, g0 LIMIT $top
)
SELECT CASE grouping(status, g, tbin) WHEN 3 THEN 'status' WHEN 5 THEN 'group' ELSE 'time' END AS part,
       status, g, tbin,
       count(*) AS requests,
       count(*) FILTER (WHERE is_failed) AS failed,
       count(*) FILTER (WHERE is_ok) AS ok
FROM (SELECT status, tbin, is_failed, is_ok,
             CASE WHEN g0 IS NULL THEN NULL
                  WHEN g0 IN (SELECT g0 FROM top) THEN g0 ELSE '(other)' END AS g
      FROM base)
GROUP BY GROUPING SETS ((status), (g), (tbin))
