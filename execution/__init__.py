"""The execution worker: ``python -m execution`` runs the market maker, the pre-trade gate, the
gateways and the OMS of an instance (the Rust crate beside this package) until SIGTERM."""
