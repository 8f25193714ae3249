"""The account model: names, Article 5 addresses, the unit files (YAML, schemas, rules, tree), edits, writer.
Bottom layer: imports only the standard library and third-party packages, never another govmail subpackage."""
