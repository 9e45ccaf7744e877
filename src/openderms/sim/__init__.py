"""The simulator: a digital-twin substation and, later, a DER fleet that talks to the server.

``openderms.sim.twin`` generates a realistic, seeded US distribution substation (network,
customers, DER fleet and design-day profiles). The simulator sits at the edge of the
architecture: it acts as external devices through the real protocols and never reaches into
the server.
"""
