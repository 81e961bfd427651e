-- Span of a jobs table and its job counts, in one scan.
-- t0 = first submit; t1 = last submit / start / end seen (the caller may extend it to a
-- published trace end). A job with a run time (run_s) but neither start_s nor end_s is
-- placed at its submit time (wait taken as 0, see cluster.py), so its assumed end
-- submit_s + run_s counts too; a started job without end_s ends at start_s + run_s.
-- Censored = started, never ended (end_s null) and no run time to end it.
-- start_assumed = the jobs placed at submit; with_runtime = jobs with a run time (run_s,
-- else end_s - start_s).
SELECT min(submit_s) AS t0,
       max(greatest(submit_s, coalesce(start_s, submit_s),
                    coalesce(end_s, coalesce(start_s, submit_s) + run_s, submit_s))) AS t1,
       count(*) AS jobs,
       count(start_s) AS started,
       count(*) FILTER (WHERE start_s IS NOT NULL AND end_s IS NULL AND run_s IS NULL) AS censored,
       count(end_s) AS ended,
       count(*) FILTER (WHERE start_s IS NULL AND end_s IS NULL AND run_s IS NOT NULL) AS start_assumed,
       count(*) FILTER (WHERE run_s IS NOT NULL OR (start_s IS NOT NULL AND end_s IS NOT NULL))
           AS with_runtime
FROM {jobs}
