-- Execution time and memory of invocations: exact counts and means, and quantiles ($ps, linear
-- interpolation as numpy's default) of a seeded reservoir sample of the rows (the whole table
-- when it has fewer rows than the sample size). Rows of a cold-start log are left out when
-- $skip_cold_log.
WITH v AS MATERIALIZED (
    SELECT CASE WHEN duration_s >= 0 AND isfinite(duration_s) THEN duration_s END AS d,
           CASE WHEN memory_mb >= 0 AND isfinite(memory_mb) THEN memory_mb END AS m
    FROM {table}
    WHERE NOT ($skip_cold_log AND coalesce(cold_start, false))
),
sampled AS (
    -- USING SAMPLE applies before WHERE, so filter in a subquery first. The sample size and
    -- seed tokens are rendered as integers by serverless._sampled_sql (DuckDB takes only
    -- constants in a sample clause)
    SELECT d, m
    FROM (SELECT d, m FROM v WHERE d IS NOT NULL OR m IS NOT NULL)
    USING SAMPLE reservoir(__MAX_SAMPLE__ ROWS) REPEATABLE (__SEED__)
),
q AS (
    SELECT count(d) AS n_sampled_duration, quantile_cont(d, $ps) AS q_duration,
           count(m) AS n_sampled_memory, quantile_cont(m, $ps) AS q_memory
    FROM sampled
)
SELECT count(d) AS n_duration, avg(d) AS mean_duration_s, count(m) AS n_memory, avg(m) AS mean_memory_mb,
       any_value(q.n_sampled_duration) AS n_sampled_duration, any_value(q.q_duration) AS q_duration,
       any_value(q.n_sampled_memory) AS n_sampled_memory, any_value(q.q_memory) AS q_memory
FROM v, q
