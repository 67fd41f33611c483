"""The ``prizm`` command line."""
