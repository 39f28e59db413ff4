"""MQTT on the wire, for every part of the harness that reads or writes MQTT bytes.

codec/      the packets (dataclasses), encode(), decode_packet(), the one stream framer (Framer,
            Decoder), Direction (client to broker or back, as wire logs print it) and validate()
            (the MQTT 3.1.1 statements one packet breaks); its docstring maps its four modules.
            Imports nothing of the harness.
session.py  SessionRules: the client's side of one network connection judged in context (first
            packet CONNECT, packet ids in use, DUP on a re-sent PUBLISH, nothing after DISCONNECT);
            used by the scripted peer and the fault proxy alike. Imports codec only.
"""
