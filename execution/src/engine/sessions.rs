//! Venues' sessions: a lost connection logged on again off the loop, what a venue replays
//! applied before anything is taken as cancelled, orders a venue will not report on taken as
//! over, and the orders a previous worker left working pulled.

use shm_layout::monotonic_ns;

use super::{Engine, EngineError, RETRY_AFTER_NS};
use crate::gateway::{cancelled_on_disconnect, resend_pending, Gateway};
use crate::journal::Entry;
use crate::metrics::Counter;
use crate::order_state::OrderState;
use crate::reconnect::Reconnection;

impl Engine {
    /// `venue`'s connection dropped: the engine logs on again, off the loop, resuming the
    /// session so the venue replays what we missed.
    pub(super) fn lost(&mut self, venue: usize) {
        self.metrics.add(Counter::Disconnects, 1);
        self.down[venue] = true;
        self.retry_at_ns[venue] = 0;
    }

    /// Takes over from a previous worker, once every gateway has logged on: what each venue
    /// replayed is applied, and where a venue that cancels on disconnect did not resume our
    /// session, our orders there from the last session are taken as cancelled.
    pub fn take_over(&mut self) -> Result<(), EngineError> {
        for venue in 0..self.wiring.gateways.len() {
            self.session_recovered(venue)?;
        }
        // What is still working was placed by strategies that died with the last worker.
        self.orphans.extend(self.oms.open_orders().map(|o| o.id));
        Ok(())
    }

    /// Cancels the orphans that can be cancelled now and forgets those that are over;
    /// whether it cancelled one.
    pub(super) fn pull_orphans(&mut self) -> Result<bool, EngineError> {
        let mut busy = false;
        let mut at = 0;
        while at < self.orphans.len() {
            let id = self.orphans[at];
            match self.oms.order(id).map(|o| o.state) {
                Some(OrderState::New | OrderState::PartiallyFilled) => {
                    self.cancel(id)?;
                    busy = true;
                    at += 1;
                }
                Some(state) if state.is_working() => at += 1,
                _ => {
                    self.orphans.swap_remove(at);
                }
            }
        }
        Ok(busy)
    }

    /// `venue`'s session is up again (in this process or a restarted one): what the venue
    /// replayed while logging us on is applied first; then, where the venue cancels on
    /// disconnect but did not resume our session (it restarted: a new day), our orders from
    /// the last session are over. A venue that resumed replays those cancels itself, with any
    /// fill that came before them.
    pub(super) fn session_recovered(&mut self, venue: usize) -> Result<(), EngineError> {
        let Some(gateway) = self.wiring.gateways[venue].as_ref() else { return Ok(()) };
        let replays = gateway.replays_missed();
        if self.take_venue_reports(venue)?.1 {
            self.lost(venue); // lost again at once
            return Ok(());
        }
        if !replays {
            return self.session_ended(venue);
        }
        self.replaying[venue] =
            self.wiring.gateways[venue].as_ref().is_some_and(Gateway::cancels_on_disconnect);
        Ok(())
    }

    /// `venue`'s session ended and will not be resumed: where the venue cancels on
    /// disconnect, our orders there are over (journalled, out of the gate and the strategy,
    /// reported to risk).
    pub(super) fn session_ended(&mut self, venue: usize) -> Result<(), EngineError> {
        if !self.wiring.gateways[venue].as_ref().is_some_and(Gateway::cancels_on_disconnect) {
            return Ok(());
        }
        let ended = cancelled_on_disconnect(&mut self.oms, venue).unwrap_or_default();
        for (instrument, report) in ended {
            self.journal.append(&Entry::Report(report))?;
            if let Some(order) = self.oms.order(report.id).copied() {
                self.report_out(report.report, report.id, None);
                self.tell_strategy(venue, &order, report.report);
            }
            self.gate.done(venue, instrument, report.id);
            let symbol = self.symbol_of(instrument);
            self.order_done(symbol, report.id);
        }
        Ok(())
    }

    /// Moves a down venue's reconnection on: starts an attempt off the loop when it is time,
    /// takes the gateway back when the attempt is over; whether the venue is back.
    pub(super) fn tend_reconnection(&mut self, venue: usize) -> Result<bool, EngineError> {
        match self.reconnecting[venue].take() {
            Some(attempt) if !attempt.is_done() => {
                self.reconnecting[venue] = Some(attempt);
                Ok(false)
            }
            Some(attempt) => {
                let (gateway, logged_on) = attempt.finish().ok_or(EngineError::Reconnect(venue))?;
                self.wiring.gateways[venue] = Some(gateway);
                if !logged_on {
                    // Its orders are still taken as working: the venue may resume the session
                    // and replay what happened to them.
                    self.retry_at_ns[venue] = monotonic_ns() + RETRY_AFTER_NS;
                    return Ok(false);
                }
                self.back_up(venue)?;
                Ok(true)
            }
            None if monotonic_ns() >= self.retry_at_ns[venue] => {
                if let Some(gateway) = self.wiring.gateways[venue].take() {
                    let attempt = Reconnection::start(gateway).map_err(|_| EngineError::Reconnect(venue))?;
                    self.reconnecting[venue] = Some(attempt);
                }
                Ok(false)
            }
            None => Ok(false),
        }
    }

    /// `venue` logged on again: what it may not have seen goes again (OUCH), what it replays
    /// is applied.
    pub(super) fn back_up(&mut self, venue: usize) -> Result<(), EngineError> {
        self.down[venue] = false;
        let Some(gateway) = self.wiring.gateways[venue].as_mut() else { return Ok(()) };
        if !gateway.cancels_on_disconnect() {
            // OUCH replays what we missed; what the venue may not have seen goes again (it
            // ignores a token it has). Venues that cancel on disconnect free an ended order's
            // id, so nothing is sent to them again.
            let _ = resend_pending(gateway, &self.oms, venue);
        }
        self.session_recovered(venue)
    }
}
