-- (entity, t_s) keys at which at least two of the $top largest metrics have a sample (what
-- the correlation needs), among the keys kept by the seeded hash filter
-- hash(entity_id, t_s, seed) % M = 0 (M = 1 keeps every key; seed and M are rendered as
-- integers by usage._sql: a bound $param here kept DuckDB from pushing the filter down).
WITH m AS (
    SELECT metric FROM {usage} GROUP BY metric ORDER BY count(*) DESC, metric LIMIT $top
),
k AS (
    SELECT entity_id, t_s, count(DISTINCT metric) AS metrics
    FROM {usage} JOIN m USING (metric)
    WHERE hash(entity_id, t_s, __SEED__) % __MOD__ = 0
    GROUP BY entity_id, t_s
)
SELECT count(*) AS keys, count(*) FILTER (WHERE metrics >= 2) AS shared FROM k
