//! FIX 4.4 messages as types: the session layer (Logon, Heartbeat, TestRequest, ResendRequest,
//! Reject, SequenceReset, Logout), market data (MarketDataRequest `V` and its reject `Y`,
//! snapshots `W`, incremental refreshes `X`) and orders (NewOrderSingle `D`, OrderCancelRequest
//! `F`, OrderCancelReplaceRequest `G`, ExecutionReport `8`, OrderCancelReject `9`).
//!
//! Messages are encoded with [`crate::fix::Writer`] and decoded from a [`crate::fix::Frame`]; decoding
//! borrows every text from the frame and allocates nothing, except a MarketDataRequest's
//! lists (rare, at subscription). A required field that is absent or holds a value FIX does
//! not allow is a [`DecodeError`] naming the field. Prices and quantities are integers in
//! units of 10^-[`DECIMALS`]; times are nanoseconds since the Unix epoch.

use crate::decimal::parse_decimal;
use crate::fix::{tag, Fields, Frame, Writer, PROTOCOL};
use crate::utc::parse_utc_timestamp;
use crate::DecodeError;

/// Decimals of decoded prices and quantities: units of 1e-9, as in shared memory.
pub const DECIMALS: u32 = 9;

/// A FIX field whose values are one-character codes.
macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// The code on the wire.
            pub fn code(self) -> u8 {
                match self {
                    $(Self::$variant => $code,)+
                }
            }

            /// The value `code` stands for, if any.
            pub fn from_code(code: &[u8]) -> Option<Self> {
                match code {
                    $([$code] => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

code_enum! {
    /// Side (54).
    Side { /// Buy.
        Buy = b'1', /// Sell.
        Sell = b'2', }
}

code_enum! {
    /// OrdType (40).
    OrdType { /// Market.
        Market = b'1', /// Limit.
        Limit = b'2', }
}

code_enum! {
    /// TimeInForce (59).
    TimeInForce { /// Day (the default).
        Day = b'0', /// Good till cancel.
        GoodTillCancel = b'1', /// Immediate or cancel.
        ImmediateOrCancel = b'3', }
}

code_enum! {
    /// ExecType (150). FIX 4.4 reports fills as Trade (`F`).
    ExecType { /// The order was accepted.
        New = b'0', /// The order was cancelled.
        Canceled = b'4', /// The order was replaced.
        Replaced = b'5', /// The order was refused.
        Rejected = b'8', /// A fill.
        Trade = b'F', }
}

code_enum! {
    /// OrdStatus (39).
    OrdStatus { /// Resting, nothing filled.
        New = b'0', /// Partly filled.
        PartiallyFilled = b'1', /// Completely filled.
        Filled = b'2', /// Cancelled.
        Canceled = b'4', /// Refused.
        Rejected = b'8', }
}

code_enum! {
    /// MDEntryType (269).
    MdEntryType { /// A bid level.
        Bid = b'0', /// An offer level.
        Offer = b'1', /// A trade.
        Trade = b'2', }
}

code_enum! {
    /// MDUpdateAction (279).
    MdUpdateAction { /// A new level (or a trade).
        New = b'0', /// A level's size changed.
        Change = b'1', /// A level went.
        Delete = b'2', }
}

code_enum! {
    /// SubscriptionRequestType (263).
    SubscriptionRequestType { /// One snapshot.
        Snapshot = b'0', /// A snapshot, then incremental refreshes.
        SnapshotAndUpdates = b'1', /// Stop the updates.
        Unsubscribe = b'2', }
}

code_enum! {
    /// CxlRejResponseTo (434): what an OrderCancelReject answers.
    CxlRejResponseTo { /// An OrderCancelRequest.
        OrderCancelRequest = b'1', /// An OrderCancelReplaceRequest.
        OrderCancelReplaceRequest = b'2', }
}

/// The standard header fields tickrail uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// SenderCompID (49).
    pub sender_comp_id: &'a str,
    /// TargetCompID (56).
    pub target_comp_id: &'a str,
    /// MsgSeqNum (34), from 1.
    pub msg_seq_num: u64,
    /// SendingTime (52).
    pub sending_time_ns: u64,
    /// PossDupFlag (43): a resend of a message that may have been received.
    pub poss_dup: bool,
    /// OrigSendingTime (122): when a resent message was first sent.
    pub orig_sending_time_ns: Option<u64>,
}

/// One entry of a market-data snapshot or incremental refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MdEntry<'a> {
    /// MDUpdateAction (279); always [`MdUpdateAction::New`] in a snapshot.
    pub action: MdUpdateAction,
    /// MDEntryType (269).
    pub entry_type: MdEntryType,
    /// Symbol (55): per entry in a refresh, the message's symbol in a snapshot.
    pub symbol: &'a str,
    /// MDEntryPx (270).
    pub price: i64,
    /// MDEntrySize (271): a level's whole size (absolute, not a change), or a trade's size; 0
    /// in a delete.
    pub size: i64,
}

/// The entries of a `W` or `X`: read from the wire as they are iterated, or a slice to encode.
#[derive(Debug, Clone, Copy)]
pub struct MdEntries<'a>(Entries<'a>);

#[derive(Debug, Clone, Copy)]
enum Entries<'a> {
    /// `count` entries checked by decoding, in `group`; a snapshot's entries carry its symbol.
    Wire {
        group: &'a [u8],
        count: usize,
        snapshot_symbol: Option<&'a str>,
    },
    Slice(&'a [MdEntry<'a>]),
}

impl<'a> MdEntries<'a> {
    /// Entries to encode.
    pub fn from_slice(entries: &'a [MdEntry<'a>]) -> Self {
        Self(Entries::Slice(entries))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        match self.0 {
            Entries::Wire { count, .. } => count,
            Entries::Slice(entries) => entries.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries, in order.
    pub fn iter(&self) -> MdEntryIter<'a> {
        MdEntryIter(match self.0 {
            Entries::Wire { group, count, snapshot_symbol } => {
                Iter::Wire { fields: Fields::checked(group), left: count, snapshot_symbol }
            }
            Entries::Slice(entries) => Iter::Slice(entries.iter()),
        })
    }
}

impl PartialEq for MdEntries<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for MdEntries<'_> {}

/// Iterates over [`MdEntries`].
#[derive(Debug, Clone)]
pub struct MdEntryIter<'a>(Iter<'a>);

#[derive(Debug, Clone)]
enum Iter<'a> {
    Wire { fields: Fields<'a>, left: usize, snapshot_symbol: Option<&'a str> },
    Slice(std::slice::Iter<'a, MdEntry<'a>>),
}

impl<'a> Iterator for MdEntryIter<'a> {
    type Item = MdEntry<'a>;

    fn next(&mut self) -> Option<MdEntry<'a>> {
        match &mut self.0 {
            Iter::Wire { fields, left, snapshot_symbol } => {
                if *left == 0 {
                    return None;
                }
                *left -= 1;
                // Decoding checked every entry, so this cannot fail.
                read_entry(fields, *snapshot_symbol).ok()
            }
            Iter::Slice(entries) => entries.next().copied(),
        }
    }
}

/// MarketDataRequest (`V`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketDataRequest<'a> {
    /// MDReqID (262).
    pub md_req_id: &'a str,
    /// SubscriptionRequestType (263).
    pub subscription: SubscriptionRequestType,
    /// MarketDepth (264): 0 for the full book.
    pub market_depth: u32,
    /// The NoMDEntryTypes (267) group's MDEntryType (269) values.
    pub entry_types: Vec<MdEntryType>,
    /// The NoRelatedSym (146) group's Symbol (55) values.
    pub symbols: Vec<&'a str>,
}

/// MarketDataSnapshotFullRefresh (`W`): one symbol's whole book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketDataSnapshot<'a> {
    /// MDReqID (262) of the request it answers.
    pub md_req_id: Option<&'a str>,
    /// Symbol (55).
    pub symbol: &'a str,
    /// The NoMDEntries (268) group.
    pub entries: MdEntries<'a>,
}

/// MarketDataIncrementalRefresh (`X`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketDataIncremental<'a> {
    /// MDReqID (262) of the subscription.
    pub md_req_id: Option<&'a str>,
    /// The NoMDEntries (268) group.
    pub entries: MdEntries<'a>,
}

/// NewOrderSingle (`D`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewOrderSingle<'a> {
    /// ClOrdID (11).
    pub cl_ord_id: &'a str,
    /// Symbol (55).
    pub symbol: &'a str,
    /// Side (54).
    pub side: Side,
    /// TransactTime (60).
    pub transact_time_ns: u64,
    /// OrderQty (38), positive.
    pub order_qty: i64,
    /// OrdType (40).
    pub ord_type: OrdType,
    /// Price (44), required for a limit order.
    pub price: Option<i64>,
    /// TimeInForce (59); absent means Day.
    pub time_in_force: Option<TimeInForce>,
}

/// OrderCancelRequest (`F`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderCancelRequest<'a> {
    /// OrigClOrdID (41): the order to cancel.
    pub orig_cl_ord_id: &'a str,
    /// ClOrdID (11) of this request.
    pub cl_ord_id: &'a str,
    /// Symbol (55).
    pub symbol: &'a str,
    /// Side (54).
    pub side: Side,
    /// TransactTime (60).
    pub transact_time_ns: u64,
}

/// OrderCancelReplaceRequest (`G`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderCancelReplaceRequest<'a> {
    /// OrigClOrdID (41): the order to replace.
    pub orig_cl_ord_id: &'a str,
    /// ClOrdID (11) the order has from now on.
    pub cl_ord_id: &'a str,
    /// Symbol (55).
    pub symbol: &'a str,
    /// Side (54).
    pub side: Side,
    /// TransactTime (60).
    pub transact_time_ns: u64,
    /// OrderQty (38): the new total quantity, filled part included.
    pub order_qty: i64,
    /// OrdType (40).
    pub ord_type: OrdType,
    /// Price (44), required for a limit order.
    pub price: Option<i64>,
}

/// ExecutionReport (`8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutionReport<'a> {
    /// OrderID (37): the venue's id.
    pub order_id: &'a str,
    /// ClOrdID (11).
    pub cl_ord_id: &'a str,
    /// OrigClOrdID (41), on a cancel or replace.
    pub orig_cl_ord_id: Option<&'a str>,
    /// ExecID (17), unique per report.
    pub exec_id: &'a str,
    /// ExecType (150).
    pub exec_type: ExecType,
    /// OrdStatus (39).
    pub ord_status: OrdStatus,
    /// Symbol (55).
    pub symbol: &'a str,
    /// Side (54).
    pub side: Side,
    /// OrderQty (38).
    pub order_qty: Option<i64>,
    /// Price (44).
    pub price: Option<i64>,
    /// LastQty (32): a fill's quantity.
    pub last_qty: Option<i64>,
    /// LastPx (31): a fill's price.
    pub last_px: Option<i64>,
    /// LeavesQty (151).
    pub leaves_qty: i64,
    /// CumQty (14).
    pub cum_qty: i64,
    /// AvgPx (6).
    pub avg_px: i64,
    /// OrdRejReason (103), on a reject.
    pub ord_rej_reason: Option<u32>,
    /// Text (58).
    pub text: Option<&'a str>,
}

/// OrderCancelReject (`9`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderCancelReject<'a> {
    /// OrderID (37), `NONE` if the order is unknown.
    pub order_id: &'a str,
    /// ClOrdID (11) of the refused request.
    pub cl_ord_id: &'a str,
    /// OrigClOrdID (41).
    pub orig_cl_ord_id: &'a str,
    /// OrdStatus (39) of the order.
    pub ord_status: OrdStatus,
    /// CxlRejResponseTo (434).
    pub response_to: CxlRejResponseTo,
    /// CxlRejReason (102).
    pub reason: Option<u32>,
    /// Text (58).
    pub text: Option<&'a str>,
}

/// A message's body, by type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<'a> {
    /// Logon (`A`).
    Logon {
        /// HeartBtInt (108), seconds.
        heart_bt_int_s: u32,
        /// ResetSeqNumFlag (141): both sides start again at 1.
        reset_seq_num: bool,
    },
    /// Heartbeat (`0`).
    Heartbeat {
        /// TestReqID (112) of the TestRequest it answers.
        test_req_id: Option<&'a str>,
    },
    /// TestRequest (`1`).
    TestRequest {
        /// TestReqID (112).
        test_req_id: &'a str,
    },
    /// ResendRequest (`2`).
    ResendRequest {
        /// BeginSeqNo (7).
        begin_seq_no: u64,
        /// EndSeqNo (16); 0 means up to the last message sent.
        end_seq_no: u64,
    },
    /// Reject (`3`): a message refused at the session level.
    Reject {
        /// RefSeqNum (45).
        ref_seq_num: u64,
        /// SessionRejectReason (373).
        reason: Option<u32>,
        /// Text (58).
        text: Option<&'a str>,
    },
    /// SequenceReset (`4`).
    SequenceReset {
        /// GapFillFlag (123): the skipped numbers were admin messages.
        gap_fill: bool,
        /// NewSeqNo (36).
        new_seq_no: u64,
    },
    /// Logout (`5`).
    Logout {
        /// Text (58).
        text: Option<&'a str>,
    },
    /// MarketDataRequest (`V`).
    MarketDataRequest(MarketDataRequest<'a>),
    /// MarketDataRequestReject (`Y`).
    MarketDataRequestReject {
        /// MDReqID (262).
        md_req_id: &'a str,
        /// Text (58).
        text: Option<&'a str>,
    },
    /// MarketDataSnapshotFullRefresh (`W`).
    MarketDataSnapshot(MarketDataSnapshot<'a>),
    /// MarketDataIncrementalRefresh (`X`).
    MarketDataIncremental(MarketDataIncremental<'a>),
    /// NewOrderSingle (`D`).
    NewOrderSingle(NewOrderSingle<'a>),
    /// OrderCancelRequest (`F`).
    OrderCancelRequest(OrderCancelRequest<'a>),
    /// OrderCancelReplaceRequest (`G`).
    OrderCancelReplaceRequest(OrderCancelReplaceRequest<'a>),
    /// ExecutionReport (`8`).
    ExecutionReport(ExecutionReport<'a>),
    /// OrderCancelReject (`9`).
    OrderCancelReject(OrderCancelReject<'a>),
}

impl Body<'_> {
    /// The MsgType (35).
    pub fn msg_type(&self) -> &'static str {
        match self {
            Self::Logon { .. } => "A",
            Self::Heartbeat { .. } => "0",
            Self::TestRequest { .. } => "1",
            Self::ResendRequest { .. } => "2",
            Self::Reject { .. } => "3",
            Self::SequenceReset { .. } => "4",
            Self::Logout { .. } => "5",
            Self::MarketDataRequest(_) => "V",
            Self::MarketDataRequestReject { .. } => "Y",
            Self::MarketDataSnapshot(_) => "W",
            Self::MarketDataIncremental(_) => "X",
            Self::NewOrderSingle(_) => "D",
            Self::OrderCancelRequest(_) => "F",
            Self::OrderCancelReplaceRequest(_) => "G",
            Self::ExecutionReport(_) => "8",
            Self::OrderCancelReject(_) => "9",
        }
    }
}

/// Whether `msg_type` is a session-level (admin) message type.
pub fn is_admin(msg_type: &[u8]) -> bool {
    matches!(msg_type, b"A" | b"0" | b"1" | b"2" | b"3" | b"4" | b"5")
}

/// A typed FIX 4.4 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The standard header.
    pub header: Header<'a>,
    /// The body.
    pub body: Body<'a>,
}

impl<'a> Message<'a> {
    /// Encodes the message into `writer` and returns its bytes.
    pub fn encode<'w>(&self, writer: &'w mut Writer) -> &'w [u8] {
        encode_header(writer, self.body.msg_type(), &self.header);
        encode_body(writer, &self.body);
        writer.finish()
    }

    /// Decodes a framed message.
    pub fn decode(frame: &Frame<'a>) -> Result<Self, DecodeError> {
        let msg_type = match frame.msg_type() {
            [code] => char::from(*code),
            other => return Err(DecodeError::UnknownType { protocol: PROTOCOL, msg_type: other[0] }),
        };
        let mut fields = frame.fields();
        let header = decode_header(&mut fields, msg_type)?;
        let body = decode_body(Reader { fields, msg_type })?;
        Ok(Self { header, body })
    }
}

/// Writes MsgType and the standard header.
pub(crate) fn encode_header(w: &mut Writer, msg_type: &str, header: &Header<'_>) {
    w.begin(msg_type)
        .str(tag::SENDER_COMP_ID, header.sender_comp_id)
        .str(tag::TARGET_COMP_ID, header.target_comp_id)
        .int(tag::MSG_SEQ_NUM, header.msg_seq_num as i64)
        .timestamp(tag::SENDING_TIME, header.sending_time_ns);
    if header.poss_dup {
        w.char(tag::POSS_DUP_FLAG, b'Y');
    }
    if let Some(orig) = header.orig_sending_time_ns {
        w.timestamp(tag::ORIG_SENDING_TIME, orig);
    }
}

fn yes_no(value: bool) -> u8 {
    if value {
        b'Y'
    } else {
        b'N'
    }
}

fn opt_str(w: &mut Writer, tag: u32, value: Option<&str>) {
    if let Some(value) = value {
        w.str(tag, value);
    }
}

fn opt_decimal(w: &mut Writer, tag: u32, value: Option<i64>) {
    if let Some(value) = value {
        w.decimal(tag, value, DECIMALS);
    }
}

fn opt_int(w: &mut Writer, tag: u32, value: Option<u32>) {
    if let Some(value) = value {
        w.int(tag, i64::from(value));
    }
}

/// Writes the body's fields.
pub(crate) fn encode_body(w: &mut Writer, body: &Body<'_>) {
    match body {
        Body::Logon { heart_bt_int_s, reset_seq_num } => {
            w.int(tag::ENCRYPT_METHOD, 0).int(tag::HEART_BT_INT, i64::from(*heart_bt_int_s));
            if *reset_seq_num {
                w.char(tag::RESET_SEQ_NUM_FLAG, b'Y');
            }
        }
        Body::Heartbeat { test_req_id } => opt_str(w, tag::TEST_REQ_ID, *test_req_id),
        Body::TestRequest { test_req_id } => {
            w.str(tag::TEST_REQ_ID, test_req_id);
        }
        Body::ResendRequest { begin_seq_no, end_seq_no } => {
            w.int(tag::BEGIN_SEQ_NO, *begin_seq_no as i64).int(tag::END_SEQ_NO, *end_seq_no as i64);
        }
        Body::Reject { ref_seq_num, reason, text } => {
            w.int(tag::REF_SEQ_NUM, *ref_seq_num as i64);
            opt_int(w, tag::SESSION_REJECT_REASON, *reason);
            opt_str(w, tag::TEXT, *text);
        }
        Body::SequenceReset { gap_fill, new_seq_no } => {
            w.char(tag::GAP_FILL_FLAG, yes_no(*gap_fill)).int(tag::NEW_SEQ_NO, *new_seq_no as i64);
        }
        Body::Logout { text } => opt_str(w, tag::TEXT, *text),
        Body::MarketDataRequest(r) => {
            w.str(tag::MD_REQ_ID, r.md_req_id)
                .char(tag::SUBSCRIPTION_REQUEST_TYPE, r.subscription.code())
                .int(tag::MARKET_DEPTH, i64::from(r.market_depth));
            if r.subscription == SubscriptionRequestType::SnapshotAndUpdates {
                w.char(tag::MD_UPDATE_TYPE, b'1');
            }
            w.int(tag::NO_MD_ENTRY_TYPES, r.entry_types.len() as i64);
            for entry_type in &r.entry_types {
                w.char(tag::MD_ENTRY_TYPE, entry_type.code());
            }
            w.int(tag::NO_RELATED_SYM, r.symbols.len() as i64);
            for symbol in &r.symbols {
                w.str(tag::SYMBOL, symbol);
            }
        }
        Body::MarketDataRequestReject { md_req_id, text } => {
            w.str(tag::MD_REQ_ID, md_req_id);
            opt_str(w, tag::TEXT, *text);
        }
        Body::MarketDataSnapshot(s) => {
            opt_str(w, tag::MD_REQ_ID, s.md_req_id);
            w.str(tag::SYMBOL, s.symbol).int(tag::NO_MD_ENTRIES, s.entries.len() as i64);
            for e in s.entries.iter() {
                w.char(tag::MD_ENTRY_TYPE, e.entry_type.code())
                    .decimal(tag::MD_ENTRY_PX, e.price, DECIMALS)
                    .decimal(tag::MD_ENTRY_SIZE, e.size, DECIMALS);
            }
        }
        Body::MarketDataIncremental(x) => {
            opt_str(w, tag::MD_REQ_ID, x.md_req_id);
            w.int(tag::NO_MD_ENTRIES, x.entries.len() as i64);
            for e in x.entries.iter() {
                w.char(tag::MD_UPDATE_ACTION, e.action.code())
                    .char(tag::MD_ENTRY_TYPE, e.entry_type.code())
                    .str(tag::SYMBOL, e.symbol)
                    .decimal(tag::MD_ENTRY_PX, e.price, DECIMALS);
                if e.action != MdUpdateAction::Delete {
                    w.decimal(tag::MD_ENTRY_SIZE, e.size, DECIMALS);
                }
            }
        }
        Body::NewOrderSingle(o) => {
            w.str(tag::CL_ORD_ID, o.cl_ord_id)
                .str(tag::SYMBOL, o.symbol)
                .char(tag::SIDE, o.side.code())
                .timestamp(tag::TRANSACT_TIME, o.transact_time_ns)
                .decimal(tag::ORDER_QTY, o.order_qty, DECIMALS)
                .char(tag::ORD_TYPE, o.ord_type.code());
            opt_decimal(w, tag::PRICE, o.price);
            if let Some(tif) = o.time_in_force {
                w.char(tag::TIME_IN_FORCE, tif.code());
            }
        }
        Body::OrderCancelRequest(c) => {
            w.str(tag::ORIG_CL_ORD_ID, c.orig_cl_ord_id)
                .str(tag::CL_ORD_ID, c.cl_ord_id)
                .str(tag::SYMBOL, c.symbol)
                .char(tag::SIDE, c.side.code())
                .timestamp(tag::TRANSACT_TIME, c.transact_time_ns);
        }
        Body::OrderCancelReplaceRequest(r) => {
            w.str(tag::ORIG_CL_ORD_ID, r.orig_cl_ord_id)
                .str(tag::CL_ORD_ID, r.cl_ord_id)
                .str(tag::SYMBOL, r.symbol)
                .char(tag::SIDE, r.side.code())
                .timestamp(tag::TRANSACT_TIME, r.transact_time_ns)
                .decimal(tag::ORDER_QTY, r.order_qty, DECIMALS)
                .char(tag::ORD_TYPE, r.ord_type.code());
            opt_decimal(w, tag::PRICE, r.price);
        }
        Body::ExecutionReport(r) => {
            w.str(tag::ORDER_ID, r.order_id).str(tag::CL_ORD_ID, r.cl_ord_id);
            opt_str(w, tag::ORIG_CL_ORD_ID, r.orig_cl_ord_id);
            w.str(tag::EXEC_ID, r.exec_id)
                .char(tag::EXEC_TYPE, r.exec_type.code())
                .char(tag::ORD_STATUS, r.ord_status.code())
                .str(tag::SYMBOL, r.symbol)
                .char(tag::SIDE, r.side.code());
            opt_decimal(w, tag::ORDER_QTY, r.order_qty);
            opt_decimal(w, tag::PRICE, r.price);
            opt_decimal(w, tag::LAST_QTY, r.last_qty);
            opt_decimal(w, tag::LAST_PX, r.last_px);
            w.decimal(tag::LEAVES_QTY, r.leaves_qty, DECIMALS)
                .decimal(tag::CUM_QTY, r.cum_qty, DECIMALS)
                .decimal(tag::AVG_PX, r.avg_px, DECIMALS);
            opt_int(w, tag::ORD_REJ_REASON, r.ord_rej_reason);
            opt_str(w, tag::TEXT, r.text);
        }
        Body::OrderCancelReject(r) => {
            w.str(tag::ORDER_ID, r.order_id)
                .str(tag::CL_ORD_ID, r.cl_ord_id)
                .str(tag::ORIG_CL_ORD_ID, r.orig_cl_ord_id)
                .char(tag::ORD_STATUS, r.ord_status.code())
                .char(tag::CXL_REJ_RESPONSE_TO, r.response_to.code());
            opt_int(w, tag::CXL_REJ_REASON, r.reason);
            opt_str(w, tag::TEXT, r.text);
        }
    }
}

/// Typed access to the fields of one message, with errors that name the field.
struct Reader<'a> {
    fields: Fields<'a>,
    msg_type: char,
}

impl<'a> Reader<'a> {
    fn missing(&self, field: &'static str) -> DecodeError {
        DecodeError::MissingField { protocol: PROTOCOL, msg_type: self.msg_type, field }
    }

    fn invalid(&self, field: &'static str, value: &[u8]) -> DecodeError {
        DecodeError::InvalidField {
            protocol: PROTOCOL,
            msg_type: self.msg_type,
            field,
            value: String::from_utf8_lossy(value).into_owned(),
        }
    }

    fn get(&self, tag: u32) -> Option<&'a [u8]> {
        self.fields.clone().find(|(t, _)| *t == tag).map(|(_, v)| v)
    }

    /// `value` (of `field`) parsed by `parse`, if present.
    fn parse<T>(
        &self,
        value: Option<&'a [u8]>,
        field: &'static str,
        parse: impl Fn(&'a [u8]) -> Option<T>,
    ) -> Result<Option<T>, DecodeError> {
        match value {
            None => Ok(None),
            Some(value) => parse(value).map(Some).ok_or_else(|| self.invalid(field, value)),
        }
    }

    /// `value` (of `field`) parsed by `parse`; it is required.
    fn parse_req<T>(
        &self,
        value: Option<&'a [u8]>,
        field: &'static str,
        parse: impl Fn(&'a [u8]) -> Option<T>,
    ) -> Result<T, DecodeError> {
        self.parse(value, field, parse)?.ok_or_else(|| self.missing(field))
    }

    /// The value of `tag` parsed by `parse`, if present.
    fn opt<T>(
        &self,
        tag: u32,
        field: &'static str,
        parse: impl Fn(&'a [u8]) -> Option<T>,
    ) -> Result<Option<T>, DecodeError> {
        self.parse(self.get(tag), field, parse)
    }

    fn req<T>(
        &self,
        tag: u32,
        field: &'static str,
        parse: impl Fn(&'a [u8]) -> Option<T>,
    ) -> Result<T, DecodeError> {
        self.parse_req(self.get(tag), field, parse)
    }
}

fn text(value: &[u8]) -> Option<&str> {
    std::str::from_utf8(value).ok()
}

fn seq_num(value: &[u8]) -> Option<u64> {
    text(value)?.parse().ok().filter(|&n: &u64| n > 0)
}

fn unsigned(value: &[u8]) -> Option<u64> {
    if !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    text(value)?.parse().ok()
}

fn small(value: &[u8]) -> Option<u32> {
    u32::try_from(unsigned(value)?).ok()
}

fn decimal(value: &[u8]) -> Option<i64> {
    parse_decimal(value, DECIMALS)
}

fn positive(value: &[u8]) -> Option<i64> {
    decimal(value).filter(|&v| v > 0)
}

fn non_negative(value: &[u8]) -> Option<i64> {
    decimal(value).filter(|&v| v >= 0)
}

fn flag(value: &[u8]) -> Option<bool> {
    match value {
        b"Y" => Some(true),
        b"N" => Some(false),
        _ => None,
    }
}

/// Whether `tag` belongs to the standard header (FIX 4.4), which comes right after MsgType.
fn is_header_tag(tag: u32) -> bool {
    matches!(
        tag,
        49 | 56
            | 34
            | 52
            | 43
            | 122
            | 50
            | 57
            | 115
            | 128
            | 97
            | 369
            | 142
            | 143
            | 116
            | 144
            | 129
            | 145
            | 90
            | 91
            | 212
            | 213
            | 347
            | 627
            | 1128
    )
}

/// Reads the standard header in one pass over the fields after MsgType, leaving `fields` at
/// the body.
fn decode_header<'a>(fields: &mut Fields<'a>, msg_type: char) -> Result<Header<'a>, DecodeError> {
    // SenderCompID, TargetCompID, MsgSeqNum, SendingTime, PossDupFlag, OrigSendingTime: the
    // first value of each.
    let mut values: [Option<&'a [u8]>; 6] = [None; 6];
    loop {
        let mut look = fields.clone();
        let Some((t, value)) = look.next().filter(|(t, _)| is_header_tag(*t)) else { break };
        *fields = look;
        let slot = match t {
            tag::SENDER_COMP_ID => 0,
            tag::TARGET_COMP_ID => 1,
            tag::MSG_SEQ_NUM => 2,
            tag::SENDING_TIME => 3,
            tag::POSS_DUP_FLAG => 4,
            tag::ORIG_SENDING_TIME => 5,
            _ => continue,
        };
        values[slot].get_or_insert(value);
    }
    let r = Reader { fields: Fields::checked(&[]), msg_type };
    let [sender, target, seq, sent, poss_dup, orig] = values;
    Ok(Header {
        sender_comp_id: r.parse_req(sender, "SenderCompID (49)", text)?,
        target_comp_id: r.parse_req(target, "TargetCompID (56)", text)?,
        msg_seq_num: r.parse_req(seq, "MsgSeqNum (34)", seq_num)?,
        sending_time_ns: r.parse_req(sent, "SendingTime (52)", parse_utc_timestamp)?,
        poss_dup: r.parse(poss_dup, "PossDupFlag (43)", flag)?.unwrap_or(false),
        orig_sending_time_ns: r.parse(orig, "OrigSendingTime (122)", parse_utc_timestamp)?,
    })
}

/// The price a limit order must have (and a market order may lack).
fn order_price(r: &Reader<'_>, ord_type: OrdType) -> Result<Option<i64>, DecodeError> {
    let price = r.opt(tag::PRICE, "Price (44)", decimal)?;
    if ord_type == OrdType::Limit && price.is_none() {
        return Err(r.missing("Price (44)"));
    }
    Ok(price)
}

fn decode_body(r: Reader<'_>) -> Result<Body<'_>, DecodeError> {
    Ok(match r.msg_type {
        'A' => Body::Logon {
            heart_bt_int_s: r.req(tag::HEART_BT_INT, "HeartBtInt (108)", |v| small(v).filter(|&s| s > 0))?,
            reset_seq_num: r.opt(tag::RESET_SEQ_NUM_FLAG, "ResetSeqNumFlag (141)", flag)?.unwrap_or(false),
        },
        '0' => Body::Heartbeat { test_req_id: r.opt(tag::TEST_REQ_ID, "TestReqID (112)", text)? },
        '1' => Body::TestRequest { test_req_id: r.req(tag::TEST_REQ_ID, "TestReqID (112)", text)? },
        '2' => Body::ResendRequest {
            begin_seq_no: r.req(tag::BEGIN_SEQ_NO, "BeginSeqNo (7)", seq_num)?,
            end_seq_no: r.req(tag::END_SEQ_NO, "EndSeqNo (16)", unsigned)?,
        },
        '3' => Body::Reject {
            ref_seq_num: r.req(tag::REF_SEQ_NUM, "RefSeqNum (45)", unsigned)?,
            reason: r.opt(tag::SESSION_REJECT_REASON, "SessionRejectReason (373)", small)?,
            text: r.opt(tag::TEXT, "Text (58)", text)?,
        },
        '4' => Body::SequenceReset {
            gap_fill: r.opt(tag::GAP_FILL_FLAG, "GapFillFlag (123)", flag)?.unwrap_or(false),
            new_seq_no: r.req(tag::NEW_SEQ_NO, "NewSeqNo (36)", seq_num)?,
        },
        '5' => Body::Logout { text: r.opt(tag::TEXT, "Text (58)", text)? },
        'V' => Body::MarketDataRequest(decode_md_request(&r)?),
        'Y' => Body::MarketDataRequestReject {
            md_req_id: r.req(tag::MD_REQ_ID, "MDReqID (262)", text)?,
            text: r.opt(tag::TEXT, "Text (58)", text)?,
        },
        'W' | 'X' => decode_market_data(r)?,
        'D' => {
            let ord_type = r.req(tag::ORD_TYPE, "OrdType (40)", OrdType::from_code)?;
            Body::NewOrderSingle(NewOrderSingle {
                cl_ord_id: r.req(tag::CL_ORD_ID, "ClOrdID (11)", text)?,
                symbol: r.req(tag::SYMBOL, "Symbol (55)", text)?,
                side: r.req(tag::SIDE, "Side (54)", Side::from_code)?,
                transact_time_ns: r.req(tag::TRANSACT_TIME, "TransactTime (60)", parse_utc_timestamp)?,
                order_qty: r.req(tag::ORDER_QTY, "OrderQty (38)", positive)?,
                ord_type,
                price: order_price(&r, ord_type)?,
                time_in_force: r.opt(tag::TIME_IN_FORCE, "TimeInForce (59)", TimeInForce::from_code)?,
            })
        }
        'F' => Body::OrderCancelRequest(OrderCancelRequest {
            orig_cl_ord_id: r.req(tag::ORIG_CL_ORD_ID, "OrigClOrdID (41)", text)?,
            cl_ord_id: r.req(tag::CL_ORD_ID, "ClOrdID (11)", text)?,
            symbol: r.req(tag::SYMBOL, "Symbol (55)", text)?,
            side: r.req(tag::SIDE, "Side (54)", Side::from_code)?,
            transact_time_ns: r.req(tag::TRANSACT_TIME, "TransactTime (60)", parse_utc_timestamp)?,
        }),
        'G' => {
            let ord_type = r.req(tag::ORD_TYPE, "OrdType (40)", OrdType::from_code)?;
            Body::OrderCancelReplaceRequest(OrderCancelReplaceRequest {
                orig_cl_ord_id: r.req(tag::ORIG_CL_ORD_ID, "OrigClOrdID (41)", text)?,
                cl_ord_id: r.req(tag::CL_ORD_ID, "ClOrdID (11)", text)?,
                symbol: r.req(tag::SYMBOL, "Symbol (55)", text)?,
                side: r.req(tag::SIDE, "Side (54)", Side::from_code)?,
                transact_time_ns: r.req(tag::TRANSACT_TIME, "TransactTime (60)", parse_utc_timestamp)?,
                order_qty: r.req(tag::ORDER_QTY, "OrderQty (38)", positive)?,
                ord_type,
                price: order_price(&r, ord_type)?,
            })
        }
        '8' => Body::ExecutionReport(ExecutionReport {
            order_id: r.req(tag::ORDER_ID, "OrderID (37)", text)?,
            cl_ord_id: r.req(tag::CL_ORD_ID, "ClOrdID (11)", text)?,
            orig_cl_ord_id: r.opt(tag::ORIG_CL_ORD_ID, "OrigClOrdID (41)", text)?,
            exec_id: r.req(tag::EXEC_ID, "ExecID (17)", text)?,
            exec_type: r.req(tag::EXEC_TYPE, "ExecType (150)", ExecType::from_code)?,
            ord_status: r.req(tag::ORD_STATUS, "OrdStatus (39)", OrdStatus::from_code)?,
            symbol: r.req(tag::SYMBOL, "Symbol (55)", text)?,
            side: r.req(tag::SIDE, "Side (54)", Side::from_code)?,
            order_qty: r.opt(tag::ORDER_QTY, "OrderQty (38)", positive)?,
            price: r.opt(tag::PRICE, "Price (44)", decimal)?,
            last_qty: r.opt(tag::LAST_QTY, "LastQty (32)", non_negative)?,
            last_px: r.opt(tag::LAST_PX, "LastPx (31)", decimal)?,
            leaves_qty: r.req(tag::LEAVES_QTY, "LeavesQty (151)", non_negative)?,
            cum_qty: r.req(tag::CUM_QTY, "CumQty (14)", non_negative)?,
            avg_px: r.req(tag::AVG_PX, "AvgPx (6)", decimal)?,
            ord_rej_reason: r.opt(tag::ORD_REJ_REASON, "OrdRejReason (103)", small)?,
            text: r.opt(tag::TEXT, "Text (58)", text)?,
        }),
        '9' => Body::OrderCancelReject(OrderCancelReject {
            order_id: r.req(tag::ORDER_ID, "OrderID (37)", text)?,
            cl_ord_id: r.req(tag::CL_ORD_ID, "ClOrdID (11)", text)?,
            orig_cl_ord_id: r.req(tag::ORIG_CL_ORD_ID, "OrigClOrdID (41)", text)?,
            ord_status: r.req(tag::ORD_STATUS, "OrdStatus (39)", OrdStatus::from_code)?,
            response_to: r.req(
                tag::CXL_REJ_RESPONSE_TO,
                "CxlRejResponseTo (434)",
                CxlRejResponseTo::from_code,
            )?,
            reason: r.opt(tag::CXL_REJ_REASON, "CxlRejReason (102)", small)?,
            text: r.opt(tag::TEXT, "Text (58)", text)?,
        }),
        other => return Err(DecodeError::UnknownType { protocol: PROTOCOL, msg_type: other as u8 }),
    })
}

/// The values of a repeating group of one field: `count_tag`'s count, then that many
/// `member_tag` fields right after it.
fn simple_group<'a, T>(
    r: &Reader<'a>,
    count_tag: u32,
    count_field: &'static str,
    member_tag: u32,
    member_field: &'static str,
    parse: impl Fn(&'a [u8]) -> Option<T>,
) -> Result<Vec<T>, DecodeError> {
    let mut fields = r.fields.clone();
    if !fields.any(|(t, _)| t == count_tag) {
        return Err(r.missing(count_field));
    }
    let count = r.req(count_tag, count_field, |v| small(v).filter(|&n| n > 0 && n <= 1024))?;
    let mut values = Vec::with_capacity(count as usize);
    for _ in 0..count {
        match fields.next() {
            Some((t, value)) if t == member_tag => {
                values.push(parse(value).ok_or_else(|| r.invalid(member_field, value))?)
            }
            _ => return Err(r.invalid(count_field, count.to_string().as_bytes())),
        }
    }
    Ok(values)
}

fn decode_md_request<'a>(r: &Reader<'a>) -> Result<MarketDataRequest<'a>, DecodeError> {
    Ok(MarketDataRequest {
        md_req_id: r.req(tag::MD_REQ_ID, "MDReqID (262)", text)?,
        subscription: r.req(
            tag::SUBSCRIPTION_REQUEST_TYPE,
            "SubscriptionRequestType (263)",
            SubscriptionRequestType::from_code,
        )?,
        market_depth: r.req(tag::MARKET_DEPTH, "MarketDepth (264)", small)?,
        entry_types: simple_group(
            r,
            tag::NO_MD_ENTRY_TYPES,
            "NoMDEntryTypes (267)",
            tag::MD_ENTRY_TYPE,
            "MDEntryType (269)",
            MdEntryType::from_code,
        )?,
        symbols: simple_group(
            r,
            tag::NO_RELATED_SYM,
            "NoRelatedSym (146)",
            tag::SYMBOL,
            "Symbol (55)",
            text,
        )?,
    })
}

/// Decodes a `W` or `X`: the fields before NoMDEntries, then every entry once to check it.
fn decode_market_data(r: Reader<'_>) -> Result<Body<'_>, DecodeError> {
    let snapshot = r.msg_type == 'W';
    let mut fields = r.fields.clone();
    let before_group = fields.remaining();
    if !fields.any(|(t, _)| t == tag::NO_MD_ENTRIES) {
        return Err(r.missing("NoMDEntries (268)"));
    }
    let group = fields.remaining();
    let head = Reader { fields: Fields::checked(&before_group[..before_group.len() - group.len()]), ..r };
    let count =
        head.req(tag::NO_MD_ENTRIES, "NoMDEntries (268)", |v| small(v).filter(|&n| n <= 100_000))? as usize;
    let md_req_id = head.opt(tag::MD_REQ_ID, "MDReqID (262)", text)?;
    let snapshot_symbol = if snapshot { Some(head.req(tag::SYMBOL, "Symbol (55)", text)?) } else { None };
    let mut check = Fields::checked(group);
    for _ in 0..count {
        read_entry(&mut check, snapshot_symbol)?;
    }
    if let Some((t, _)) = check.next() {
        return Err(DecodeError::InvalidField {
            protocol: PROTOCOL,
            msg_type: r.msg_type,
            field: "NoMDEntries (268)",
            value: format!("{count}, but tag {t} follows the last entry"),
        });
    }
    let entries = MdEntries(Entries::Wire { group, count, snapshot_symbol });
    Ok(match snapshot_symbol {
        Some(symbol) => Body::MarketDataSnapshot(MarketDataSnapshot { md_req_id, symbol, entries }),
        None => Body::MarketDataIncremental(MarketDataIncremental { md_req_id, entries }),
    })
}

/// Reads one entry of a `W` (with `snapshot_symbol`) or `X` group: its delimiter field first,
/// then its fields up to the next delimiter.
fn read_entry<'a>(
    fields: &mut Fields<'a>,
    snapshot_symbol: Option<&'a str>,
) -> Result<MdEntry<'a>, DecodeError> {
    let (msg_type, delimiter) =
        if snapshot_symbol.is_some() { ('W', tag::MD_ENTRY_TYPE) } else { ('X', tag::MD_UPDATE_ACTION) };
    let r = Reader { fields: Fields::checked(&[]), msg_type };
    let first = fields.next();
    let Some((_, first_value)) = first.filter(|(t, _)| *t == delimiter) else {
        let value = match first {
            Some((t, _)) => format!("an entry starts with tag {t}, not with {delimiter}"),
            None => "more than the entries that follow".to_owned(),
        };
        return Err(DecodeError::InvalidField {
            protocol: PROTOCOL,
            msg_type,
            field: "NoMDEntries (268)",
            value,
        });
    };
    let (mut action, mut entry_type, mut symbol, mut price, mut size) =
        (None, None, snapshot_symbol, None, None);
    let mut field = Some((delimiter, first_value));
    while let Some((t, value)) = field {
        match t {
            tag::MD_UPDATE_ACTION => {
                action = Some(
                    MdUpdateAction::from_code(value)
                        .ok_or_else(|| r.invalid("MDUpdateAction (279)", value))?,
                )
            }
            tag::MD_ENTRY_TYPE => {
                entry_type =
                    Some(MdEntryType::from_code(value).ok_or_else(|| r.invalid("MDEntryType (269)", value))?)
            }
            tag::SYMBOL if snapshot_symbol.is_none() => {
                symbol = Some(text(value).ok_or_else(|| r.invalid("Symbol (55)", value))?)
            }
            tag::MD_ENTRY_PX => {
                price = Some(positive(value).ok_or_else(|| r.invalid("MDEntryPx (270)", value))?)
            }
            tag::MD_ENTRY_SIZE => {
                size = Some(non_negative(value).ok_or_else(|| r.invalid("MDEntrySize (271)", value))?)
            }
            _ => {}
        }
        let mut look = fields.clone();
        field = match look.next() {
            Some((t, _)) if t == delimiter => None,
            next => {
                *fields = look;
                next
            }
        };
    }
    let action = if snapshot_symbol.is_some() { MdUpdateAction::New } else { action.expect("the delimiter") };
    let size = match (size, action) {
        (Some(size), _) => size,
        (None, MdUpdateAction::Delete) => 0,
        (None, _) => return Err(r.missing("MDEntrySize (271)")),
    };
    Ok(MdEntry {
        action,
        entry_type: entry_type.ok_or_else(|| r.missing("MDEntryType (269)"))?,
        symbol: symbol.ok_or_else(|| r.missing("Symbol (55)"))?,
        price: price.ok_or_else(|| r.missing("MDEntryPx (270)"))?,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::frame;
    use proptest::prelude::*;

    const T0: u64 = 1_795_559_799_123_000_000;

    fn header(seq: u64) -> Header<'static> {
        Header {
            sender_comp_id: "VENUEB",
            target_comp_id: "FEED",
            msg_seq_num: seq,
            sending_time_ns: T0,
            poss_dup: false,
            orig_sending_time_ns: None,
        }
    }

    fn round_trip(body: Body<'_>) {
        let message = Message { header: header(7), body };
        let mut w = Writer::new();
        let bytes = message.encode(&mut w).to_vec();
        let (frame, used) = frame(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(Message::decode(&frame).unwrap(), message, "{}", show(&bytes));
    }

    fn show(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).replace('\x01', "|")
    }

    /// Frames `body` (fields after MsgType, `|` for SOH) as a message of `msg_type` with a valid
    /// header, and decodes it.
    fn decode_body(msg_type: &str, body: &str) -> Result<Message<'static>, DecodeError> {
        let mut w = Writer::new();
        encode_header(&mut w, msg_type, &header(3));
        for field in body.split('|').filter(|f| !f.is_empty()) {
            let (tag, value) = field.split_once('=').unwrap();
            w.str(tag.parse().unwrap(), value);
        }
        let bytes: &'static [u8] = Box::leak(w.finish().to_vec().into_boxed_slice());
        Message::decode(&frame(bytes).unwrap().unwrap().0)
    }

    fn error(msg_type: &str, body: &str) -> String {
        decode_body(msg_type, body).unwrap_err().to_string()
    }

    #[test]
    fn session_messages_round_trip() {
        round_trip(Body::Logon { heart_bt_int_s: 30, reset_seq_num: true });
        round_trip(Body::Heartbeat { test_req_id: None });
        round_trip(Body::Heartbeat { test_req_id: Some("T1") });
        round_trip(Body::TestRequest { test_req_id: "T1" });
        round_trip(Body::ResendRequest { begin_seq_no: 5, end_seq_no: 0 });
        round_trip(Body::Reject { ref_seq_num: 4, reason: Some(1), text: Some("missing 11") });
        round_trip(Body::SequenceReset { gap_fill: true, new_seq_no: 12 });
        round_trip(Body::Logout { text: Some("bye") });
    }

    #[test]
    fn a_resent_header_keeps_poss_dup_and_the_original_sending_time() {
        let message = Message {
            header: Header { poss_dup: true, orig_sending_time_ns: Some(T0 - 5_000_000), ..header(2) },
            body: Body::SequenceReset { gap_fill: true, new_seq_no: 4 },
        };
        let mut w = Writer::new();
        let bytes = message.encode(&mut w).to_vec();
        assert!(show(&bytes).contains("|43=Y|122=20261124-22:36:39.118|"), "{}", show(&bytes));
        assert_eq!(Message::decode(&frame(&bytes).unwrap().unwrap().0).unwrap(), message);
    }

    #[test]
    fn market_data_messages_round_trip() {
        round_trip(Body::MarketDataRequest(MarketDataRequest {
            md_req_id: "md-1",
            subscription: SubscriptionRequestType::SnapshotAndUpdates,
            market_depth: 0,
            entry_types: vec![MdEntryType::Bid, MdEntryType::Offer, MdEntryType::Trade],
            symbols: vec!["AAPL", "MSFT"],
        }));
        round_trip(Body::MarketDataRequestReject { md_req_id: "md-1", text: Some("unknown symbol") });
        let level = |entry_type, price, size| MdEntry {
            action: MdUpdateAction::New,
            entry_type,
            symbol: "AAPL",
            price,
            size,
        };
        let book = [
            level(MdEntryType::Bid, 189_500_000_000, 300_000_000_000),
            level(MdEntryType::Offer, 189_510_000_000, 100_000_000_000),
        ];
        round_trip(Body::MarketDataSnapshot(MarketDataSnapshot {
            md_req_id: Some("md-1"),
            symbol: "AAPL",
            entries: MdEntries::from_slice(&book),
        }));
        round_trip(Body::MarketDataSnapshot(MarketDataSnapshot {
            md_req_id: None,
            symbol: "AAPL",
            entries: MdEntries::from_slice(&[]),
        }));
        let changes = [
            MdEntry { action: MdUpdateAction::Delete, size: 0, ..book[0] },
            MdEntry { action: MdUpdateAction::Change, symbol: "MSFT", ..book[1] },
            level(MdEntryType::Trade, 189_510_000_000, 100_000_000_000),
        ];
        round_trip(Body::MarketDataIncremental(MarketDataIncremental {
            md_req_id: Some("md-1"),
            entries: MdEntries::from_slice(&changes),
        }));
    }

    #[test]
    fn an_incremental_refresh_is_written_as_fix_44_spells_it() {
        let entries = [MdEntry {
            action: MdUpdateAction::Change,
            entry_type: MdEntryType::Offer,
            symbol: "AAPL",
            price: 189_510_000_000,
            size: 200_000_000_000,
        }];
        let message = Message {
            header: header(9),
            body: Body::MarketDataIncremental(MarketDataIncremental {
                md_req_id: None,
                entries: MdEntries::from_slice(&entries),
            }),
        };
        let mut w = Writer::new();
        let text = show(message.encode(&mut w));
        assert!(text.contains("|35=X|49=VENUEB|56=FEED|34=9|52=20261124-22:36:39.123|"), "{text}");
        assert!(text.contains("|268=1|279=1|269=1|55=AAPL|270=189.51|271=200|10="), "{text}");
    }

    #[test]
    fn order_messages_round_trip() {
        let order = NewOrderSingle {
            cl_ord_id: "c1",
            symbol: "AAPL",
            side: Side::Buy,
            transact_time_ns: T0,
            order_qty: 100_000_000_000,
            ord_type: OrdType::Limit,
            price: Some(189_500_000_000),
            time_in_force: Some(TimeInForce::ImmediateOrCancel),
        };
        round_trip(Body::NewOrderSingle(order));
        round_trip(Body::NewOrderSingle(NewOrderSingle {
            ord_type: OrdType::Market,
            price: None,
            time_in_force: None,
            ..order
        }));
        round_trip(Body::OrderCancelRequest(OrderCancelRequest {
            orig_cl_ord_id: "c1",
            cl_ord_id: "c2",
            symbol: "AAPL",
            side: Side::Sell,
            transact_time_ns: T0,
        }));
        round_trip(Body::OrderCancelReplaceRequest(OrderCancelReplaceRequest {
            orig_cl_ord_id: "c1",
            cl_ord_id: "c3",
            symbol: "AAPL",
            side: Side::Buy,
            transact_time_ns: T0,
            order_qty: 50_000_000_000,
            ord_type: OrdType::Limit,
            price: Some(189_400_000_000),
        }));
        round_trip(Body::ExecutionReport(ExecutionReport {
            order_id: "9223372036854775809",
            cl_ord_id: "c1",
            orig_cl_ord_id: None,
            exec_id: "e7",
            exec_type: ExecType::Trade,
            ord_status: OrdStatus::PartiallyFilled,
            symbol: "AAPL",
            side: Side::Buy,
            order_qty: Some(100_000_000_000),
            price: Some(189_500_000_000),
            last_qty: Some(40_000_000_000),
            last_px: Some(189_490_000_000),
            leaves_qty: 60_000_000_000,
            cum_qty: 40_000_000_000,
            avg_px: 189_490_000_000,
            ord_rej_reason: None,
            text: None,
        }));
        round_trip(Body::OrderCancelReject(OrderCancelReject {
            order_id: "NONE",
            cl_ord_id: "c2",
            orig_cl_ord_id: "c1",
            ord_status: OrdStatus::Rejected,
            response_to: CxlRejResponseTo::OrderCancelRequest,
            reason: Some(1),
            text: Some("unknown order"),
        }));
    }

    #[test]
    fn a_missing_required_field_is_named() {
        let order = "11=c1|55=AAPL|54=1|60=20261124-22:36:39|38=100|40=2|44=189.5|";
        assert!(decode_body("D", order).is_ok());
        assert!(error("D", &order.replace("11=c1|", "")).contains("lacks the required field ClOrdID (11)"));
        assert!(
            error("D", &order.replace("44=189.5|", "")).contains("Price (44)"),
            "a limit order needs a price"
        );
        assert!(error("2", "7=1|").contains("EndSeqNo (16)"));
        assert!(error("A", "98=0|").contains("HeartBtInt (108)"));
        assert!(error("X", "262=m|").contains("NoMDEntries (268)"));
        assert!(error("X", "268=1|279=0|269=0|55=A|271=5|").contains("MDEntryPx (270)"));
        assert!(error("X", "268=1|279=0|269=0|270=5|271=5|").contains("Symbol (55)"));
        assert!(error("W", "268=1|269=0|270=5|271=5|").contains("Symbol (55)"));
        assert!(decode_body("X", "268=1|279=2|269=0|55=A|270=5|").is_ok(), "a delete needs no size");
    }

    #[test]
    fn nonsense_values_are_refused_with_the_field_and_value() {
        let order = "11=c1|55=AAPL|54=1|60=20261124-22:36:39|38=100|40=2|44=189.5|";
        let err = error("D", &order.replace("38=100", "38=-5"));
        assert!(err.contains("OrderQty (38)") && err.contains("-5"), "{err}");
        assert!(error("D", &order.replace("54=1", "54=7")).contains("Side (54)"));
        assert!(
            error("D", &order.replace("60=20261124-22:36:39", "60=yesterday")).contains("TransactTime (60)")
        );
        assert!(error("X", "268=1|279=9|269=0|55=A|270=5|271=1|").contains("MDUpdateAction (279)"));
        assert!(error("X", "268=1|279=0|269=0|55=A|270=-5|271=1|").contains("MDEntryPx (270)"));
        assert!(error("4", "123=Y|36=0|").contains("NewSeqNo (36)"));
        assert!(error("4", "123=maybe|36=4|").contains("GapFillFlag (123)"));
    }

    #[test]
    fn a_group_count_that_does_not_match_its_entries_is_refused() {
        let two = "268=2|279=0|269=0|55=A|270=5|271=1|279=0|269=1|55=A|270=6|271=1|";
        assert!(decode_body("X", two).is_ok());
        assert!(error("X", &two.replace("268=2", "268=3")).contains("NoMDEntries (268)"));
        assert!(error("X", &two.replace("268=2", "268=1")).contains("NoMDEntries (268)"));
        assert!(error("X", "268=1|269=0|279=0|55=A|270=5|271=1|").contains("not with 279"));
        let request = "262=m|263=1|264=0|267=2|269=0|146=1|55=A|";
        assert!(error("V", request).contains("NoMDEntryTypes (267)"));
    }

    #[test]
    fn an_unknown_message_type_is_refused() {
        let err = decode_body("Z", "58=hi|").unwrap_err();
        assert!(matches!(err, DecodeError::UnknownType { msg_type: b'Z', .. }), "{err}");
        assert!(matches!(decode_body("AB", "58=hi|"), Err(DecodeError::UnknownType { .. })));
    }

    #[test]
    fn a_header_without_its_sequence_number_is_refused() {
        let mut w = Writer::new();
        w.begin("0")
            .str(tag::SENDER_COMP_ID, "A")
            .str(tag::TARGET_COMP_ID, "B")
            .str(tag::SENDING_TIME, "20261124-22:36:39");
        let bytes = w.finish().to_vec();
        let err = Message::decode(&frame(&bytes).unwrap().unwrap().0).unwrap_err();
        assert!(err.to_string().contains("MsgSeqNum (34)"), "{err}");
    }

    #[test]
    fn a_body_of_a_million_bytes_has_a_seven_digit_length() {
        let text = "x".repeat(1_000_000);
        let mut w = Writer::new();
        w.begin("5").str(tag::TEXT, &text);
        let bytes = w.finish().to_vec();
        assert!(bytes.starts_with(b"8=FIX.4.4\x019=1000009\x0135=5\x01"));
        let (frame, used) = frame(&bytes).unwrap().unwrap();
        assert_eq!((used, frame.get(tag::TEXT).map(<[u8]>::len)), (bytes.len(), Some(1_000_000)));
    }

    fn entry() -> impl Strategy<Value = (u8, u8, i64, i64, usize)> {
        (0u8..3, 0u8..3, 1i64..1_000_000_000_000_000, 0i64..1_000_000_000_000, 0usize..3)
    }

    proptest! {
        #[test]
        fn incremental_refreshes_round_trip(entries in proptest::collection::vec(entry(), 0..20), seq in 1u64..1 << 40) {
            let symbols = ["AAPL", "MSFT", "SPY"];
            let entries: Vec<MdEntry<'_>> = entries
                .iter()
                .map(|&(action, entry_type, price, size, symbol)| {
                    let action = MdUpdateAction::from_code(&[b'0' + action]).unwrap();
                    MdEntry {
                        action,
                        entry_type: MdEntryType::from_code(&[b'0' + entry_type]).unwrap(),
                        symbol: symbols[symbol],
                        price,
                        size: if action == MdUpdateAction::Delete { 0 } else { size },
                    }
                })
                .collect();
            let message = Message {
                header: header(seq),
                body: Body::MarketDataIncremental(MarketDataIncremental {
                    md_req_id: None,
                    entries: MdEntries::from_slice(&entries),
                }),
            };
            let mut w = Writer::new();
            let bytes = message.encode(&mut w).to_vec();
            let decoded = Message::decode(&frame(&bytes).unwrap().unwrap().0).unwrap();
            prop_assert_eq!(&decoded, &message);
            let Body::MarketDataIncremental(x) = decoded.body else { unreachable!() };
            prop_assert_eq!(x.entries.iter().collect::<Vec<_>>(), entries);
        }

        #[test]
        fn decoding_arbitrary_fields_never_panics(
            msg_type in "[0-9A-Z]",
            fields in proptest::collection::vec((prop_oneof![Just(11u32), Just(34), Just(38), Just(44), Just(55), Just(268), Just(269), Just(270), Just(271), Just(279), 1u32..500], "[ -~]{1,6}"), 0..16),
        ) {
            let mut w = Writer::new();
            w.begin(&msg_type);
            for (tag, value) in &fields {
                w.str(*tag, value);
            }
            let bytes = w.finish().to_vec();
            let _ = Message::decode(&frame(&bytes).unwrap().unwrap().0);
        }

        #[test]
        fn decoding_corrupted_messages_never_panics(at in 0usize..400, byte in any::<u8>()) {
            let entries = [MdEntry { action: MdUpdateAction::New, entry_type: MdEntryType::Bid, symbol: "A", price: 5, size: 1 }; 3];
            let message = Message {
                header: header(1),
                body: Body::MarketDataIncremental(MarketDataIncremental { md_req_id: Some("m"), entries: MdEntries::from_slice(&entries) }),
            };
            let mut w = Writer::new();
            let mut bytes = message.encode(&mut w).to_vec();
            let at = at % bytes.len();
            bytes[at] = byte;
            if let Ok(Some((frame, _))) = frame(&bytes) {
                let _ = Message::decode(&frame).map(|m| format!("{m:?}"));
            }
        }
    }
}
