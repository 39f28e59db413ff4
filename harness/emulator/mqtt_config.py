"""Per-connect-ID MQTT options of AT+QMTCFG (3.3.1), as the emulator stores them.

Defaults the note prints are cited; defaults whose underline the text lost are decided
here (DESIGN.md "Where the application note is unclear") and marked DECIDED.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CONNECT_IDS = range(5)  # 3.3.1 <TCP_connectID> "Range: 0–4"


@dataclass(frozen=True)
class AliAuth:
    product_key: str  # 3.3.1 "Maximum length: 64 bytes" (each of the three)
    device_name: str
    device_secret: str


@dataclass
class MqttConfig:
    will_fg: int = 0  # DECIDED: no will until configured
    will_qos: int = 0
    will_retain: int = 0
    will_topic: str = ""
    will_msg: str = ""
    pkt_timeout: int = 30  # 3.3.1 "Default value: 30"
    retry_times: int = 0  # 3.3.1 "Default value: 0"
    timeout_notice: int = 0  # DECIDED
    clean_session: int = 1  # DECIDED
    keepalive: int = 120  # 3.3.1 "Default value: 120"
    aliauth: AliAuth | None = None
    version: int = 1  # DECIDED: 1 = MQTT 3.1.1
    show_recv_len: int = 0  # DECIDED
    echo_mode: int = 0  # DECIDED
    send_format: int = 0  # DECIDED: text
    recv_format: int = 0  # DECIDED: text
    ssl_enable: int = 0  # DECIDED
    ssl_ctx: int = 0  # 3.3.1 <SSL_contextID> "Default value: 0"
    ssl_conn: int = 0  # 3.3.1 <SSL_connectID> "Default value: 0"


@dataclass
class MqttConfigs:
    """The five connect IDs' options; lives in ModuleState.ext["qmtcfg"]."""

    by_id: dict[int, MqttConfig] = field(default_factory=lambda: {i: MqttConfig() for i in CONNECT_IDS})

    def __getitem__(self, connect_id: int) -> MqttConfig:
        return self.by_id[connect_id]


def configs(module_ext: dict[str, object]) -> MqttConfigs:
    """The module's MQTT options, created on first use (after power-on they are defaults)."""
    cfg = module_ext.get("qmtcfg")
    if not isinstance(cfg, MqttConfigs):
        cfg = MqttConfigs()
        module_ext["qmtcfg"] = cfg
    return cfg
