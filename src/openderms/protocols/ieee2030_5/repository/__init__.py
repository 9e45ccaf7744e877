"""Queries of the 2030.5 server on the store's tables (``openderms.store.tables_2030_5``).
Each repository takes the store's engine; every write is one transaction."""
