-- Jobs per final status (null status reported as 'unknown').
SELECT coalesce(status, 'unknown') AS status, count(*) AS jobs,
       count(*) / sum(count(*)) OVER () AS share
FROM {jobs}
GROUP BY 1
ORDER BY jobs DESC, status
