"""The 2030.5 server's logic: who may see what, event status, paging, and the internal API
other parts of openderms call (create controls, map devices to aggregators and programs)."""
