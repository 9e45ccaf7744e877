"""Alembic migrations of the registry store (run by ``openderms.store.migrate``)."""
