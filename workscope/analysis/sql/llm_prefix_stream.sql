-- The hash-id lists of the requests arriving before $t_end, in arrival order (ties kept in
-- the table's stored order, numbered before sorting so the order is deterministic).
SELECT t, hash_ids
FROM (SELECT CAST({t} AS DOUBLE) AS t, {hash_ids} AS hash_ids, row_number() OVER () AS rn
      FROM {table}
      WHERE {hash_ids} IS NOT NULL AND {t} < $t_end)
ORDER BY t, rn
