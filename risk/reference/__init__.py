"""The reference rules: the pre-trade gate (:mod:`risk.reference.gate`) and the portfolio risk
(:mod:`risk.reference.portfolio`) written as plain, readable Python.

This is the specification the Rust engines in ``risk/src/`` must match exactly: given the same
calls, the reference and the engines return the same decisions and rejection reasons (the first
check that fails) and keep the same positions, working orders, throttles, figures and trading
states. It is written to be read, not to be fast; the property tests and shadow mode compare the
engines against it.
"""
