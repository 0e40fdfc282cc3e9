//! The execution reports the worker applied, out to the risk worker: each one as an
//! [`ExecutionReportRecord`] (what happened, the order and the position after it) into the
//! reports queue in shared memory. Records wait until the loop has journalled their reports
//! ([`ReportsOut::flush`] comes after the journal's), so a worker restarted from its journal
//! never sends one twice. A full queue (a slow or absent reader) never stalls the loop: what
//! does not fit waits, in order, for the next flush, so nothing is dropped or reordered.

use std::collections::VecDeque;

use risk::Side;
use shm_layout::queue;
use shm_layout::records::{
    order_state, report_kind, side, ExecutionReportRecord, Layout, Record, RecordHeader,
};
use shm_layout::{realtime_ns, ShmResult};

use crate::oms::{Oms, Order, Report};
use crate::order_state::OrderState;
use risk::positions::Position;

/// Reports the backlog has room for before it grows.
const BACKLOG_CAPACITY: usize = 1 << 12;

/// The record of `report` on order `id` (which was `before` it), just applied to `oms`;
/// received at `receive_ns`. `None` if `oms` does not hold the order.
pub fn applied_record(
    oms: &Oms,
    report: Report,
    id: u64,
    before: Option<&Order>,
    receive_ns: u64,
) -> Option<ExecutionReportRecord> {
    let order = oms.order(id)?;
    let successor = match report {
        Report::Replaced => before.and_then(|o| o.replacement).and_then(|r| oms.order(r.id)),
        _ => None,
    };
    Some(report_record(order.venue, report, order, successor, oms.position_of(order), receive_ns))
}

/// The record of `report` on `venue`, applied to `order` (its state after; for a replace
/// done, `successor` is the replacement), leaving `position` on the symbol and venue;
/// received at `receive_ns`.
pub fn report_record(
    venue: usize,
    report: Report,
    order: &Order,
    successor: Option<&Order>,
    position: Position,
    receive_ns: u64,
) -> ExecutionReportRecord {
    let now = successor.unwrap_or(order);
    let (price, quantity) = match report {
        Report::Fill { quantity, price } => (price, quantity),
        _ => (now.price, now.quantity),
    };
    ExecutionReportRecord {
        header: RecordHeader {
            msg_type: ExecutionReportRecord::TYPE_ID,
            length: size_of::<ExecutionReportRecord>() as u32,
            receive_ts_ns: receive_ns,
            ..RecordHeader::default()
        },
        instrument_id: order.instrument,
        venue: venue as u8,
        side: match order.side {
            Side::Buy => side::BID,
            Side::Sell => side::ASK,
        },
        kind: kind_code(report),
        state: state_code(order.state),
        order_id: order.id,
        replacement_id: successor.map_or(0, |s| s.id),
        price,
        quantity,
        leaves: if now.state.is_final() { 0 } else { now.open() },
        position: position.quantity,
        average_price: position.average_price,
        realized_pnl: position.realized.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
    }
}

/// The record's code for what a report says.
pub fn kind_code(report: Report) -> u8 {
    match report {
        Report::Accepted => report_kind::ACCEPTED,
        Report::Rejected => report_kind::REJECTED,
        Report::Fill { .. } => report_kind::FILL,
        Report::Canceled => report_kind::CANCELED,
        Report::CancelRejected => report_kind::CANCEL_REJECTED,
        Report::Replaced => report_kind::REPLACED,
        Report::ReplaceRejected => report_kind::REPLACE_REJECTED,
        Report::Expired => report_kind::EXPIRED,
    }
}

/// The record's code for an order's state.
fn state_code(state: OrderState) -> u8 {
    match state {
        OrderState::PendingNew => order_state::PENDING_NEW,
        OrderState::New => order_state::NEW,
        OrderState::PartiallyFilled => order_state::PARTIALLY_FILLED,
        OrderState::Filled => order_state::FILLED,
        OrderState::PendingCancel => order_state::PENDING_CANCEL,
        OrderState::Canceled => order_state::CANCELED,
        OrderState::PendingReplace => order_state::PENDING_REPLACE,
        OrderState::Replaced => order_state::REPLACED,
        OrderState::Rejected => order_state::REJECTED,
        OrderState::Expired => order_state::EXPIRED,
    }
}

/// The reports queue's writer, with the backlog of what did not fit yet.
#[derive(Debug)]
pub struct ReportsOut {
    queue: Option<queue::Writer>,
    backlog: VecDeque<ExecutionReportRecord>,
}

impl ReportsOut {
    /// Reports into `queue` (`None`: nobody reads them; they are only journalled).
    pub fn new(queue: Option<queue::Writer>) -> Self {
        Self { queue, backlog: VecDeque::with_capacity(BACKLOG_CAPACITY) }
    }

    /// Keeps `record` for the next flush, behind what waits already.
    pub fn push(&mut self, record: ExecutionReportRecord) {
        if self.queue.is_some() {
            self.backlog.push_back(record);
        }
    }

    /// Writes what waits into the queue, oldest first, as far as there is room; how many
    /// records still wait.
    pub fn flush(&mut self) -> ShmResult<usize> {
        let Some(queue) = self.queue.as_mut() else { return Ok(0) };
        while let Some(record) = self.backlog.front_mut() {
            record.header.sequence = queue.next_seq();
            record.header.publish_ts_ns = realtime_ns();
            if !queue.try_push(record.as_bytes())? {
                break;
            }
            self.backlog.pop_front();
        }
        Ok(self.backlog.len())
    }
}

#[cfg(test)]
mod tests {
    use shm_layout::{Received, SegmentOptions};

    use super::*;

    fn order(state: OrderState, filled: i64) -> Order {
        Order {
            id: 7,
            venue: 1,
            instrument: 3,
            side: Side::Sell,
            price: 100,
            quantity: 10,
            filled,
            state,
            replacement: None,
        }
    }

    fn queue_named(tag: &str) -> (queue::Writer, queue::Reader, String) {
        let name = format!("tickrail.test.reports-out.{tag}.{}", std::process::id());
        let options = SegmentOptions { replace_stale: true, ..SegmentOptions::default() };
        let size = size_of::<ExecutionReportRecord>() as u32;
        let writer = queue::Writer::create(&name, 4, size, &options).unwrap();
        let reader = queue::Reader::attach(&name).unwrap();
        (writer, reader, name)
    }

    #[test]
    fn a_fill_reports_its_own_price_and_quantity_and_the_position_after() {
        let position = Position { quantity: -4, average_price: 101, realized: 12 };
        let fill = Report::Fill { quantity: 4, price: 101 };
        let record = report_record(1, fill, &order(OrderState::PartiallyFilled, 4), None, position, 5);
        assert_eq!((record.kind, record.state), (report_kind::FILL, order_state::PARTIALLY_FILLED));
        assert_eq!((record.price, record.quantity, record.leaves), (101, 4, 6));
        assert_eq!((record.position, record.average_price, record.realized_pnl), (-4, 101, 12));
        assert_eq!((record.side, record.venue, record.header.receive_ts_ns), (side::ASK, 1, 5));
    }

    #[test]
    fn a_replace_done_names_the_replacement_and_its_terms() {
        let successor =
            Order { id: 8, price: 99, quantity: 12, state: OrderState::New, ..order(OrderState::New, 0) };
        let record = report_record(
            1,
            Report::Replaced,
            &order(OrderState::Replaced, 0),
            Some(&successor),
            Position::default(),
            0,
        );
        assert_eq!((record.order_id, record.replacement_id, record.state), (7, 8, order_state::REPLACED));
        assert_eq!((record.price, record.quantity, record.leaves), (99, 12, 12));
    }

    #[test]
    fn a_full_queue_holds_reports_back_in_order_and_loses_none() {
        let (writer, mut reader, name) = queue_named("full");
        let mut out = ReportsOut::new(Some(writer));
        for id in 1..=6 {
            out.push(ExecutionReportRecord { order_id: id, ..ExecutionReportRecord::default() });
        }
        let mut bytes = [0u8; size_of::<ExecutionReportRecord>()];
        assert!(matches!(reader.try_pop(&mut bytes).unwrap(), Received::Empty), "nothing before a flush");
        assert_eq!(out.flush().unwrap(), 2, "4 fit, 2 wait");
        let mut got = Vec::new();
        while let Received::Message { .. } = reader.try_pop(&mut bytes).unwrap() {
            let record = ExecutionReportRecord::from_bytes(&bytes);
            got.push((record.order_id, record.header.sequence));
        }
        assert_eq!(out.flush().unwrap(), 0);
        while let Received::Message { .. } = reader.try_pop(&mut bytes).unwrap() {
            let record = ExecutionReportRecord::from_bytes(&bytes);
            got.push((record.order_id, record.header.sequence));
        }
        assert_eq!(got, (1..=6).map(|id| (id, id - 1)).collect::<Vec<_>>());
        shm_layout::unlink(&name).unwrap();
    }
}
