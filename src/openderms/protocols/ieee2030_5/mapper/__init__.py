"""Domain values -> 2030.5 wire models (and the URIs the server serves them at)."""
