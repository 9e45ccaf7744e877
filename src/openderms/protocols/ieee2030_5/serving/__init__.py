"""How the 2030.5 app is served and learns who its client is.

Direct TLS (``server``): uvicorn with ``ClientCertHttpToolsProtocol``, a subclass of its
httptools protocol that reads the peer certificate once per TLS connection, when the
handshake completes, and puts the resolved ``ClientIdentity`` into the scope of every request
on that connection. No certificate is parsed per request. ``server.run`` serves one process
or, with ``workers=N``, N processes on one socket, each building the app from the import-string
factory ``factory:app_from_env`` (the store URL in the environment).

Behind a TLS-terminating proxy (``proxy``): ``ForwardedClientCertMiddleware`` believes the
``x-forwarded-client-cert`` header (envoy's format: ``Hash=...;Cert="..."``) only from
configured proxy addresses, and caches what each header value resolves to.

``readings_xml``: the fast reader of the commonest request body (telemetry).
"""
