"""Connector types: their fields and their jobs, one module per system."""
