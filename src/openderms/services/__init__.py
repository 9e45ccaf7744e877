"""Use cases: the core combined with ports and adapters."""
