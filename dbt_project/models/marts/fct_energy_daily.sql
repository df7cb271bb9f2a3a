-- Facility and IT energy per local day (var timezone), with PUE and data quality.
--
-- Meter figures come from int_energy_figures_daily (top-level meters of each kind; E_DC = grid
-- intake + on-site generation + backup generators - grid export). PUE = E_DC / E_IT of the day;
-- it is measured on a PUE day (both measured over the whole day without a gap); otherwise
-- estimated: from the day's partial figures when both have some, else carried from the nearest
-- earlier day with a measured PUE, else from the nearest later one. The renewable share of the
-- day is the certificate ledger's coverage of its year (REF, at most 1; int_energy_ledger_yearly),
-- applied to the day's grid intake: renewable_kwh = grid_kwh x renewable_share (null without a
-- ledger for the year; renewable_share is then 0, as without grid data). avg_it_kw and peak_it_kw come from the IT meters (peak =
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

energy_figures as (

    select * from {{ ref('int_energy_figures_daily') }}

),

ledger as (

    select * from {{ ref('int_energy_ledger_yearly') }}

),

it_quarters as (

    select * from {{ ref('int_it_load_quarter_hourly') }}

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

meter_totals as (

    select
        energy_figures.day,
        energy_figures.grid_intake_kwh as grid_kwh,
        energy_figures.dc_kwh,
        energy_figures.grid_export_kwh,
        energy_figures.onsite_generation_kwh,
        energy_figures.backup_generator_kwh,
        energy_figures.it_kwh,
        energy_figures.cooling_kwh,
        energy_figures.heat_reuse_kwh,
        energy_figures.other_kwh,
        energy_figures.grid_coverage,
        energy_figures.it_coverage,
        energy_figures.is_pue_day,
        energy_figures.meter_resets,
        energy_figures.meter_rollovers,
        coalesce(ledger.has_ledger, false) as has_ledger,
        case
            when energy_figures.grid_intake_kwh > 0 then least(1.0, greatest(0.0, coalesce(ledger.ref, 0.0)))
            else 0.0
        end as renewable_share
    from energy_figures
    left join ledger
        on year(energy_figures.day) = ledger.year
    -- days with kWh meter data (water and temperatures alone make no energy day)
    where coalesce(
        energy_figures.grid_intake_kwh, energy_figures.grid_export_kwh, energy_figures.onsite_generation_kwh,
        energy_figures.backup_generator_kwh, energy_figures.it_kwh, energy_figures.cooling_kwh,
        energy_figures.heat_removed_kwh, energy_figures.heat_reuse_kwh, energy_figures.heat_released_kwh,
        energy_figures.other_kwh
    ) is not null

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
        meter_totals.dc_kwh,
        meter_totals.grid_export_kwh,
        meter_totals.onsite_generation_kwh,
        meter_totals.backup_generator_kwh,
        meter_totals.renewable_share,
        meter_totals.it_kwh,
        node_totals.node_kwh,
        node_totals.idle_node_kwh,
        node_totals.job_node_kwh,
        node_totals.measured_node_kwh,
        node_totals.interpolated_node_kwh,
        node_totals.sampled_node_s,
        meter_totals.cooling_kwh,
        meter_totals.heat_reuse_kwh,
        case when meter_totals.has_ledger then meter_totals.grid_kwh * meter_totals.renewable_share end
            as renewable_kwh,
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
            when meter_totals.is_pue_day then meter_totals.dc_kwh / meter_totals.it_kwh
        end as measured_pue,
        case
            when meter_totals.dc_kwh > 0 and meter_totals.it_kwh > 0
                then meter_totals.dc_kwh / meter_totals.it_kwh
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
        dc_kwh,
        grid_export_kwh,
        onsite_generation_kwh,
        backup_generator_kwh,
        coalesce(renewable_share, 0.0) as renewable_share,
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
