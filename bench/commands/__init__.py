"""CLI subcommands of stbench, one module each."""
