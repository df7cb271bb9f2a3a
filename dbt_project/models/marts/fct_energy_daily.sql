-- Facility and IT energy per local day (var timezone), with PUE and data quality.
--
-- Meter figures add up the top-level meters of each kind (a meter whose parent is of the same
-- kind is a sub-meter and not added again). PUE = grid_intake kWh / IT kWh of the day; it is
-- measured when both kinds cover the whole day; otherwise estimated: from the day's partial
-- figures when both have some, else carried from the nearest earlier day with a measured PUE,
-- else from the nearest later one. avg_it_kw and peak_it_kw come from the IT meters (peak =
-- highest quarter-hour average); on days without IT meter data, from the node samples (sum of
-- node power per minute). Node energy is the energy integrated from node power samples;
-- estimated job energy (busy time without samples) is reported apart and not part of it.

with

node_daily as (

    select * from {{ ref('int_node_energy_daily') }}

),

node_load as (

    select * from {{ ref('int_node_load_daily') }}

),

job_daily as (

    select * from {{ ref('int_job_energy_daily') }}

),

meter_daily as (

    select * from {{ ref('int_meter_energy_daily') }}

),

it_quarters as (

    select * from {{ ref('int_it_load_quarter_hourly') }}

),

meters as (

    select * from {{ ref('stg_inventory__meters') }}

),


node_totals as (

    select
        day,
        sum(node_kwh) as node_kwh,
        sum(idle_kwh) as idle_node_kwh,
        sum(job_kwh) as job_node_kwh,
        sum(measured_kwh) as measured_node_kwh,
        sum(interpolated_kwh) as interpolated_node_kwh,
        sum(covered_s) as sampled_node_s
    from node_daily
    group by day

),

job_totals as (

    select
        day,
        sum(it_energy_kwh) as job_it_kwh,
        sum(measured_kwh) as job_measured_kwh,
        sum(interpolated_kwh) as job_interpolated_kwh,
        sum(estimated_kwh) as job_estimated_kwh,
        sum(node_seconds) as job_node_s,
        sum(coverage * node_seconds) as job_covered_node_s
    from job_daily
    group by day

),

top_meters_per_kind as (

    select
        meters.kind,
        count(*) as meters
    from meters
    left join meters as parents on meters.parent_meter_id = parents.meter_id
    where parents.meter_id is null or parents.kind <> meters.kind
    group by meters.kind

),

meter_kinds as (

    select
        meter_daily.day,
        meter_daily.kind,
        sum(meter_daily.kwh) as kwh,
        -- a kind covers the day only if each of its top-level meters does
        case
            when count(*) < coalesce(max(top_meters_per_kind.meters), 1) then 0
            else min(meter_daily.coverage)
        end as coverage,
        sum(meter_daily.resets) as resets,
        sum(meter_daily.rollovers) as rollovers
    from meter_daily
    left join top_meters_per_kind on meter_daily.kind = top_meters_per_kind.kind
    where meter_daily.is_top_level
    group by meter_daily.day, meter_daily.kind

),

meter_totals as (

    select
        day,
        sum(kwh) filter (where kind = 'grid_intake') as grid_kwh,
        sum(kwh) filter (where kind = 'it') as it_kwh,
        sum(kwh) filter (where kind = 'cooling') as cooling_kwh,
        sum(kwh) filter (where kind = 'heat_reuse') as heat_reuse_kwh,
        sum(kwh) filter (where kind = 'renewable_supply') as renewable_kwh,
        sum(kwh) filter (
            where kind not in ('grid_intake', 'it', 'cooling', 'heat_reuse', 'renewable_supply')
        ) as other_kwh,
        max(coverage) filter (where kind = 'grid_intake') as grid_coverage,
        max(coverage) filter (where kind = 'it') as it_coverage,
        sum(resets) as meter_resets,
        sum(rollovers) as meter_rollovers
    from meter_kinds
    group by day

),

it_peaks as (

    select
        day,
        max(it_kw) as peak_it_meter_kw
    from it_quarters
    group by day

),

days as (

    select day from node_totals
    union
    select day from meter_totals
    union
    select day from job_totals

),

joined as (

    select
        days.day,
        {{ seconds_between(local_day_start('days.day'), local_day_end('days.day')) }} / 3600 as day_hours,
        meter_totals.grid_kwh,
        meter_totals.it_kwh,
        node_totals.node_kwh,
        node_totals.idle_node_kwh,
        node_totals.job_node_kwh,
        node_totals.measured_node_kwh,
        node_totals.interpolated_node_kwh,
        node_totals.sampled_node_s,
        meter_totals.cooling_kwh,
        meter_totals.heat_reuse_kwh,
        meter_totals.renewable_kwh,
        meter_totals.other_kwh,
        coalesce(meter_totals.grid_coverage, 0) as grid_coverage,
        coalesce(meter_totals.it_coverage, 0) as it_coverage,
        coalesce(meter_totals.meter_resets, 0) as meter_resets,
        coalesce(meter_totals.meter_rollovers, 0) as meter_rollovers,
        job_totals.job_it_kwh,
        job_totals.job_measured_kwh,
        job_totals.job_interpolated_kwh,
        job_totals.job_estimated_kwh,
        job_totals.job_node_s,
        job_totals.job_covered_node_s,
        it_peaks.peak_it_meter_kw,
        node_load.peak_node_kw,
        case
            when meter_totals.grid_coverage >= 0.9999
                and meter_totals.it_coverage >= 0.9999
                and meter_totals.it_kwh > 0
                then meter_totals.grid_kwh / meter_totals.it_kwh
        end as measured_pue,
        case
            when meter_totals.grid_kwh > 0 and meter_totals.it_kwh > 0
                then meter_totals.grid_kwh / meter_totals.it_kwh
        end as partial_pue
    from days
    left join node_totals on days.day = node_totals.day
    left join meter_totals on days.day = meter_totals.day
    left join job_totals on days.day = job_totals.day
    left join it_peaks on days.day = it_peaks.day
    left join node_load on days.day = node_load.day

),

with_pue as (

    select
        *,
        coalesce(
            measured_pue,
            partial_pue,
            last_value(measured_pue ignore nulls) over (
                order by day rows between unbounded preceding and 1 preceding
            ),
            first_value(measured_pue ignore nulls) over (
                order by day rows between 1 following and unbounded following
            )
        ) as pue
    from joined

),

final as (

    select
        day,
        grid_kwh,
        it_kwh,
        node_kwh,
        idle_node_kwh,
        cooling_kwh,
        heat_reuse_kwh,
        renewable_kwh,
        other_kwh,
        pue,
        case
            when it_kwh is not null then it_kwh / day_hours
            else node_kwh / day_hours
        end as avg_it_kw,
        case
            when it_kwh is not null then peak_it_meter_kw
            else peak_node_kw
        end as peak_it_kw,
        case when it_kwh is not null then 'meter' else 'nodes' end as it_load_source,
        case
            when job_node_s > 0 then job_covered_node_s / job_node_s
        end as energy_coverage,
        measured_pue is null and pue is not null as is_pue_estimated,
        grid_coverage,
        it_coverage,
        meter_resets,
        meter_rollovers,
        job_node_kwh,
        job_it_kwh,
        job_measured_kwh,
        job_interpolated_kwh,
        job_estimated_kwh,
        measured_node_kwh,
        interpolated_node_kwh,
        sampled_node_s,
        day_hours
    from with_pue

)

select * from final
