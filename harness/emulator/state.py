"""What the module remembers, typed per area, and what a power cycle keeps.

`ModuleState` is one power cycle of the module: one field per area, each a dataclass below. A
reset (AT+QRST=1, AT+CFUN=<fun>,1, RESET_N, VBAT off and on: frontend.ATEngine.reset_module,
control.py) builds a fresh one with `boot()`: `power_on()`, copying only the fields named in `SAVED`,
then the radio at its function level (kept with "cfun-kept", obs. fact 12);
everything else starts from its default, which is how 3.3.1 "The configuration will not be
saved" holds by construction. Before that, `power_off()` runs the hooks registered with
`@on_power_off` (an area that holds more than memory, e.g. open sockets, releases it there).

Add a state field: a field on the area's dataclass (or a new area dataclass and one
`ModuleState` field), its default cited from the note or marked DECIDED; add its name to
`SAVED` only if the module keeps it across a reset.

MQTT option defaults: the ones the note prints are cited; the ones whose underline the text
lost are decided here (DESIGN "Where the application note is unclear") and marked DECIDED.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from harness.emulator.mqtt_client import MqttClient
from harness.emulator.mqtt_types import ConnState
from harness.emulator.profiles import DEFAULT_FIRMWARE, Profile, get
from harness.mqtt.codec import Packet

log = logging.getLogger("harness.emulator")

CONNECT_IDS = range(5)  # 3.3.1-3.3.8 <TCP_connectID> "Range: 0–4"
POWER_OFF_HOOK_S = 5.0  # real seconds a power-off hook may take before the reset goes on


# --- general.py: the radio side ------------------------------------------------------------


@dataclass
class Network:
    """The radio side as hosts see it (AT+CFUN, AT+COPS, AT+CGATT, AT+CEREG, AT+QCGDEFCONT)."""

    cfun: int = 1  # kept across resets and power cycles with "cfun-kept" (obs. fact 12): boot() below
    attached: bool = True  # the host wants the module attached (AT+CGATT, AT+COPS=2 deregisters)
    searching: bool = False  # radio on and attach wanted, registration under way (general.set_radio)
    search_id: int = 0  # which search a registration task completes (a newer one supersedes it)
    sim_was_on: bool = True  # the SIM was powered in this power cycle (AT+CPIN? at CFUN=0, general.py)
    cereg_n: int = 0
    cops_mode: int = 0
    pdp_type: str = "IP"
    apn: str = ""
    # general_net.py (manual V1.4 chapters 4-7 and 12; none is saved across a reset here, see SAVED)
    cscon_n: int = 0  # AT+CSCON <n> (manual 4.6 example: `+CSCON: 0,0` on a fresh module)
    bands: tuple[int, ...] = ()  # AT+QBAND selection; () = every band (<band_number> 0)
    band_scan: int = 0  # AT+QBANDSCAN <scan_mode> (manual 7.14: 0 is the default strategy)
    ctzr: int = 0  # AT+CTZR <reporting>: DECIDED off
    contexts: dict[int, tuple[str, str]] = field(default_factory=dict)  # AT+CGDCONT cid 1-10: type, APN
    clock_offset_s: float = 0.0  # AT+CCLK write: the RTC minus UTC
    clock_zone: int | None = None  # AT+CCLK write: <zz>; None = the network's zone

    @property
    def stat(self) -> int:
        """27.007 +CEREG <stat>: 0 not registered and not searching (radio off or detached), 2 searching
        (after AT+CFUN=1 until the registration completes), 1 registered (home network)."""
        if self.cfun != 1 or not self.attached:
            return 0
        return 2 if self.searching else 1

    @property
    def registered(self) -> bool:
        return self.stat == 1

    def cell(self) -> str:
        """The 27.007 +CEREG location fields shown with <n> 2 and up while registered."""
        return ',"1A2B","0C0D0E0F",9' if self.cereg_n >= 2 and self.registered else ""


# --- general_power.py: PSM, eDRX and the sleep-related settings ----------------------------


@dataclass
class PowerSaving:
    """AT+CPSMS, AT+CEDRXS, AT+QNBIOTEVENT and AT+QCFG "dsevent"/"slplocktimes": stored and read
    back; sleep.py acts on AT+QNBIOTEVENT and "slplocktimes" (what PSM and eDRX do is not modelled)."""

    psm_mode: int = 1  # obs. fact 8: a fresh module answers `+CPSMS: 1,...`: PSM requested
    psm_tau: str = "01000001"  # obs. fact 8 (UD bench, fresh module): requested T3412, 10 hours
    psm_active: str = "00000101"  # obs. fact 8 (UD bench, fresh module): requested T3324, 10 s
    edrx_mode: int = 0  # obs. fact 9: eDRX off out of the box
    edrx_value: str = "0011"  # obs. fact 9: `+CEDRXS: 5,"0011"`, the factory value
    nbiot_event: int = 0  # AT+QNBIOTEVENT <enable> for event 1: DECIDED off (sleep.py reports with 1)
    ds_event: int = 0  # AT+QCFG="dsevent": DECIDED off
    slplocktimes: int = 10  # AT+QCFG="slplocktimes": manual 11.1.5 "Default value: 10" (obs. fact 21): sleep.py


# --- qmtcfg.py: AT+QMTCFG (3.3.1) ----------------------------------------------------------


@dataclass(frozen=True)
class AliAuth:
    product_key: str  # 3.3.1 "Maximum length: 64 bytes" (each of the three)
    device_name: str
    device_secret: str


@dataclass
class MqttConfig:
    """The optional MQTT parameters of one connect ID."""

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
    """The five connect IDs' options."""

    by_id: dict[int, MqttConfig] = field(default_factory=lambda: {i: MqttConfig() for i in CONNECT_IDS})

    def __getitem__(self, connect_id: int) -> MqttConfig:
        return self.by_id[connect_id]


# --- qmt_conn.py / qmt_pub.py: the network connections (3.3.2-3.3.8) ------------------------


@dataclass
class Link:
    """One connect ID from AT+QMTOPEN until the connection is closed or lost."""

    connect_id: int
    host: str
    port: int
    client: MqttClient
    opened: bool = False  # TCP established (+QMTOPEN: <id>,0 reported)
    in_flight: set[int] = field(default_factory=set)  # msgIDs awaiting their result


@dataclass
class Links:
    """The connect IDs with a network connection, opening or open."""

    by_id: dict[int, Link] = field(default_factory=dict)
    # Per connect ID and client ID, the MQTT client's session state that outlives one connection
    # (MqttClient `session`: unacknowledged PUBLISH/PUBREL by packet id, identified by the client
    # ID as MQTT 3.1.2.4 says); gone with a reset, like the rest.
    sessions: dict[int, dict[str, dict[int, Packet]]] = field(default_factory=dict)

    def opened(self) -> list[Link]:
        """The open connections in connect ID order (the read forms of 3.3.2 / 3.3.4)."""
        return [self.by_id[cid] for cid in sorted(self.by_id) if self.by_id[cid].opened]

    def is_open(self, connect_id: int) -> bool:
        """Connect ID with an open network connection (3.3.1 NOTE 6 refuses some settings then)."""
        link = self.by_id.get(connect_id)
        return link is not None and link.opened

    def connected(self, connect_id: int) -> Link | None:
        link = self.by_id.get(connect_id)
        if link is None or not link.opened or link.client.state is not ConnState.CONNECTED:
            return None
        return link

    def drop(self, link: Link) -> None:
        """Forget `link` (only if it is still the current one for its connect ID)."""
        if self.by_id.get(link.connect_id) is link:
            del self.by_id[link.connect_id]

    async def close_all(self) -> None:
        """Every socket closes, without DISCONNECT (power-off; the broker publishes the will)."""
        links = list(self.by_id.values())
        self.by_id.clear()
        await asyncio.gather(*(link.client.close() for link in links), return_exceptions=True)


# --- qsslcfg.py: AT+QSSLCFG, SSL context 0,0 -----------------------------------------------


@dataclass
class SslSettings:
    """The items of SSL context 0,0 that a reset returns to their defaults (qsslcfg.py decides them)."""

    seclevel: int = 0
    sslversion: int = 4
    send_format: int = 0
    recv_format: int = 0
    timeout: int = 90  # module seconds for the TLS handshake (SSL note: 10-300, default 90)
    debug: int = 0


@dataclass
class SslCertificates:
    """cacert / clientcert / clientkey as the host sent them (PEM bytes); saved (`SAVED`)."""

    pem: dict[str, bytes] = field(default_factory=dict)

    def __repr__(self) -> str:  # never the content: clientkey is a secret
        return f"SslCertificates({', '.join(f'{k}={len(v)} bytes' for k, v in self.pem.items())})"


# --- the module --------------------------------------------------------------------------


def _default_profile() -> Profile:
    return get(DEFAULT_FIRMWARE)


@dataclass
class ModuleState:
    """Everything one power cycle of the module remembers. Handlers read it as `ctx.module`
    and must not keep it across an await: a reset swaps it."""

    profile: Profile = field(default_factory=_default_profile)  # --firmware (profiles.py)
    time_scale: float = 1.0  # real seconds per module second (DESIGN "Time")
    imei: str = ""  # --imei; "" answers general.DEFAULT_IMEI
    # the UART: front end and general.py
    echo: bool = True  # ATE (DESIGN "Module facts": on by default, saved across reset; see SAVED)
    cmee: int = 0  # AT+CMEE: 0 plain ERROR, 1 numeric, 2 verbose
    sleep_mode: int = 0  # AT+QSCLK (not saved)
    network: Network = field(default_factory=Network)
    power: PowerSaving = field(default_factory=PowerSaving)
    mqtt: MqttConfigs = field(default_factory=MqttConfigs)
    links: Links = field(default_factory=Links)
    ssl: SslSettings = field(default_factory=SslSettings)
    certs: SslCertificates = field(default_factory=SslCertificates)

    def scaled(self, module_seconds: float) -> float:
        """Real seconds for a module timer (DESIGN "Time")."""
        return module_seconds * self.time_scale


SAVED: tuple[str, ...] = ("echo", "certs")
"""The `ModuleState` fields a reset or power cycle keeps whole (non-volatile memory, DESIGN "Module
facts": the echo setting and the AT+QSSLCFG certificates). They do not outlive the emulator
process itself. A firmware that keeps the radio's function level (obs. fact 12) keeps it as a
setting the boot acts on: `boot()`.

Echo, judged against obs. fact 15 (issue 13): UD and ZE say echo is on after every power-on and
send ATE0 each time, and the MB-T capture only shows ATE0 lasting while the module runs; that
leans towards echo NOT being saved, against DESIGN "Module facts" (saved). Kept saved here until
DESIGN is settled: the harness's known state sends ATE0 after every reset either way."""


def power_on(profile: Profile, time_scale: float, imei: str, saved: ModuleState | None = None) -> ModuleState:
    """A module just booted: defaults everywhere (the firmware's MQTT option defaults, which a
    faulty profile may change), the `SAVED` fields of the previous power cycle `saved`."""
    module = ModuleState(profile=profile, time_scale=time_scale, imei=imei)
    if saved is not None:
        for name in SAVED:
            setattr(module, name, getattr(saved, name))
    for cfg in module.mqtt.by_id.values():
        for name, value in profile.mqtt_defaults.items():
            setattr(cfg, name, value)
    return module


def boot(profile: Profile, time_scale: float, imei: str, previous: ModuleState | None = None) -> ModuleState:
    """The module coming out of a reset or power-on: `power_on()`, then the radio at its function
    level. At AT+CFUN=1 it boots registered, whatever the profile's boot time: DECIDED, the search
    (general.set_radio, about 5 s, UD) runs while it boots (about 10 s, obs. fact 16), and nothing
    reports it (the UART starts with RDY, AT+CEREG <n> is 0).

    With the "cfun-kept" switch the level is the one the previous power cycle left: obs. fact 12,
    "The module keeps CFUN across restarts" (UD), and after power-up `AT+CPIN?` gave
    `+CME ERROR: ue not power on` until `AT+CFUN=1` (CF): a module left at AT+CFUN=0 boots with the
    radio off, detached, the SIM not powered in this power cycle. DECIDED for now: without the
    switch (the conformant firmware; the note says nothing) every boot is at AT+CFUN=1, as the
    emulator always did, because the harness's own tests start each case with a bare AT+QRST=1
    (tests/emulated.py fresh_module) and would inherit a radio a previous case turned off."""
    module = power_on(profile, time_scale, imei, saved=previous)
    if previous is not None and profile.has("cfun-kept") and previous.network.cfun != 1:
        module.network = Network(cfun=previous.network.cfun, attached=False, sim_was_on=False)
    return module


PowerOffHook = Callable[[ModuleState], Awaitable[None]]
POWER_OFF_HOOKS: list[PowerOffHook] = []


def on_power_off(hook: PowerOffHook) -> PowerOffHook:
    """Register `hook` to run at every power-off/reset, after the module's background work stopped."""
    POWER_OFF_HOOKS.append(hook)
    return hook


async def power_off(module: ModuleState) -> None:
    """Run every power-off hook; a failing one is logged and the others still run."""
    for hook in POWER_OFF_HOOKS:
        try:
            await asyncio.wait_for(hook(module), POWER_OFF_HOOK_S)
        except Exception as exc:  # a faulty area must not stop the reset
            log.error("power-off hook %s failed: %r", hook.__qualname__, exc)


@on_power_off
async def close_links(module: ModuleState) -> None:
    await module.links.close_all()
