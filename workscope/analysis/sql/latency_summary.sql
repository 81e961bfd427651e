-- Request counts by status and the distributions of TTFT, TPOT (mean inter-token latency) and
-- end-to-end latency over the ok requests, in one pass over the responses table.
-- quantile_cont interpolates linearly between order statistics (numpy's default "linear").
-- Only ok requests enter the distributions: a failed request's timings (when a tool keeps
-- any) measure how it failed, not how the server served it.
WITH r AS (
    SELECT sent_s, ttft_s, itl_mean_s, latency_s, status = 'ok' AS ok, status
    FROM {table}
),
counts AS (
    SELECT count(*) AS requests,
           count(*) FILTER (WHERE ok) AS ok,
           count(*) FILTER (WHERE status = 'error') AS errors,
           count(*) FILTER (WHERE status = 'incomplete') AS incomplete,
           min(sent_s) AS first_sent_s,
           -- the run ends when its last answer ends (else its last send)
           max(coalesce(sent_s + latency_s, sent_s)) AS last_end_s
    FROM r
),
m AS (
    SELECT 'ttft' AS metric, 1 AS ord,
           count(ttft_s) AS n, avg(ttft_s) AS mean,
           quantile_cont(ttft_s, [0.5, 0.9, 0.99]) AS q, max(ttft_s) AS max
    FROM r WHERE ok AND ttft_s IS NOT NULL AND isfinite(ttft_s)
    UNION ALL
    SELECT 'tpot', 2, count(itl_mean_s), avg(itl_mean_s),
           quantile_cont(itl_mean_s, [0.5, 0.9, 0.99]), max(itl_mean_s)
    FROM r WHERE ok AND itl_mean_s IS NOT NULL AND isfinite(itl_mean_s)
    UNION ALL
    SELECT 'latency', 3, count(latency_s), avg(latency_s),
           quantile_cont(latency_s, [0.5, 0.9, 0.99]), max(latency_s)
    FROM r WHERE ok AND latency_s IS NOT NULL AND isfinite(latency_s)
)
SELECT m.metric, m.n, m.mean, m.q[1] AS p50, m.q[2] AS p90, m.q[3] AS p99, m.max,
       c.requests, c.ok, c.errors, c.incomplete, c.first_sent_s, c.last_end_s
FROM m CROSS JOIN counts c
ORDER BY m.ord
