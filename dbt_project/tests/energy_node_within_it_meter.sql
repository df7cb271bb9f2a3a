-- Attributed node energy never exceeds the IT meter on a day the IT meters cover wholly
-- (the IT meter also feeds network and storage). Days without IT meter data are not
-- checked; partly covered days are checked by energy_node_within_it_meter_partial (warn).

select
    day,
    node_kwh,
    it_kwh,
    it_coverage
from {{ ref('fct_energy_daily') }}
where it_kwh is not null
  and it_coverage >= 0.9999
  and {{ conservation_exceeds('node_kwh', 'it_kwh') }}
