"""Backends: one module per engine, the only place its client is imported."""
