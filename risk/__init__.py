"""The risk worker's Python side: the reference rules (`risk.reference`), plain-Python
specifications that the Rust engine in `risk/src/` must match decision for decision."""
