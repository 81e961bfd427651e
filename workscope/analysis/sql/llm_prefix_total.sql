-- Requests with hash ids, their total number of blocks and the span of their arrivals.
SELECT count(*) AS n, sum(array_length({hash_ids})) AS blocks,
       min(CAST({t} AS DOUBLE)) AS t_min, max(CAST({t} AS DOUBLE)) AS t_max
FROM {table}
WHERE {hash_ids} IS NOT NULL
