-- Joint histogram of (input, output) tokens over rows with both: counts per group (g when
-- $grouped, else null) and cell of log-spaced bins k = floor(log2(1 + x) * $per_octave).
-- The overall histogram and the pooled '(other)' group are sums of these rows (in Python).
SELECT g, jb_in, jb_out, count(*) AS n
FROM (SELECT CASE WHEN $grouped THEN coalesce(CAST({g} AS VARCHAR), '(none)') END AS g,
             CAST(floor(log2(1 + CAST({inp} AS DOUBLE)) * $per_octave) AS BIGINT) AS jb_in,
             CAST(floor(log2(1 + CAST({out} AS DOUBLE)) * $per_octave) AS BIGINT) AS jb_out
      FROM {table}
      WHERE {inp} IS NOT NULL AND {out} IS NOT NULL)
GROUP BY g, jb_in, jb_out
