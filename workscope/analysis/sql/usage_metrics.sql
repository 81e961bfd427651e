-- Per-metric summary of the usage table: samples, entities, mean, sample std (ddof 1),
-- min, max, time range, unit (exact), and quantiles at $qs (linear interpolation) over a
-- seeded reservoir sample of __MAX_SAMPLE__ rows (all rows when fewer). Largest metrics first.
-- The sample size and seed tokens are rendered as integers by usage._sql.
WITH s AS (
    SELECT metric, value FROM {usage} USING SAMPLE reservoir(__MAX_SAMPLE__ ROWS) REPEATABLE (__SEED__)
),
sq AS (SELECT metric, count(*) AS n_sampled, quantile_cont(value, $qs) AS quantiles FROM s GROUP BY metric),
e AS (
    SELECT metric, count(*) AS n, count(DISTINCT entity_id) AS entities,
           avg(value) AS mean, stddev_samp(value) AS std, min(value) AS min, max(value) AS max,
           min(t_s) AS first_t_s, max(t_s) AS last_t_s, any_value(unit) AS unit
    FROM {usage}
    GROUP BY metric
)
SELECT e.*, sq.n_sampled, sq.quantiles
FROM e LEFT JOIN sq USING (metric)
ORDER BY n DESC, metric
LIMIT $limit
