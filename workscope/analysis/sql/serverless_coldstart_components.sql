-- Cold-start components over cold starts with at least one component filled. Per row the
-- whole is d = greatest(cold_start_s, sum of the components) (a null component counts 0),
-- so the components and the rest ("other" = d - their sum >= 0) are shares of d that sum to 1.
-- Rows with part = 'a': per component, its total, share of sum(d), mean and count;
-- rows with part = 'q': quantiles ($ps) of each component in seconds and of its per-row share.
WITH c AS (
    SELECT coalesce(pod_alloc_s, 0) AS pod_alloc_s, coalesce(deploy_code_s, 0) AS deploy_code_s,
           coalesce(deploy_deps_s, 0) AS deploy_deps_s, coalesce(scheduling_s, 0) AS scheduling_s,
           cold_start_s
    FROM {inv}
    WHERE coalesce(cold_start, true)
      AND (pod_alloc_s IS NOT NULL OR deploy_code_s IS NOT NULL OR deploy_deps_s IS NOT NULL
           OR scheduling_s IS NOT NULL)
),
d AS (
    SELECT *, greatest(coalesce(cold_start_s, 0), pod_alloc_s + deploy_code_s + deploy_deps_s + scheduling_s) AS whole_s
    FROM c
),
long AS (
    SELECT 'pod_alloc' AS component, pod_alloc_s AS v, whole_s FROM d
    UNION ALL SELECT 'deploy_code', deploy_code_s, whole_s FROM d
    UNION ALL SELECT 'deploy_deps', deploy_deps_s, whole_s FROM d
    UNION ALL SELECT 'scheduling', scheduling_s, whole_s FROM d
    UNION ALL SELECT 'other', whole_s - (pod_alloc_s + deploy_code_s + deploy_deps_s + scheduling_s), whole_s FROM d
)
SELECT 'a' AS part, component, count(*) AS n, sum(v) AS total_s,
       sum(v) / nullif((SELECT sum(whole_s) FROM d), 0) AS share, avg(v) AS mean_s,
       CAST(NULL AS DOUBLE[]) AS q_s, CAST(NULL AS DOUBLE[]) AS q_share
FROM long GROUP BY component
UNION ALL
SELECT 'q', component, count(*), NULL, NULL, NULL,
       quantile_cont(v, $ps), quantile_cont(CASE WHEN whole_s > 0 THEN v / whole_s END, $ps)
FROM long GROUP BY component
