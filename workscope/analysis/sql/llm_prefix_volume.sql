-- Requests and hash blocks per arrival-time bin floor(t / $bin_s), to choose how much of the
-- trace (a leading window in arrival order) the exact LRU simulation can take.
SELECT CAST(floor(CAST({t} AS DOUBLE) / $bin_s) AS BIGINT) AS tbin,
       count(*) AS requests,
       sum(array_length({hash_ids})) AS blocks,
       min(CAST({t} AS DOUBLE)) AS t_min,
       max(CAST({t} AS DOUBLE)) AS t_max
FROM {table}
WHERE {hash_ids} IS NOT NULL
GROUP BY 1
ORDER BY 1
