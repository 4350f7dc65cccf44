"""Benchmarks for the budgets in design.md ("Budgets to measure"): `python -m tests.bench`.

They report figures (a table, and the same figures in .bench/results.json); they never fail a
test run. Nothing here is collected by pytest: there are no test_* modules in this package.
"""
