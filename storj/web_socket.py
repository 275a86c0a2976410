"""Storj web socket module.

The legacy WebSocket "data channel" client (farmers before December 2016, see
``bridge-protocol.md`` §6.6) arrives with a later issue. Current farmers transfer
shards over plain HTTP (``POST``/``GET /shards/:hash?token=``), which the transfer
engine (:mod:`storj.transfer`) uses.
"""

__all__: list[str] = []
