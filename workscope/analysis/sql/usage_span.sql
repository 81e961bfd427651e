-- Time range, number of metrics and number of distinct entities of the usage table.
SELECT min(t_s) AS t0, max(t_s) AS t1, count(DISTINCT metric) AS metrics,
       count(DISTINCT entity_id) AS entities
FROM {usage}
