{# Helpers for the incremental usage models.

   Watermarks are read from the model's own rows: lineage columns holding the ingest_id of
   the job version and contract delivery each row was computed from. Rows are therefore the
   same whether built by a full refresh or incrementally. #}

{# Highest value of `column` stored in the model (-1 when empty). #}
{% macro stored_watermark(column) -%}
    (select coalesce(max({{ column }}), -1) from {{ this }})
{%- endmacro %}

{# True unless a and b are equal within `tol` or both null (floats summed in a different
   order may differ in the last bits). #}
{% macro differs(a, b, tol=1e-9) -%}
    (not coalesce(abs(({{ a }}) - ({{ b }})) <= {{ tol }}, ({{ a }}) is null and ({{ b }}) is null))
{%- endmacro %}

{# Pre-hook for job-keyed models: a job whose latest version reads as never started has no
   rows in the new batch, so delete+insert alone would keep its old rows. #}
{% macro delete_jobs_without_usage() -%}
    {% if is_incremental() %}
    delete from {{ this }}
    where job_key in (
        select job_key from {{ ref('int_jobs_resolved') }} where start_at is null
    )
    {% endif %}
{%- endmacro %}

{# First local day that int_job_days_accounted must recompute, as a date, from what changed
   since its rows were stored:
   - job versions ingested after the stored job watermark: every local day from the earliest
     start of any delivered version of those jobs (old days must go, new ones come);
   - contract terms that differ from the stored ones for a job (another version or contract,
     a changed price, partner or usage area: an amendment, a back-dated contract, a
     corrected delivery): the days of the affected jobs;
   - job energy per job and day, or a day's PUE or renewable share, that differs from the
     stored values (late power samples, corrected meter exports);
   - busy GPU-hours per job and day (int_job_gpu_use_daily) that differ from the stored ones
     (late GPU samples);
   each found by comparing what is stored with what is upstream now, so nothing before the
   first changed day can differ. Returns none for a full build (or while parsing), 'unchanged'
   when nothing changed. #}
{% macro usage_recompute_from() %}
    {% if not execute or not is_incremental() %}
        {{ return(none) }}
    {% endif %}
    {% set query %}
        with
        stored as (select * from {{ this }}),
        job_watermark as (
            select coalesce(max(job_ingest_id), -1) as w from stored
        ),
        changed_jobs as (
            select distinct job_key
            from {{ ref('stg_slurm__jobs') }}
            where not is_step and ingest_id > (select w from job_watermark)
        ),
        job_changes as (
            select min({{ local_date('start_at') }}) as d
            from {{ ref('stg_slurm__jobs') }}
            where not is_step
              and start_at is not null
              and job_key in (select job_key from changed_jobs)
        ),
        contract_changes as (
            select min(stored.day) as d
            from stored
            inner join {{ ref('int_jobs_contracted') }} as contracted
                on stored.job_key = contracted.job_key
            where stored.contract_version_key is distinct from contracted.contract_version_key
               or stored.partner_id is distinct from contracted.partner_id
               or stored.partner_type is distinct from contracted.partner_type
               or stored.is_company is distinct from contracted.is_company
               or stored.usage_area is distinct from contracted.usage_area
               or stored.price_eur_per_gpu_hour is distinct from contracted.price_eur_per_gpu_hour
               or stored.is_economic_use is distinct from contracted.is_economic_use
        ),
        started as (
            select job_key from {{ ref('int_jobs_resolved') }} where start_at is not null
        ),
        upstream_energy as (
            select * from {{ ref('int_job_energy_daily') }}
            where job_key in (select job_key from started)
        ),
        stored_energy as (
            select * from stored where has_energy_row
        ),
        energy_changes as (
            select min(coalesce(upstream_energy.day, stored_energy.day)) as d
            from upstream_energy
            full outer join stored_energy
                on upstream_energy.job_key = stored_energy.job_key
               and upstream_energy.day = stored_energy.day
            where upstream_energy.job_key is null
               or stored_energy.job_key is null
               or {{ differs('upstream_energy.it_energy_kwh', 'stored_energy.it_energy_kwh') }}
               or {{ differs('upstream_energy.measured_kwh', 'stored_energy.measured_kwh') }}
               or {{ differs('upstream_energy.interpolated_kwh', 'stored_energy.interpolated_kwh') }}
               or {{ differs('upstream_energy.estimated_kwh', 'stored_energy.estimated_kwh') }}
               or {{ differs('upstream_energy.coverage', 'stored_energy.energy_coverage') }}
        ),
        upstream_gpu as (
            select * from {{ ref('int_job_gpu_use_daily') }}
            where job_key in (select job_key from started)
        ),
        stored_gpu as (
            select * from stored where gpu_use_source is not null
        ),
        gpu_changes as (
            select min(coalesce(upstream_gpu.day, stored_gpu.day)) as d
            from upstream_gpu
            full outer join stored_gpu
                on upstream_gpu.job_key = stored_gpu.job_key
               and upstream_gpu.day = stored_gpu.day
            where upstream_gpu.job_key is null
               or stored_gpu.job_key is null
               or {{ differs('upstream_gpu.busy_gpu_hours', 'stored_gpu.busy_gpu_hours') }}
               or upstream_gpu.gpu_use_source is distinct from stored_gpu.gpu_use_source
        ),
        stored_days as (
            select day, min(pue) as pue, min(renewable_share) as renewable_share
            from stored
            group by day
        ),
        facility_changes as (
            select min(stored_days.day) as d
            from stored_days
            left join {{ ref('fct_energy_daily') }} as energy_daily
                on stored_days.day = energy_daily.day
            where {{ differs('energy_daily.pue', 'stored_days.pue') }}
               or {{ differs(renewable_share_expr('energy_daily'), 'stored_days.renewable_share') }}
        ),
        all_changes as (
            select d from job_changes
            union all select d from contract_changes
            union all select d from energy_changes
            union all select d from facility_changes
            union all select d from gpu_changes
        )
        select cast(min(d) as varchar) from all_changes
    {% endset %}
    {% set first = run_query(query).rows[0][0] %}
    {% if first is none %}
        {{ return('unchanged') }}
    {% endif %}
    {{ return(modules.datetime.date.fromisoformat(first)) }}
{% endmacro %}

{# Renewable share of a day's grid intake (0..1) from fct_energy_daily columns of `rel`. #}
{% macro renewable_share_expr(rel) -%}
    case
        when {{ rel }}.grid_kwh > 0
            then least(1.0, greatest(0.0, coalesce({{ rel }}.renewable_kwh, 0) / {{ rel }}.grid_kwh))
        else 0.0
    end
{%- endmacro %}

{# SQL predicate on `day_column` selecting the days to recompute (see usage_recompute_from). #}
{% macro usage_recompute_filter(recompute_from, day_column) -%}
    {%- if recompute_from is none -%}
        true
    {%- elif recompute_from == 'unchanged' -%}
        false
    {%- else -%}
        {{ day_column }} >= date '{{ recompute_from.isoformat() }}'
    {%- endif -%}
{%- endmacro %}

{# Pre-hook for day-keyed models using usage_recompute_from: remove every stored day from the
   first recomputed one on, so that a day left without any row after the change (a job moved
   or shortened) does not keep stale rows. #}
{% macro delete_recomputed_days() -%}
    {% set recompute_from = usage_recompute_from() %}
    {% if recompute_from is not none and recompute_from != 'unchanged' %}
    delete from {{ this }} where day >= date '{{ recompute_from.isoformat() }}'
    {% endif %}
{%- endmacro %}

{# Pre-hook for day-keyed marts built from int_job_days_accounted: a day that has no usage row
   any more has no rows in the new batch either, so delete+insert alone would keep it. #}
{% macro delete_days_without_usage() -%}
    {% if is_incremental() %}
    delete from {{ this }}
    where day not in (select distinct day from {{ ref('int_job_days_accounted') }})
    {% endif %}
{%- endmacro %}
