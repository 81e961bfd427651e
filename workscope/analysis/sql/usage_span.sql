-- Time range and number of metrics of the usage table.
SELECT min(t_s) AS t0, max(t_s) AS t1, count(DISTINCT metric) AS metrics FROM {usage}
