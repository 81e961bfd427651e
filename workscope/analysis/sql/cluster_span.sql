-- Span of a jobs table and its job counts, in one scan.
-- t0 = first submit; t1 = last submit / start / end seen (the caller may extend it to a
-- published trace end). Censored = started but never ended (end_s null).
SELECT min(submit_s) AS t0,
       max(greatest(submit_s, coalesce(start_s, submit_s), coalesce(end_s, submit_s))) AS t1,
       count(*) AS jobs,
       count(start_s) AS started,
       count(*) FILTER (WHERE start_s IS NOT NULL AND end_s IS NULL) AS censored,
       count(end_s) AS ended
FROM {jobs}
