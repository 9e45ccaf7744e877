"""The DER fleet simulator: simulated inverters (and aggregators managing many EndDevices)
acting as real IEEE 2030.5 clients over CSIP TLS, never reaching into the server.

``agent.DerAgent``      one DER: discover, poll at pollRate, apply controls, post telemetry
                        every postRate and Responses (received / started / completed)
``behaviour``           how it reacts: delay, partial delivery, ignoring, communication loss
``fleet``               many agents in one asyncio process: TLS clients, PV availability from
                        the twin's 15-min profiles, bounded concurrency
"""
