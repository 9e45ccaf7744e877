"""The URIs of the server's resources, in one place."""

from __future__ import annotations

from datetime import datetime

DCAP = "/dcap"
TIME = "/tm"
EDEV = "/edev"
DERP = "/derp"


def epoch_s(at: datetime) -> int:
    """2030.5 TimeType: whole seconds since 1970-01-01 UTC."""
    return int(at.timestamp())


def edev(end_device_id: int) -> str:
    return f"{EDEV}/{end_device_id}"


def registration(end_device_id: int) -> str:
    return f"{edev(end_device_id)}/rg"


def connection_point(end_device_id: int) -> str:
    """CSIP-AUS ConnectionPoint of an EndDevice."""
    return f"{edev(end_device_id)}/cp"


def fsa_list(end_device_id: int) -> str:
    return f"{edev(end_device_id)}/fsa"


def fsa(end_device_id: int, fsa_id: int) -> str:
    return f"{fsa_list(end_device_id)}/{fsa_id}"


def fsa_programs(end_device_id: int, fsa_id: int) -> str:
    return f"{fsa(end_device_id, fsa_id)}/derp"


def der_list(end_device_id: int) -> str:
    return f"{edev(end_device_id)}/der"


def der(end_device_id: int, der_index: int) -> str:
    return f"{der_list(end_device_id)}/{der_index}"


def program(program_id: int) -> str:
    return f"{DERP}/{program_id}"


def controls(program_id: int) -> str:
    return f"{program(program_id)}/derc"


def control(program_id: int, control_id: int) -> str:
    return f"{controls(program_id)}/{control_id}"


def active_controls(program_id: int) -> str:
    return f"{program(program_id)}/actderc"


def default_control(program_id: int) -> str:
    return f"{program(program_id)}/dderc"


def curves(program_id: int) -> str:
    return f"{program(program_id)}/dc"


def curve(program_id: int, curve_id: int) -> str:
    return f"{curves(program_id)}/{curve_id}"


MUP = "/mup"


def mup(mup_id: int) -> str:
    return f"{MUP}/{mup_id}"


def mmr(mup_id: int, mmr_id: int) -> str:
    return f"{mup(mup_id)}/mr/{mmr_id}"


RSPS = "/rsps"
#: the one ResponseSet, of DERControl responses
DER_RESPONSE_SET_ID = 1


def response_set(set_id: int = DER_RESPONSE_SET_ID) -> str:
    return f"{RSPS}/{set_id}"


def responses(set_id: int = DER_RESPONSE_SET_ID) -> str:
    return f"{response_set(set_id)}/rsp"


def response(response_id: int, set_id: int = DER_RESPONSE_SET_ID) -> str:
    return f"{responses(set_id)}/{response_id}"


def log_events(end_device_id: int) -> str:
    return f"{edev(end_device_id)}/lel"


def log_event(end_device_id: int, log_event_id: int) -> str:
    return f"{log_events(end_device_id)}/{log_event_id}"


def subscriptions(end_device_id: int) -> str:
    return f"{edev(end_device_id)}/sub"


def subscription(end_device_id: int, subscription_id: int) -> str:
    return f"{subscriptions(end_device_id)}/{subscription_id}"
