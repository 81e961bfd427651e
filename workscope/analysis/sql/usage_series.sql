-- Mean of each of the $top largest metrics per time bin ($bins equal bins over
-- [$t0, $t1]): mean over every sample (all entities) whose t_s falls in the bin.
WITH m AS (
    SELECT metric FROM {usage} GROUP BY metric ORDER BY count(*) DESC, metric LIMIT $top
)
SELECT metric,
       least(CAST(floor((t_s - $t0) / $width) AS BIGINT), $bins - 1) AS i,
       count(*) AS n, avg(value) AS mean, min(value) AS min, max(value) AS max
FROM {usage} JOIN m USING (metric)
GROUP BY 1, 2
ORDER BY 1, 2
