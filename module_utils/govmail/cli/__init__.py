"""The ``govmail`` command line: one module per command group, ``main`` composing them.
Top layer: may import every other subpackage; nothing imports it."""
