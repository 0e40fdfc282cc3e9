//! The linked strategy's side of the loop: what it asks for carried out, and the news of its
//! orders told to it.

use risk::NewOrder;
use shm_layout::realtime_ns;

use super::{Engine, EngineError, Tick};
use crate::oms::Report;
use crate::strategy::Action;
use crate::strategy_link::{LoopEnd, StrategyEvent, StrategyRequest};

impl Engine {
    /// Tells the linked strategy of a report on one of its orders.
    pub(super) fn tell_strategy(&mut self, venue: usize, order: &crate::Order, report: Report) {
        let Some(link) = self.wiring.strategy.as_mut() else { return };
        let Some(tag) = link.tag_of(order.id) else { return };
        let position = self.oms.position_of_symbol(order.instrument);
        link.tell(StrategyEvent::Report {
            tag,
            id: order.id,
            venue,
            instrument: order.instrument,
            side: order.side,
            report,
            leaves: if order.state.is_final() { 0 } else { order.open() },
            position,
            receive_ns: realtime_ns(),
        });
    }

    /// Carries out what the linked strategy asked for; whether it asked anything.
    pub(super) fn take_strategy_requests(&mut self) -> Result<bool, EngineError> {
        let mut busy = false;
        while let Some(request) = self.wiring.strategy.as_mut().and_then(LoopEnd::next_request) {
            busy = true;
            match request {
                StrategyRequest::Cancel { id } => {
                    if self.wiring.strategy.as_ref().and_then(|l| l.tag_of(id)).is_some() {
                        self.cancel(id)?;
                    }
                }
                StrategyRequest::New { tag, venue, instrument, side, price, quantity, tick_ns } => {
                    let symbol =
                        self.symbol_of(instrument).filter(|&s| self.wiring.symbols[s].maker.is_none());
                    let refused = match symbol {
                        Some(s) if venue < self.wiring.gateways.len() => {
                            self.read_books(s)?;
                            self.next_id += 1;
                            let order =
                                NewOrder { id: self.next_id, venue, instrument, side, price, quantity };
                            // Owned first, so a refusal's clean-up finds it.
                            if let Some(link) = self.wiring.strategy.as_mut() {
                                link.own(order.id, tag);
                            }
                            let tick = Tick { received_ns: tick_ns, ..Tick::default() };
                            self.execute(s, Action::New(order), tick, true)?.map(|reason| (reason, order.id))
                        }
                        _ => Some((risk::Reject::UnknownInstrument, 0)),
                    };
                    let Some(link) = self.wiring.strategy.as_mut() else { continue };
                    match refused {
                        None => link.tell(StrategyEvent::Sent { tag, id: self.next_id }),
                        Some((reason, id)) => {
                            link.done(id);
                            link.tell(StrategyEvent::Refused { tag, reason });
                        }
                    }
                }
            }
        }
        Ok(busy)
    }
}
