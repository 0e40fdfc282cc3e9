"""The feed processes: ``python -m feeds a ...`` runs one venue's feed. The hot loop (socket,
decode, book, publish) is Rust (:mod:`tickrail._native`); this package starts and configures
it, and reports its health from the counters it keeps in shared memory."""
