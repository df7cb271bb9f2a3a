{{ config(materialized='view') }}

-- occ(n,m) for every node and UTC minute in which a job ran: the union of the job intervals
-- on the node (macro energy_occupied_minutes, the same logic int_job_node_minute_energy
-- applies to the days it recomputes). A view: analysts and the conservation tests read it.

with

allocations as (

    select * from {{ ref('int_job_node_allocations') }}

),

intervals as (

    select
        node,
        epoch_us(start_at) as start_us,
        epoch_us(end_at) as end_us
    from allocations

),

occupied as (

    {{ energy_occupied_minutes('intervals') }}

),

final as (

    select
        node,
        make_timestamptz(minute_no * 60000000) as minute_at,
        occupied_us / 1e6 as occupied_s,
        occupied_us / 6e7 as occupancy
    from occupied

)

select * from final
