-- Fixed keep-alive sweep, one warm instance per function (Shahrad et al., ATC '20), every
-- window of $windows_s (sorted ascending) in one query.
-- Events: rows of {table} at time {t}; an event carries n invocations ({c} when $counts, else
-- 1) and runs for {d} seconds when $has_dur (else 0). Per function, ordered by time, the
-- instance is busy until the running max of earlier ends, so the idle gap before an event is
--   gap = t - max(end of earlier events)    (<= 0: the instance is still busy: warm)
-- For window K: the event is a cold start if it is the function's first or gap > K (its
-- other n - 1 invocations arrive together and find the instance warm); the instance sits
-- idle min(max(gap, 0), K). After a function's last event it idles min(K, trace end - last
-- end); the trace ends at the last window end (invocation_counts) or invocation end. Idle
-- memory-time weights idle seconds by the function's mean {mmem} of {mtable} / 1024 (GB)
-- when $use_mem.
-- Gaps are bucketed by the windows they exceed (bucket b = #windows < gap), so the sweep is
-- one pass plus a tiny join: for window i, cold = first + sum over b > i of events, idle =
-- sum over b <= i of gaps + K_i * (events with b > i).
WITH ev AS (
    SELECT CAST(function_id AS VARCHAR) AS f, CAST({t} AS DOUBLE) AS t,
           CASE WHEN $has_dur THEN coalesce(greatest(CAST({d} AS DOUBLE), 0), 0) ELSE 0.0 END AS dur,
           CASE WHEN $counts THEN TRY_CAST({c} AS DOUBLE) ELSE 1.0 END AS n,
           -- how far the trace covers: a window's end, an invocation's end
           CAST({t} AS DOUBLE) + CASE WHEN $counts THEN CAST({d} AS DOUBLE)
                                      ELSE coalesce(greatest(CAST({d} AS DOUBLE), 0), 0) END AS h
    FROM {table}
    WHERE {t} IS NOT NULL AND isfinite({t})
      AND NOT ($skip_cold_log AND coalesce(TRY_CAST({cold} AS BOOLEAN), false))
),
mem AS (
    SELECT CAST(function_id AS VARCHAR) AS f, avg(TRY_CAST({mmem} AS DOUBLE)) / 1024.0 AS gb
    FROM {mtable}
    WHERE $use_mem
    GROUP BY 1
),
g AS MATERIALIZED (
    SELECT f, t, n, t + dur AS e,
           -- ties in t need no second key: a later tied event finds the instance busy
           t - max(t + dur) OVER (PARTITION BY f ORDER BY t
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS gap
    FROM ev
    WHERE n > 0
),
horizon AS (SELECT max(h) AS t_end FROM ev),
tails AS (
    SELECT f, (SELECT t_end FROM horizon) - max(e) AS gap FROM g GROUP BY f
),
b AS (
    -- kind 'e': gaps before events (cold-start candidates); 't': tails (idle only)
    SELECT 'e' AS kind, f, greatest(gap, 0) AS gap, n FROM g WHERE gap IS NOT NULL
    UNION ALL
    SELECT 't', f, greatest(gap, 0), 0 FROM tails
),
per_f AS (
    -- bucket per function first, so the memory join runs on a few rows per function
    SELECT kind, f, array_length(list_filter($windows_s, lambda k: k < b.gap)) AS bucket,
           count(*) AS events, sum(b.gap) AS gap_s
    FROM b
    GROUP BY 1, 2, 3
),
buckets AS (
    SELECT kind, bucket, sum(events) AS events, sum(gap_s) AS gap_s,
           sum(gap_s * mem.gb) AS gap_gb_s, sum(events * mem.gb) AS gb,
           sum(events) FILTER (WHERE mem.gb IS NOT NULL) AS events_mem
    FROM per_f LEFT JOIN mem ON per_f.f = mem.f
    GROUP BY 1, 2
),
totals AS (
    SELECT count(DISTINCT f) AS functions, sum(n) AS invocations, count(*) AS events FROM g
),
wins AS (
    -- (the i-th element by position, not generate_subscripts: the form Spark also runs)
    SELECT $windows_s[i + 1] AS k, i FROM (SELECT unnest(range(array_length($windows_s))) AS i)
)
SELECT wins.k AS window_s,
       (SELECT functions FROM totals) AS functions,
       (SELECT invocations FROM totals) AS invocations,
       (SELECT functions FROM totals)
         + coalesce(sum(events) FILTER (WHERE kind = 'e' AND bucket > wins.i), 0) AS cold_starts,
       coalesce(sum(gap_s) FILTER (WHERE bucket <= wins.i), 0)
         + wins.k * coalesce(sum(events) FILTER (WHERE bucket > wins.i), 0) AS idle_instance_s,
       CASE WHEN $use_mem THEN
           coalesce(sum(gap_gb_s) FILTER (WHERE bucket <= wins.i), 0)
           + wins.k * coalesce(sum(gb) FILTER (WHERE bucket > wins.i), 0) END AS idle_gb_s,
       sum(events) FILTER (WHERE kind = 'e') AS gaps,
       sum(events_mem) / nullif(sum(events), 0) AS memory_known_share
FROM wins, buckets
GROUP BY wins.k, wins.i
ORDER BY wins.k
