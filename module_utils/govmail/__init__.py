"""govmail: official e-mail accounts as code (the engine shared by the CLI, filters and modules)."""

__version__ = "0.1.0"
