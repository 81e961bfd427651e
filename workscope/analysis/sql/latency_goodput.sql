-- Goodput: ok requests meeting every given SLO. A NULL bound is an SLO not given; a request
-- lacking the measure an SLO bounds does not meet it (nothing shows it did).
-- Also, per SLO, the ok requests meeting that one alone.
SELECT count(*) FILTER (WHERE status = 'ok'
                          AND ($ttft IS NULL OR ttft_s <= $ttft)
                          AND ($tpot IS NULL OR itl_mean_s <= $tpot)
                          AND ($latency IS NULL OR latency_s <= $latency)) AS good,
       count(*) FILTER (WHERE status = 'ok' AND ttft_s <= $ttft) AS ttft_met,
       count(*) FILTER (WHERE status = 'ok' AND itl_mean_s <= $tpot) AS tpot_met,
       count(*) FILTER (WHERE status = 'ok' AND latency_s <= $latency) AS latency_met
FROM {table}
