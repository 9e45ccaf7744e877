"""DER registry: registration, self-provisioning (screening against the network model),
lifecycle and audit. Pure domain and services; storage and the web sit behind ports."""
