-- One row per started job and allocated node: the job's interval [start_at, end_at) on that
-- node and its even share of the job's GPUs and CPUs (multi-node jobs spread evenly over
-- their nodes). weight_unit says which share weighs the job on the node: CPUs on CPU-only
-- nodes of the inventory, GPUs on every other node (also on nodes the inventory lacks).

with

jobs as (

    select * from {{ ref('int_jobs_resolved') }}

),

inventory as (

    select * from {{ ref('stg_inventory__nodes') }}

),

started as (

    select
        job_key,
        start_at,
        end_at,
        gpus,
        ncpus,
        ingest_id as job_ingest_id,
        list_distinct(nodes) as node_names
    from jobs
    where start_at is not null
      and end_at > start_at
      and len(nodes) > 0

),

spread as (

    select
        job_key,
        start_at,
        end_at,
        unnest(node_names) as node,
        cast(coalesce(gpus, 0) as double) / len(node_names) as gpus_on_node,
        cast(coalesce(ncpus, 0) as double) / len(node_names) as cpus_on_node,
        len(node_names) as job_nodes,
        job_ingest_id
    from started

),

final as (

    select
        spread.job_key,
        spread.node,
        spread.start_at,
        spread.end_at,
        spread.gpus_on_node,
        spread.cpus_on_node,
        spread.job_nodes,
        case when inventory.gpus = 0 then 'cpu' else 'gpu' end as weight_unit,
        inventory.node is not null as is_in_inventory,
        spread.job_ingest_id,
        inventory.ingest_id as inventory_ingest_id
    from spread
    left join inventory on spread.node = inventory.node

)

select * from final
