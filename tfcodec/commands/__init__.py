"""CLI subcommands, one module each (see tfcodec/cli.py)."""
