-- Latency against prompt length: ok requests in power-of-two buckets of input_tokens
-- (bucket b holds 2^(b-1) < x <= 2^b; x <= 1 is bucket 0), with count and p50 / p99 of
-- TTFT and end-to-end latency per bucket.
SELECT CASE WHEN input_tokens <= 1 THEN 0
            ELSE CAST(ceil(log2(input_tokens)) AS BIGINT) END AS bucket,
       count(*) AS requests,
       min(input_tokens) AS min_tokens,
       max(input_tokens) AS max_tokens,
       quantile_cont(ttft_s, 0.5) AS ttft_p50_s,
       quantile_cont(ttft_s, 0.99) AS ttft_p99_s,
       quantile_cont(latency_s, 0.5) AS latency_p50_s,
       quantile_cont(latency_s, 0.99) AS latency_p99_s
FROM {table}
WHERE status = 'ok' AND input_tokens IS NOT NULL
GROUP BY 1
ORDER BY 1
