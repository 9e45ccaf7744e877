"""The web edge: REST API (``/api/v1``), the installer/operator portal and the app factory.

Layered the envoy way: ``api/`` and ``portal/`` hold thin routers, which call the registry
service; ``mapper/`` turns domain records into wire models (``schema/``) and back; ``errors``
maps every ``openderms.errors`` class once to an RFC 7807 problem (or an HTML page for the
portal). Each resource keeps its file name in every layer (``api/ders.py``,
``mapper/ders.py``, ``schema/ders.py``, ``portal/ders.py``).
"""
