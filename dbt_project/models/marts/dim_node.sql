-- One row per node and inventory delivery period: the description of each node in force on
-- each day. Rule (see dim_node.yml): a delivery takes effect on its valid_from; without one,
-- the cluster's first delivery from 1970-01-01 and any later one from the local day it was
-- received; it stays in force until the day before the next delivery takes effect.

with

node_deliveries as (

    select * from {{ ref('stg_inventory__node_deliveries') }}

),

facility_deliveries as (

    select * from {{ ref('stg_inventory__facility_deliveries') }}

),

-- every delivery has a facility row; the node rows also name their delivery, so that node
-- rows without a facility row (never written by the parser) still count
deliveries as (

    select cluster, ingest_id, valid_from, received_at from facility_deliveries
    union
    select distinct cluster, ingest_id, valid_from, received_at from node_deliveries

),

dated as (

    select
        cluster,
        ingest_id,
        coalesce(
            valid_from,
            case
                when ingest_id = min(ingest_id) over (partition by cluster) then date '1970-01-01'
                else {{ local_date('received_at') }}
            end
        ) as takes_effect_on

    from deliveries

),

spans as (

    select
        cluster,
        ingest_id,
        takes_effect_on as valid_from,
        cast(
            lead(takes_effect_on) over (partition by cluster order by takes_effect_on, ingest_id)
            - interval 1 day
            as date
        ) as valid_to

    from dated

),

-- a delivery superseded on the day it takes effect (a later delivery for the same day) is
-- never in force
in_force as (

    select * from spans
    where valid_to is null or valid_to >= valid_from

),

final as (

    select
        node_deliveries.node || '|' || cast(in_force.valid_from as varchar) as node_version_key,
        node_deliveries.node,
        node_deliveries.cluster,
        node_deliveries.partition,
        node_deliveries.rack,
        node_deliveries.gpu_model,
        node_deliveries.gpus,
        node_deliveries.cpus,
        node_deliveries.idle_w,
        node_deliveries.max_w,
        in_force.valid_from,
        in_force.valid_to,
        in_force.valid_to is null as is_current,
        node_deliveries.ingest_id

    from in_force
    inner join node_deliveries
        on node_deliveries.ingest_id = in_force.ingest_id

)

select * from final
