-- Cold starts per trigger, runtime and memory size, with the invocations they are a share of.
-- Trigger / runtime come from the invocation row, else from the functions table ({ftable},
-- $use_functions; {ftable} is the invocations table itself when unused). Memory size is the
-- row's memory_mb. Denominators ($denom):
--   'flag'   rows of {inv} with cold_start filled (cold_start is a per-invocation flag);
--   'counts' sum of invocation_counts.count ({ctable}) per function, the function's attributes
--            taken from its invocation rows / the functions table ({ctable} unused otherwise);
--   'none'   no denominator (rates are null).
WITH fattr AS (
    SELECT CAST(function_id AS VARCHAR) AS f,
           any_value(CAST("trigger" AS VARCHAR)) AS tr, any_value(CAST(runtime AS VARCHAR)) AS rt
    FROM {ftable}
    WHERE $use_functions
    GROUP BY 1
),
-- invocation rows reduced to one row per (function, trigger, runtime, memory) first: the
-- per-row work of the joins and labels then runs on a few rows per function
grouped AS MATERIALIZED (
    SELECT CAST(function_id AS VARCHAR) AS f, CAST("trigger" AS VARCHAR) AS tr, CAST(runtime AS VARCHAR) AS rt,
           memory_mb, count(cold_start) AS flagged
    FROM {inv}
    GROUP BY ALL
),
labelled AS MATERIALIZED (
    SELECT g.f, coalesce(g.tr, fattr.tr) AS tr, coalesce(g.rt, fattr.rt) AS rt,
           regexp_replace(CAST(g.memory_mb AS VARCHAR), '\.0$', '') AS mem, g.flagged,
           g.tr AS tr0, g.rt AS rt0, g.memory_mb
    FROM grouped AS g LEFT JOIN fattr ON g.f = fattr.f
),
-- one attribute set per function, for the invocation_counts denominators
perf AS (
    SELECT f, any_value(tr) AS tr, any_value(rt) AS rt, any_value(mem) AS mem FROM labelled GROUP BY f
),
counts AS (
    SELECT CAST(function_id AS VARCHAR) AS f, sum(TRY_CAST({ccount} AS DOUBLE)) AS n
    FROM {ctable}
    WHERE $denom = 'counts'
    GROUP BY 1
),
denoms AS (
    SELECT coalesce(perf.tr, fattr.tr) AS tr, coalesce(perf.rt, fattr.rt) AS rt, perf.mem, counts.n
    FROM counts LEFT JOIN perf ON counts.f = perf.f LEFT JOIN fattr ON counts.f = fattr.f
),
cold AS (
    SELECT l.tr, l.rt, l.mem, c.cold_start_s
    FROM (SELECT CAST(function_id AS VARCHAR) AS f, CAST("trigger" AS VARCHAR) AS tr0,
                 CAST(runtime AS VARCHAR) AS rt0, memory_mb, cold_start_s
          FROM {inv} WHERE cold_start) AS c
    JOIN labelled AS l
      ON c.f = l.f AND c.tr0 IS NOT DISTINCT FROM l.tr0 AND c.rt0 IS NOT DISTINCT FROM l.rt0
     AND c.memory_mb IS NOT DISTINCT FROM l.memory_mb
),
flag AS (
    SELECT tr, rt, mem, CAST(flagged AS DOUBLE) AS n FROM labelled WHERE $denom = 'flag' AND flagged > 0
),
num AS (
    SELECT 'trigger' AS dimension, coalesce(tr, 'unknown') AS value, cold_start_s FROM cold
    UNION ALL SELECT 'runtime', coalesce(rt, 'unknown'), cold_start_s FROM cold
    UNION ALL SELECT 'memory_mb', coalesce(mem, 'unknown'), cold_start_s FROM cold
),
den AS (
    SELECT 'trigger' AS dimension, coalesce(tr, 'unknown') AS value, n FROM (SELECT * FROM denoms UNION ALL SELECT * FROM flag)
    UNION ALL SELECT 'runtime', coalesce(rt, 'unknown'), n FROM (SELECT * FROM denoms UNION ALL SELECT * FROM flag)
    UNION ALL SELECT 'memory_mb', coalesce(mem, 'unknown'), n FROM (SELECT * FROM denoms UNION ALL SELECT * FROM flag)
),
num_agg AS (
    SELECT dimension, value, count(*) AS cold_starts,
           median(cold_start_s) AS cold_start_p50_s,
           quantile_cont(cold_start_s, 0.9) AS cold_start_p90_s,
           quantile_cont(cold_start_s, 0.99) AS cold_start_p99_s,
           avg(cold_start_s) AS cold_start_mean_s
    FROM num GROUP BY 1, 2
),
den_agg AS (
    SELECT dimension, value, sum(n) AS invocations FROM den GROUP BY 1, 2
)
SELECT coalesce(num_agg.dimension, den_agg.dimension) AS dimension,
       coalesce(num_agg.value, den_agg.value) AS value,
       coalesce(num_agg.cold_starts, 0) AS cold_starts,
       den_agg.invocations,
       cold_start_mean_s, cold_start_p50_s, cold_start_p90_s, cold_start_p99_s
FROM num_agg FULL OUTER JOIN den_agg
  ON num_agg.dimension = den_agg.dimension AND num_agg.value = den_agg.value
ORDER BY 1, 3 DESC, 2
