//! The firm's instrument ids: one number per instrument across every venue, so a book of AAPL
//! from venue A and one from venue C sit at the same key in their venues' slot tables and the
//! strategy compares them without knowing each venue's own symbology.

use std::collections::HashMap;

/// Symbol to instrument id, as configured for the whole pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instruments {
    ids: HashMap<String, u32>,
}

impl Instruments {
    /// A table of `(symbol, id)` pairs. Fails naming the first symbol or id given twice.
    pub fn new<S: Into<String>>(pairs: impl IntoIterator<Item = (S, u32)>) -> Result<Self, String> {
        let mut ids = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for (symbol, id) in pairs {
            let symbol = symbol.into();
            if !seen.insert(id) {
                return Err(format!("instrument id {id} is given twice (again for {symbol:?})"));
            }
            if ids.insert(symbol.clone(), id).is_some() {
                return Err(format!("symbol {symbol:?} is given twice"));
            }
        }
        Ok(Self { ids })
    }

    /// The id of `symbol` (trailing spaces, as fixed-width protocols pad, are ignored).
    pub fn id(&self, symbol: &str) -> Option<u32> {
        self.ids.get(symbol.trim_end_matches(' ')).copied()
    }

    /// Number of instruments.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_symbols_find_their_id_and_duplicates_are_named() {
        let table = Instruments::new([("AAPL", 1), ("MSFT", 2)]).unwrap();
        assert_eq!((table.id("AAPL    "), table.id("MSFT"), table.id("IBM")), (Some(1), Some(2), None));
        assert!(Instruments::new([("AAPL", 1), ("MSFT", 1)]).unwrap_err().contains("id 1"));
        assert!(Instruments::new([("AAPL", 1), ("AAPL", 2)]).unwrap_err().contains("\"AAPL\""));
    }
}
