-- A seeded sample of the ok requests' TTFT, TPOT and latency for the fits and CDFs (the
-- sample size and seed tokens become integer constants: DuckDB takes nothing else there).
SELECT ttft_s, itl_mean_s, latency_s
FROM (SELECT ttft_s, itl_mean_s, latency_s FROM {table}
      WHERE status = 'ok' AND (ttft_s IS NOT NULL OR itl_mean_s IS NOT NULL OR latency_s IS NOT NULL))
USING SAMPLE reservoir(__MAX_SAMPLE__ ROWS) REPEATABLE (__SEED__)
