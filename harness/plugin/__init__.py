"""The pytest plugin of the conformance suite, one package: pytest loads it through the `pytest11`
entry point `bc660k` (pyproject.toml), so no conftest.py loads it and `pip install` is all a lab
needs. The only place in harness/ that imports pytest; the library stays usable from a script.

It is active where a rig is: a `rig.yaml` in the rootdir, `--rig FILE`, or an option that sets a rig
key (`--port`, `--firmware`, `--report-dir`, ...; harness/rig/options.py, the one options table).
Elsewhere (another project's pytest run in the same environment) its options exist and nothing
else happens: no rig is read, no report is written, and a case that asks for a product fixture
(`modem`, `dut`, ...) fails with one line saying the plugin is not active.

The map (what goes where):
- hooks.py: options, markers, loading the rig, Allure/html glue, coverage pages; the stash keys.
- run.py: the life of a conformance run (record, progress, cut-short runs, exit statuses).
- reports.py: its report files (staged, written, promoted).
- verdicts.py: waivers, `--strict`, deviations from the note's plain reading.
- rig_broken.py: the "rig broken" state the fixtures set, which stops the run (exit 3), and the
  recovery ladder's log in the case that found it.
- wire_watch.py: the wire's MQTT 3.1.1 verdicts per case (a case fails for what the DUT broke).
- fixtures/: one module per resource, each a few lines over harness.rig's session and the rooms
  below it (`rig`, `dut`, `modem`, `qmt`, `broker`, `observer`, `wire`, `peer`, `tls`, `observe`).
"""

pytest_plugins = [
    "harness.plugin.hooks",
    "harness.plugin.verdicts",
    "harness.plugin.rig_broken",
    "harness.plugin.wire_watch",
    "harness.plugin.fixtures.rig",
    "harness.plugin.fixtures.broker",
    "harness.plugin.fixtures.dut",
    "harness.plugin.fixtures.wire",
    "harness.plugin.fixtures.modem",
    "harness.plugin.fixtures.report",
    "harness.plugin.fixtures.peer",
    "harness.plugin.fixtures.tls",
    "harness.plugin.fixtures.qmt",
]
