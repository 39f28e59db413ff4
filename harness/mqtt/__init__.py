"""MQTT on the wire, for every part of the harness that reads or writes MQTT bytes.

codec.py  the packets (dataclasses), encode(), decode_packet(), the stream framer (Framer,
          Decoder), Direction (client to broker or back, as wire logs print it) and validate()
          (the MQTT 3.1.1 statements one packet breaks). Imports nothing of the harness.
"""
