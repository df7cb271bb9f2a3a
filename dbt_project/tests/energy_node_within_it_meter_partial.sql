{{ config(severity='warn') }}

-- On days the IT meters cover only partly, node energy above the metered IT energy may be
-- the uncovered hours, or a real inconsistency: a warning for an operator to look at.

select
    day,
    node_kwh,
    it_kwh,
    it_coverage
from {{ ref('fct_energy_daily') }}
where it_kwh is not null
  and it_coverage > 0
  and it_coverage < 0.9999
  and {{ conservation_exceeds('node_kwh', 'it_kwh') }}
