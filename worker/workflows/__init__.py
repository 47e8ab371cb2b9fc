"""Workflows shipped with the worker; the config refers to one as `worker.workflows.<module>:run`.

- `matching`: 24/7 matching of renewable generation against consumption, hour by hour.
"""
