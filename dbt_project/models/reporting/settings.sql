-- The business constants of dbt_project.yml as the run saw them (after kirz.toml overrides),
-- one row each, so that the published snapshot says which thresholds its figures used and the
-- report code reads them instead of keeping a copy. Values are JSON text.

{{ config(schema='ref', alias='settings') }}

{%- set published = [
    'timezone', 'company_partner_types', 'deminimis_ceiling_eur',
    'deminimis_window_years', 'warn_share', 'economic_use_allowance_share', 'min_group_size',
    'burn_rate_days', 'vat_rate', 'design_it_power_kw', 'floor_area_m2', 'power_fallback_interval_s',
    'energy_estimate_load_factor', 'conservation_tolerance', 'meter_gap_intervals',
] %}

with

settings as (

    {%- for name in published %}
    select
        '{{ name }}' as setting,
        '{{ tojson(var(name)) | replace("'", "''") }}' as value
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

final as (

    select * from settings

)

select * from final
