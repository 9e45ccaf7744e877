"""The live run: ``openderms run`` after its report, on the embedded default, in one asyncio
process (issue 4 "make run", issue 5 item 9).

``stack``      ``LiveStack.start(twin, LiveOptions(...))``: SQLite in the workspace, the
               in-process bus, the 2030.5 server over CSIP TLS and the REST API on 127.0.0.1,
               the twin's DER in the registry mapped to EndDevices and programs
               (``services.der_2030_5``), the fleet, the plant and the control loop
``pki``        the CA and certificates it makes in the workspace
``fleet``      the twin's DER as registry records and as simulated 2030.5 devices
``telemetry``  2030.5 readings published as the control loop's telemetry messages
``plant``      the true AC power flow of what the devices do; SCADA on the bus; the field
               crew that carries out planned switching orders
``switching``  the REST API's switch commands and planned orders onto the bus
``scenario``   the scripted scenario ``make run`` ends with
``status``     what the screen shows; ``console`` shows it and drives the run
``client``     ``live.json`` and the REST calls of ``openderms grid switch --live``
``servers``    uvicorn servers as tasks of the running loop

Powers in kW (W at the 2030.5 edge), generator convention for DER (positive = export).
"""
