-- A seeded reservoir sample of (group, input, output) pairs with both token counts, for the
-- rank (Spearman) correlation. The sample size and seed tokens are rendered as integers by
-- llm._sample_sql: DuckDB takes only constants in a sample clause, so they cannot be $params.
SELECT g, x_in, x_out
FROM (SELECT CASE WHEN $grouped THEN coalesce(CAST({g} AS VARCHAR), '(none)') END AS g,
             CAST({inp} AS DOUBLE) AS x_in, CAST({out} AS DOUBLE) AS x_out
      FROM {table}
      WHERE {inp} IS NOT NULL AND {out} IS NOT NULL)
USING SAMPLE reservoir(__MAX_SAMPLE__ ROWS) REPEATABLE (__SEED__)
