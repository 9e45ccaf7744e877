"""pydantic-xml models of the IEEE 2030.5 types the server speaks (namespace
``urn:ieee:std:2030.5:ns``). Fields follow the order of the sep.xsd sequences exactly (base
type first, then the extension), because the schema enforces element order; names are the
spec's, in snake case, with the XML name given where it differs.

One module per function set, as in the api, manager, repository and mapper layers."""
