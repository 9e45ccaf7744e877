"""Security of the 2030.5 edge: device identities (LFDI, SFDI), a small CA for tests and the
twin, and the CSIP TLS contexts."""
