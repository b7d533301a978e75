"""A simulated line: asyncua servers hosting station objects per plc-interface.md, and PLC behaviour."""
