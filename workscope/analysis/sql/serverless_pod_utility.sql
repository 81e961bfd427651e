-- Per pod (pod_id): the cold start that created it (earliest row with cold_start true: its
-- time t0 and cost cold_start_s) and the executions it served (rows with duration_s: last
-- end, busy time). Pods with a cold start and at least one execution get
--   useful_s = last_end - t0                     (lifetime less the keep-alive tail)
--   pod_utility_ratio = useful_s / cold_start_s  (Joosen et al., EuroSys '25)
--   busy_fraction = busy_s / (useful_s + $keepalive_s)   (execution time over lifetime)
-- Output: counts, and quantiles ($ps) of both ratios.
WITH pods AS (
    SELECT pod_id,
           min(arrival_s) FILTER (WHERE cold_start) AS t0,
           arg_min(cold_start_s, arrival_s) FILTER (WHERE cold_start) AS cs,
           max(arrival_s + duration_s) FILTER (WHERE duration_s >= 0) AS last_end,
           sum(duration_s) FILTER (WHERE duration_s >= 0) AS busy_s,
           count(*) FILTER (WHERE duration_s >= 0) AS executions
    FROM {inv}
    WHERE pod_id IS NOT NULL
    GROUP BY pod_id
),
u AS (
    SELECT greatest(last_end - t0, 0) AS useful_s, cs, busy_s
    FROM pods
    WHERE t0 IS NOT NULL AND cs > 0 AND executions > 0
)
SELECT (SELECT count(*) FROM pods) AS pods,
       (SELECT count(*) FROM pods WHERE t0 IS NOT NULL) AS pods_with_cold_start,
       count(*) AS pods_measured,
       quantile_cont(useful_s / cs, $ps) AS q_utility,
       quantile_cont(busy_s / nullif(useful_s + $keepalive_s, 0), $ps) AS q_busy,
       avg(CASE WHEN useful_s / cs < 1 THEN 1.0 ELSE 0.0 END) AS share_utility_below_1,
       median(useful_s) AS useful_p50_s
FROM u
