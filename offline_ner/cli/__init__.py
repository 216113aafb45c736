"""Command-line interface: a thin click layer, one module per stage, over the library API."""
