"""The IEEE 2030.5 (CSIP) server: aggregators and smart inverters connect with a client
certificate, find their programs and controls, and report their DER.

Layers, with the same file name per function set in each (``dcap``, ``edev``, ``fsa``,
``derp``, ``der``, ``metering``, ``response``, ``log``, ``pubsub``)::

    api/         Starlette routers: parse, ask a manager, map, respond application/sep+xml
    manager/     logic: who may see what, event status, paging, read caches, internal API
    repository/  SQL on the store's tables (openderms.store.tables_2030_5)
    mapper/      domain values -> wire models; links.py holds every URI
    schema/      pydantic-xml models of sep.xsd (element order as the schema's sequences)
    security/    LFDI / SFDI, a small CA for tests and the twin, CSIP TLS contexts
    serving/     identity from the TLS connection (uvicorn) or a trusted proxy's header

Entry points: ``services.build_services(engine)`` (the managers, and the internal API other
code calls, e.g. ``services.programs.create_control(...)``), ``app.create_2030_5_app(services)``
and ``serving.server.tls_config(app, tls_files)`` to run it with uvicorn; ``services.close()``
writes queued telemetry and stops the notification dispatcher.

Internal reads for the control loop: ``services.metering.latest(end_device_id)`` /
``latest_of_der(der_id)`` (newest telemetry per MirrorMeterReading, from memory) and
``services.responses.of_control(mrid)`` (each EndDevice's Responses to a DERControl).
"""
