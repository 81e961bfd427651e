-- Job-size frequencies: the $top most common values of each size column (cpu_req, nodes,
-- gpu_req), with the number of jobs of each value and the total of jobs with the column.
WITH q AS (
    SELECT 'cpu_req' AS quantity, cpu_req AS value FROM {jobs} WHERE cpu_req IS NOT NULL
    UNION ALL SELECT 'nodes', CAST(nodes AS DOUBLE) FROM {jobs} WHERE nodes IS NOT NULL
    UNION ALL SELECT 'gpu_req', gpu_req FROM {jobs} WHERE gpu_req IS NOT NULL
),
f AS (SELECT quantity, value, count(*) AS jobs FROM q GROUP BY 1, 2)
SELECT quantity, value, jobs, jobs / sum(jobs) OVER (PARTITION BY quantity) AS share
FROM f
QUALIFY row_number() OVER (PARTITION BY quantity ORDER BY jobs DESC, value) <= $top
ORDER BY quantity, value
