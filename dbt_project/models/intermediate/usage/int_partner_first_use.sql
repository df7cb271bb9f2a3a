-- The first local day each partner used the centre, per usage area and over all areas
-- ('all'). Operations accounts are not partners' use. One definition for the "new partner"
-- figures of the KPIs and the reports.

with

job_days as (

    select * from {{ ref('int_job_days_accounted') }}

),

partner_days as (

    select partner_id, usage_area, day
    from job_days
    where partner_id is not null and usage_area <> 'operations'

),

final as (

    select partner_id || '|' || usage_area as partner_area_key, partner_id, usage_area, min(day) as first_day
    from partner_days
    group by partner_id, usage_area
    union all
    select partner_id || '|all', partner_id, 'all', min(day)
    from partner_days
    group by partner_id

)

select * from final
