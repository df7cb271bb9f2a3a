-- The CO2 factors in force for each calendar year of the calendar (and of the seeds): the
-- published factor of that year, else the latest published year before it (flagged
-- provisional: a year not yet published), else, for a year before every published one, the
-- earliest (also provisional). Location-based: UBA's German grid factor; market-based: AIB's
-- German residual mix.

with

calendar as (

    select * from {{ ref('int_calendar_days') }}

),

grid_factors as (

    select * from {{ ref('grid_emission_factors') }}

),

residual_factors as (

    select * from {{ ref('residual_mix_factor') }}

),

years as (

    select distinct year from calendar
    union
    select year from grid_factors
    union
    select year from residual_factors

),

grid_choice as (

    select
        years.year,
        grid_factors.year as factor_year,
        grid_factors.g_co2_per_kwh,
        grid_factors.source
    from years
    cross join grid_factors
    qualify row_number() over (
        partition by years.year
        order by case when grid_factors.year <= years.year then 0 else 1 end,
                 case when grid_factors.year <= years.year then -grid_factors.year else grid_factors.year end
    ) = 1

),

residual_choice as (

    select
        years.year,
        residual_factors.year as factor_year,
        residual_factors.g_co2_per_kwh,
        residual_factors.source
    from years
    cross join residual_factors
    qualify row_number() over (
        partition by years.year
        order by case when residual_factors.year <= years.year then 0 else 1 end,
                 case when residual_factors.year <= years.year then -residual_factors.year else residual_factors.year end
    ) = 1

),

final as (

    select
        cast(years.year as integer) as year,
        grid_choice.g_co2_per_kwh as grid_g_co2_per_kwh,
        cast(grid_choice.factor_year as integer) as grid_factor_year,
        grid_choice.factor_year <> years.year as is_grid_provisional,
        grid_choice.source as grid_source,
        residual_choice.g_co2_per_kwh as residual_g_co2_per_kwh,
        cast(residual_choice.factor_year as integer) as residual_factor_year,
        residual_choice.factor_year <> years.year as is_residual_provisional,
        residual_choice.source as residual_source
    from years
    left join grid_choice
        on years.year = grid_choice.year
    left join residual_choice
        on years.year = residual_choice.year

)

select * from final
