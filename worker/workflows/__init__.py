"""Workflows shipped with the worker; the config refers to one as `worker.workflows.<module>:run`.

- `matching`: 24/7 matching of renewable generation against consumption, hour by hour.
- `cfe`: 24/7 carbon-free energy matching of EnergyTag-shaped certificate data by market zone
  and priority tiers, with sparse allocations and CFE scores.
"""
