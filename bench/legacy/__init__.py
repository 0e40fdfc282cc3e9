"""The legacy engine: a faithful Python version of the system tickrail replaced, kept only as the
"before" of ``bench/before_after.py``. It is not part of the product.

One asyncio process (uvloop): feed handlers for the three venues' market-data protocols publish
every book change over ZeroMQ to the engine, which runs the same market maker, the same pre-trade
rules (:mod:`risk.reference`) and the same order-entry protocols as tickrail's execution worker,
all on one event loop.
"""
