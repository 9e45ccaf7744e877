"""The fleet tests reuse the 2030.5 server fixtures: a real CSIP TLS server on loopback
and a test PKI (keys made at run time)."""

from tests.protocols.ieee2030_5.conftest import pki, running, sep_schema

__all__ = ["pki", "running", "sep_schema"]
