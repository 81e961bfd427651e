-- Per-(entity, metric) summaries of the $top entities with the most samples.
WITH top AS (
    SELECT entity_id, count(*) AS samples FROM {usage}
    GROUP BY entity_id ORDER BY samples DESC, entity_id LIMIT $top
)
SELECT u.entity_id, u.metric, count(*) AS n, avg(u.value) AS mean, stddev_samp(u.value) AS std,
       min(u.value) AS min, quantile_cont(u.value, 0.5) AS p50, max(u.value) AS max,
       any_value(top.samples) AS entity_samples
FROM {usage} u JOIN top USING (entity_id)
GROUP BY u.entity_id, u.metric
ORDER BY entity_samples DESC, u.entity_id, u.metric
