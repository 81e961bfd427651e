-- Rows of the table where column {c} is filled, and the span of their event times.
SELECT count(*) AS n, min(CAST({t} AS DOUBLE)) AS t_min, max(CAST({t} AS DOUBLE)) AS t_max
FROM {table}
WHERE {c} IS NOT NULL
