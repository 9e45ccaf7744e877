"""Protocol adapters at the edge: ``ieee2030_5`` (CSIP server for aggregators and inverters)."""
