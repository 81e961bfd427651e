-- Per group (column g when $grouped) and overall (overall = true): requests with a token
-- count, pairs with both, and the exact Pearson correlations of input and output tokens,
-- raw and on log(1 + x) (DuckDB corr over every row). At most 1000 groups, largest first.
SELECT grouping(g) = 1 AS overall, g,
       count(*) AS requests,
       count(*) FILTER (WHERE x_in IS NOT NULL AND x_out IS NOT NULL) AS n_pair,
       corr(x_out, x_in) AS pearson,
       corr(ln(1 + x_out), ln(1 + x_in)) AS pearson_log1p
FROM (SELECT CASE WHEN $grouped THEN coalesce(CAST({g} AS VARCHAR), '(none)') END AS g,
             CAST({inp} AS DOUBLE) AS x_in, CAST({out} AS DOUBLE) AS x_out
      FROM {table}
      WHERE {inp} IS NOT NULL OR {out} IS NOT NULL)
GROUP BY GROUPING SETS ((), (g))
ORDER BY overall DESC, requests DESC, g
LIMIT 1001
