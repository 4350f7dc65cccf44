"""Chalice Blueprints, one module per trigger family. Shipped through vendor/functions."""
