-- Latency over time next to the offered load: per window of $window_s seconds of send time,
-- requests sent, failed (status other than ok), and mean / p99 TTFT and latency of the ok ones.
SELECT CAST(floor(sent_s / $window_s) AS BIGINT) AS window,
       count(*) AS requests,
       count(*) FILTER (WHERE status = 'ok') AS ok,
       count(*) FILTER (WHERE status <> 'ok') AS failed,
       avg(ttft_s) FILTER (WHERE status = 'ok') AS ttft_mean_s,
       quantile_cont(ttft_s, 0.99) FILTER (WHERE status = 'ok') AS ttft_p99_s,
       avg(latency_s) FILTER (WHERE status = 'ok') AS latency_mean_s,
       quantile_cont(latency_s, 0.99) FILTER (WHERE status = 'ok') AS latency_p99_s
FROM {table}
WHERE sent_s IS NOT NULL AND isfinite(sent_s)
GROUP BY 1
ORDER BY 1
