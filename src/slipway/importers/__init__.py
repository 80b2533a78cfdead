"""Bringing history from other systems into Slipway (``slipway import <system>``).

A workflow over the domain (layer 3): it reads the other system and writes through the tracking
and registry APIs, so every imported object is an ordinary, audited Slipway object.
"""
