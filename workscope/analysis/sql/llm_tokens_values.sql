-- Exact value counts of the token columns per group: (quantity, g, x, n). Token counts are
-- integers with few distinct values, so every quantile, mean and CDF point follows exactly
-- from this table. g is the group column when $grouped (null otherwise); pooling groups
-- beyond the top ones is left to Python (a CASE per row costs more than the extra rows).
WITH base AS (
    SELECT CASE WHEN $grouped THEN coalesce(CAST({g} AS VARCHAR), '(none)') END AS g,
           {inp} AS x_in, {out} AS x_out
    FROM {table}
)
SELECT 'input' AS quantity, g, CAST(x_in AS BIGINT) AS x, count(*) AS n
FROM base WHERE x_in IS NOT NULL GROUP BY g, x_in
UNION ALL
SELECT 'output', g, CAST(x_out AS BIGINT), count(*)
FROM base WHERE x_out IS NOT NULL GROUP BY g, x_out
