"""Loopback TEST servers that speak engines' wire protocols, for engines with no local server.

They exist so the official clients can be driven unchanged in CI. They are small reimplementations
of documented behaviour, not the engines: see each module's docstring for what is modelled.
"""
