-- Pearson correlation between the $top largest metrics on the pivot (entity_id, t_s) ->
-- one column per metric (duplicate samples of a key averaged). Only keys where at least two
-- of these metrics have a value are pivoted. On large tables keys are first thinned by the
-- seeded hash filter hash(entity_id, t_s, seed) % M = 0 (whole keys kept or dropped, so
-- the pivot rows stay complete), then capped by a seeded reservoir of __MAX_SAMPLE__ keys. Each pair's r is over the keys where both
-- metrics have a value (pairwise-complete observations).
-- The sample size and seed tokens are rendered as integers by usage._sql: DuckDB takes only
-- constants in a sample clause, so they cannot be $params.
WITH m AS (
    SELECT metric FROM {usage} GROUP BY metric ORDER BY count(*) DESC, metric LIMIT $top
),
p AS (
    SELECT entity_id, t_s, metric, avg(value) AS v
    FROM {usage} JOIN m USING (metric)
    WHERE hash(entity_id, t_s, __SEED__) % __MOD__ = 0
    GROUP BY entity_id, t_s, metric
),
keys AS (
    SELECT entity_id, t_s FROM (
        SELECT entity_id, t_s FROM p GROUP BY entity_id, t_s HAVING count(*) >= 2
    ) USING SAMPLE reservoir(__MAX_SAMPLE__ ROWS) REPEATABLE (__SEED__)
),
ps AS (SELECT p.* FROM p JOIN keys USING (entity_id, t_s))
SELECT a.metric AS metric_x, b.metric AS metric_y, count(*) AS n, corr(a.v, b.v) AS r
FROM ps a JOIN ps b USING (entity_id, t_s)
GROUP BY 1, 2
ORDER BY 1, 2
