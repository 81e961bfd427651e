-- Sessions of the requests table, in one query. A session is
--   * the requests sharing a session_id ({sid}), when $by_parent is false;
--   * the tree of requests reachable through parent ids ({pid} -> {rid}), when $by_parent is
--     true: the recursive CTE walks from each root (no parent, or a parent absent from the
--     trace) down to its children, at most $max_depth levels (rows never reached, e.g. in a
--     parent cycle or deeper than $max_depth, are counted as unresolved).
-- Sessions are sampled by key: a session (its session_id, or its root's request id) is kept
-- when hash(key, $seed) % 1000000 < $cut ($cut = 1000000 keeps all). Roots whose parent is
-- absent from the trace are found (an anti-join over the whole table) only when $orphans.
-- Per session: turns = requests, duration = last arrival - first arrival. Inter-turn gaps
-- are the differences of consecutive arrivals within a session (ordered by arrival).
-- Output rows by part: 'stat' (one row of totals and quantile_cont figures), 'turns' (session
-- counts per turns bin: exact up to 64, then (2^k, 2^(k+1)]), 'gap' and 'duration' (counts per
-- log-grid bin b = ceil(log2(x) * $per_octave) for x > 0; bin is null for x = 0).
WITH RECURSIVE req AS (
    SELECT CASE WHEN $by_parent THEN NULL ELSE CAST({sid} AS VARCHAR) END AS sid,
           CASE WHEN $by_parent THEN CAST({rid} AS VARCHAR) END AS rid,
           CASE WHEN $by_parent THEN CAST({pid} AS VARCHAR) END AS pid,
           CAST({t} AS DOUBLE) AS t
    FROM {table}
),
ids AS MATERIALIZED (
    SELECT DISTINCT rid FROM req WHERE $orphans AND rid IS NOT NULL
),
chain(rid, root, t, depth) AS (
    SELECT r.rid, r.rid, r.t, 0
    FROM req r
    WHERE r.rid IS NOT NULL AND hash(r.rid, $seed) % 1000000 < $cut
      AND (r.pid IS NULL OR ($orphans AND NOT EXISTS (SELECT 1 FROM ids WHERE ids.rid = r.pid)))
    UNION ALL
    SELECT c.rid, chain.root, c.t, chain.depth + 1
    FROM chain JOIN req c ON c.pid = chain.rid
    WHERE chain.depth < $max_depth
),
sess AS MATERIALIZED (
    SELECT sid AS s, t FROM req WHERE sid IS NOT NULL AND hash(sid, $seed) % 1000000 < $cut
    UNION ALL
    SELECT root, t FROM chain
),
per AS MATERIALIZED (
    SELECT s, count(*) AS turns, max(t) - min(t) AS dur FROM sess GROUP BY s
),
gaps AS MATERIALIZED (
    SELECT gap FROM (SELECT t - lag(t) OVER (PARTITION BY s ORDER BY t) AS gap FROM sess)
    WHERE gap IS NOT NULL
),
stat AS (
    SELECT (SELECT count(*) FROM req) AS requests_total,
           (SELECT count(*) FROM req WHERE rid IS NOT NULL) AS requests_with_id,
           (SELECT count(*) FROM req WHERE sid IS NOT NULL) AS requests_with_session,
           (SELECT count(*) FROM sess) AS requests_in_sessions,
           count(*) AS sessions,
           count(*) FILTER (WHERE turns >= 2) AS multi_turn_sessions,
           avg(turns) AS turns_mean,
           quantile_cont(turns, $probs) AS turns_q,
           max(turns) AS turns_max,
           avg(dur) FILTER (WHERE turns >= 2) AS dur_mean,
           quantile_cont(dur, $probs) FILTER (WHERE turns >= 2) AS dur_q,
           max(dur) AS dur_max,
           (SELECT count(*) FROM gaps) AS gaps,
           (SELECT avg(gap) FROM gaps) AS gap_mean,
           (SELECT quantile_cont(gap, $probs) FROM gaps) AS gap_q,
           (SELECT max(gap) FROM gaps) AS gap_max
    FROM per
)
-- Every part lists the stat columns (NULL outside the stat part) in the order SELECT * gives
-- them: a plain UNION ALL, which Spark runs too (Spark SQL has no BY NAME union).
SELECT 'stat' AS part, *, NULL::BIGINT AS lo, NULL::BIGINT AS hi, NULL::BIGINT AS bin, NULL::BIGINT AS n
FROM stat
UNION ALL
SELECT 'turns' AS part,
       NULL AS requests_total, NULL AS requests_with_id, NULL AS requests_with_session,
       NULL AS requests_in_sessions, NULL AS sessions, NULL AS multi_turn_sessions,
       NULL AS turns_mean, NULL AS turns_q, NULL AS turns_max, NULL AS dur_mean, NULL AS dur_q,
       NULL AS dur_max, NULL AS gaps, NULL AS gap_mean, NULL AS gap_q, NULL AS gap_max,
       lo, hi, NULL::BIGINT AS bin, count(*) AS n
FROM (SELECT CASE WHEN turns <= 64 THEN turns
                  ELSE CAST(pow(2, ceil(log2(turns)) - 1) AS BIGINT) + 1 END AS lo,
             CASE WHEN turns <= 64 THEN turns
                  ELSE CAST(pow(2, ceil(log2(turns))) AS BIGINT) END AS hi
      FROM per)
GROUP BY lo, hi
UNION ALL
SELECT 'gap' AS part,
       NULL AS requests_total, NULL AS requests_with_id, NULL AS requests_with_session,
       NULL AS requests_in_sessions, NULL AS sessions, NULL AS multi_turn_sessions,
       NULL AS turns_mean, NULL AS turns_q, NULL AS turns_max, NULL AS dur_mean, NULL AS dur_q,
       NULL AS dur_max, NULL AS gaps, NULL AS gap_mean, NULL AS gap_q, NULL AS gap_max,
       NULL::BIGINT AS lo, NULL::BIGINT AS hi, bin, count(*) AS n
FROM (SELECT CASE WHEN gap > 0 THEN CAST(ceil(log2(gap) * $per_octave) AS BIGINT) END AS bin FROM gaps)
GROUP BY bin
UNION ALL
SELECT 'duration' AS part,
       NULL AS requests_total, NULL AS requests_with_id, NULL AS requests_with_session,
       NULL AS requests_in_sessions, NULL AS sessions, NULL AS multi_turn_sessions,
       NULL AS turns_mean, NULL AS turns_q, NULL AS turns_max, NULL AS dur_mean, NULL AS dur_q,
       NULL AS dur_max, NULL AS gaps, NULL AS gap_mean, NULL AS gap_q, NULL AS gap_max,
       NULL::BIGINT AS lo, NULL::BIGINT AS hi, bin, count(*) AS n
FROM (SELECT CASE WHEN dur > 0 THEN CAST(ceil(log2(dur) * $per_octave) AS BIGINT) END AS bin
      FROM per WHERE turns >= 2)
GROUP BY bin
