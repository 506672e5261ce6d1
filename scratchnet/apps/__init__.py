"""The applications behind the demos and the CLI, importable from Python."""
