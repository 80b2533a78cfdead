"""Monitoring: drift tests and data quality of current data against a reference.

Layer 3 (``ws.monitoring``). The tests are vectorised over blocks of columns with NumPy and SciPy;
the default choice of test follows Evidently's rule exactly (see :mod:`slipway.monitoring.choice`).
"""
