-- A seeded sample of rows of a table carrying up to three non-negative quantities, with the
-- counts they were drawn from, in one query (one sample serves every quantity of the table).
-- Quantity i is column oi where $owni and the row has it (jobs' run_s), else column ai minus
-- column bi when $diffi is true (e.g. end_s - start_s), else column ai; unused slots repeat slot 1. The group label is column g when $grouped is true (so one file serves
-- tables with and without groups). A quantity's value is NULL where it is missing, negative
-- or not finite. Rows with part = 'n' carry the counts (valid and negative values per slot);
-- rows with part = 's' carry the sample.
WITH raw AS (
    SELECT coalesce(CASE WHEN $own1 THEN CAST({o1} AS DOUBLE) END,
                    CAST({a1} AS DOUBLE) - CASE WHEN $diff1 THEN CAST({b1} AS DOUBLE) ELSE 0.0 END) AS r1,
           coalesce(CASE WHEN $own2 THEN CAST({o2} AS DOUBLE) END,
                    CAST({a2} AS DOUBLE) - CASE WHEN $diff2 THEN CAST({b2} AS DOUBLE) ELSE 0.0 END) AS r2,
           coalesce(CASE WHEN $own3 THEN CAST({o3} AS DOUBLE) END,
                    CAST({a3} AS DOUBLE) - CASE WHEN $diff3 THEN CAST({b3} AS DOUBLE) ELSE 0.0 END) AS r3,
           CASE WHEN $grouped THEN CAST({g} AS VARCHAR) END AS g
    FROM {table}
),
v AS (
    SELECT g, r1, r2, r3,
           CASE WHEN r1 >= 0 AND isfinite(r1) THEN r1 END AS v1,
           CASE WHEN r2 >= 0 AND isfinite(r2) THEN r2 END AS v2,
           CASE WHEN r3 >= 0 AND isfinite(r3) THEN r3 END AS v3
    FROM raw
),
sampled AS (
    -- USING SAMPLE applies before WHERE, so filter in a subquery first.
    -- The sample size and seed tokens are rendered as integers by fitting._sql: DuckDB
    -- takes only constants in a sample clause, so they cannot be $params
    SELECT g, v1, v2, v3
    FROM (SELECT g, v1, v2, v3 FROM v
          WHERE v1 IS NOT NULL OR v2 IS NOT NULL OR v3 IS NOT NULL)
    USING SAMPLE reservoir(__MAX_SAMPLE__ ROWS) REPEATABLE (__SEED__)
)
SELECT 'n' AS part,
       CAST(NULL AS VARCHAR) AS g,
       CAST(NULL AS DOUBLE) AS v1, CAST(NULL AS DOUBLE) AS v2, CAST(NULL AS DOUBLE) AS v3,
       count(v1) AS valid1, count(*) FILTER (WHERE r1 < 0) AS negative1,
       count(v2) AS valid2, count(*) FILTER (WHERE r2 < 0) AS negative2,
       count(v3) AS valid3, count(*) FILTER (WHERE r3 < 0) AS negative3
FROM v
UNION ALL
SELECT 's', g, v1, v2, v3, NULL, NULL, NULL, NULL, NULL, NULL FROM sampled
