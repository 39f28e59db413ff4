"""The BC660K-GL MQTT conformance harness, a library: the rooms are its packages (at, spec, mqtt,
emulator, broker, peer, proxy, pki, rig, report) and the pytest plugin (plugin, loaded through its
pytest11 entry point). docs/architecture.md is the map of the house: the rooms, the one-way arrows
between them, and where a new command, case, profile, rule, relay or rig-file key goes."""
