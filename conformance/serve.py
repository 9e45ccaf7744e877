"""Serve a fresh 2030.5 server for one cactus-client run (run with the project's venv).

    python conformance/serve.py DIR

Makes (once) a test CA, a server certificate for 127.0.0.1 and client certificates (two
devices and an aggregator) in DIR; starts the 2030.5 server over CSIP TLS and its admin API
(plain HTTP, token) on free loopback ports with a new SQLite store; writes DIR/.cactus.yaml
and DIR/admin.env (OPENDERMS_ADMIN_URL, OPENDERMS_ADMIN_TOKEN); serves until SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import ssl
import sys
from pathlib import Path

import uvicorn
from cryptography import x509

from openderms.protocols.ieee2030_5.api.admin import create_admin_app
from openderms.protocols.ieee2030_5.app import create_2030_5_app
from openderms.protocols.ieee2030_5.security.ca import CertificateAuthority
from openderms.protocols.ieee2030_5.security.identity import ClientIdentity, lfdi_from_cert
from openderms.protocols.ieee2030_5.services import build_services
from openderms.protocols.ieee2030_5.serving.server import TlsFiles, tls_config
from openderms.store import open_store

PEN = 12345
PIN = 111115
CLIENTS = (("device", "device"), ("device2", "device"), ("aggregator", "aggregator"))


def make_pki(folder: Path) -> None:
    if (folder / "ca.crt").exists():
        return
    ca = CertificateAuthority.create("openderms conformance CA")
    (folder / "ca.crt").write_bytes(ca.root.cert_pem)
    ca.issue_server(["127.0.0.1", "localhost"]).write(folder, "server")
    for name, _ in CLIENTS:
        ca.issue_client(f"openderms-{name}").write(folder, name)


def cactus_yaml(folder: Path, port: int) -> str:
    out = folder / "output"
    out.mkdir(exist_ok=True)
    config = {
        "output_dir": str(out),
        "server": {
            "device_capability_uri": f"https://127.0.0.1:{port}/dcap",
            "verify_ssl": True,
            "verify_host_name": True,
            "serca_pem_file": str(folder / "ca.crt"),
            "pen": PEN,
            "notification_uri": os.environ.get("CACTUS_NOTIFICATION_URI"),
            "notification_admin_uri": os.environ.get("CACTUS_NOTIFICATION_ADMIN_URI"),
        },
        "clients": [],
    }
    for name, kind in CLIENTS:
        cert = x509.load_pem_x509_certificate((folder / f"{name}.crt").read_bytes())
        identity = ClientIdentity.from_lfdi(lfdi_from_cert(cert))
        if kind == "aggregator":  # the DER it registers, not its own (virtual) EndDevice
            identity = ClientIdentity.from_lfdi("%040x" % (int(identity.lfdi, 16) ^ 1))
        config["clients"].append(  # type: ignore[attr-defined]
            {
                "id": name,
                "type": kind,
                "certificate_file": str(folder / f"{name}.crt"),
                "key_file": str(folder / f"{name}.key"),
                "lfdi": identity.lfdi.upper(),
                "sfdi": identity.sfdi,
                "pen": PEN,
                "pin": PIN,
                "max_watts": 5000,
            }
        )
    return json.dumps(config, indent=2)  # JSON is YAML


async def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    make_pki(folder)
    db = folder / "sep.db"
    for stale in folder.glob("sep.db*"):
        stale.unlink()
    store = open_store(f"sqlite:///{db}")
    notify_tls = ssl.create_default_context(cafile=folder / "ca.crt")
    services = build_services(store.engine, pen=PEN, notify_tls=notify_tls)
    token = secrets.token_hex(16)
    tls = TlsFiles(
        cert=folder / "server.crt", key=folder / "server.key", client_ca=folder / "ca.crt"
    )
    sep = uvicorn.Server(
        tls_config(create_2030_5_app(services), tls, host="127.0.0.1", port=0, log_level="warning")
    )
    admin = uvicorn.Server(
        uvicorn.Config(
            create_admin_app(services, token),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
    )
    tasks = [asyncio.create_task(s.serve()) for s in (sep, admin)]
    while not (sep.started and admin.started):
        if any(t.done() for t in tasks):
            raise SystemExit("the servers did not start")
        await asyncio.sleep(0.02)
    sep_port = sep.servers[0].sockets[0].getsockname()[1]
    admin_port = admin.servers[0].sockets[0].getsockname()[1]
    (folder / ".cactus.yaml").write_text(cactus_yaml(folder, sep_port))
    (folder / "admin.env").write_text(
        f"OPENDERMS_ADMIN_URL=http://127.0.0.1:{admin_port}\nOPENDERMS_ADMIN_TOKEN={token}\n"
    )
    (folder / "ready").write_text(str(sep_port))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    sep.should_exit = admin.should_exit = True
    await asyncio.gather(*tasks)
    services.close()
    store.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
