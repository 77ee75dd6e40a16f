"""Built-in program plugins, each written against core's public API only."""
