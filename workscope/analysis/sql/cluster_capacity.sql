-- Capacity of the machines table: each machine counted once (machine event logs repeat a
-- machine_id; its largest published value is taken), then summed over machines.
WITH m AS (
    SELECT machine_id, max(cpu) AS cpu, max(mem_mb) AS mem_mb, max(gpu) AS gpu
    FROM {machines}
    GROUP BY machine_id
)
SELECT count(*) AS machines,
       sum(cpu) AS cpu, count(cpu) AS cpu_machines,
       sum(mem_mb) AS mem_mb, count(mem_mb) AS mem_machines,
       sum(gpu) AS gpu, count(gpu) AS gpu_machines
FROM m
