-- For each year with figures and each figure EnEfG § 11 limits (PUE, ERF, REF): the limit that
-- applies to the centre, chosen by its commissioned_on from the seed enefg_limits, and whether
-- the year's figure meets it. Of the limits that apply, the one in force at the year's end
-- (the latest to take effect by 31 December) is chosen; when none is in force yet, the next one
-- to take effect, with is_binding false (a new centre must reach its PUE and ERF two years after
-- commissioning). A limit for centres commissioned before or after a day cannot be chosen
-- without commissioned_on (status commissioning_unknown); a figure no limit applies to is
-- no_limit; a figure without a value is no_data.

with

figures as (

    select * from {{ ref('rpt_energy_figures') }}
    where period_type = 'year'

),

limits as (

    select * from {{ ref('enefg_limits') }}

),

facility as (

    select * from {{ ref('stg_inventory__facility') }}

),

commissioning as (

    select min(commissioned_on) as commissioned_on from facility

),

figure_values as (

    select year, 'pue' as figure, pue as value from figures
    union all
    select year, 'erf', erf from figures
    union all
    select year, 'ref', ref from figures

),

candidates as (

    select
        figure_values.year,
        figure_values.figure,
        limits.limit_id,
        limits.comparison,
        limits.value as limit_value,
        coalesce(
            limits.in_force_from,
            cast(commissioning.commissioned_on + to_years(limits.years_after_commissioning) as date)
        ) as in_force_from,
        limits.legal_reference
    from figure_values
    cross join commissioning
    inner join limits
        on figure_values.figure = limits.figure
    where (limits.commissioned_from is null or commissioning.commissioned_on >= limits.commissioned_from)
      and (limits.commissioned_before is null or commissioning.commissioned_on < limits.commissioned_before)
      and (limits.in_force_from is not null or commissioning.commissioned_on is not null)

),

chosen as (

    select *
    from candidates
    qualify row_number() over (
        partition by year, figure
        order by
            case when in_force_from <= make_date(year, 12, 31) then 0 else 1 end,
            case when in_force_from <= make_date(year, 12, 31) then -epoch(in_force_from) else epoch(in_force_from) end
    ) = 1

),

dependent as (

    -- figures whose limits depend on the commissioning day
    select distinct figure
    from limits
    where commissioned_from is not null or commissioned_before is not null

),

final as (

    select
        cast(figure_values.year as varchar) || '|' || figure_values.figure as limit_key,
        cast(figure_values.year as integer) as year,
        figure_values.figure,
        figure_values.value,
        chosen.limit_id,
        chosen.comparison,
        chosen.limit_value,
        chosen.in_force_from,
        coalesce(chosen.in_force_from <= make_date(figure_values.year, 12, 31), false) as is_binding,
        chosen.legal_reference,
        commissioning.commissioned_on,
        case
            when chosen.limit_id is not null and figure_values.value is not null
                then case chosen.comparison
                    when 'max' then figure_values.value <= chosen.limit_value
                    else figure_values.value >= chosen.limit_value
                end
        end as is_met,
        case
            when chosen.limit_id is null and commissioning.commissioned_on is null
                 and figure_values.figure in (select figure from dependent)
                then 'commissioning_unknown'
            when chosen.limit_id is null then 'no_limit'
            when figure_values.value is null then 'no_data'
            when chosen.comparison = 'max' and figure_values.value <= chosen.limit_value then 'met'
            when chosen.comparison = 'min' and figure_values.value >= chosen.limit_value then 'met'
            else 'not_met'
        end as status
    from figure_values
    cross join commissioning
    left join chosen
        on figure_values.year = chosen.year
       and figure_values.figure = chosen.figure

)

select * from final
