"""The simulated venues as processes: ``python -m venues a`` runs venue A on its own, so any
client can be pointed at it. The matching engines, the flow and the wire encoders are Rust
(:mod:`tickrail._native`); this package parses the command line and reports."""
