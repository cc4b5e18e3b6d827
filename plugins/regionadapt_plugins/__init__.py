"""regionadapt's built-in plugins.

Each module here is an ordinary plugin, registered through its own entry point in the
``regionadapt`` group (see pyproject.toml), exactly as a third-party package would be.
"""
