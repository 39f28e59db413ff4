"""Loads the harness plugin and its fixtures; nothing else lives here (DESIGN "Shape")."""

pytest_plugins = [
    "harness.plugin",
    "harness.plugin_verdicts",
    "fixtures.rig",
    "fixtures.broker",
    "fixtures.dut",
    "fixtures.wire",
    "fixtures.modem",
    "fixtures.report",
    "fixtures.peer",
    "fixtures.tls",
    "fixtures.qmt",
]
