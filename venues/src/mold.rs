//! Venue A's MoldUDP64 side: packs ITCH messages into sequenced packets and keeps every
//! message of the session so its re-request server can send any of them again.

use protocols::moldudp64::{header_only, PacketBuilder, Request, Session, END_OF_SESSION};

/// Largest UDP payload a packet may fill (an Ethernet MTU less IP and UDP headers).
pub const MAX_PACKET: usize = 1472;

/// The most messages one re-request is answered with, however many it asks for, so a 20-byte
/// request cannot draw megabytes. It equals what our feed asks for at most
/// (`feeds::itch_feed::MAX_REREQUEST`, checked by a test); the venue keeps its own constant as
/// it is the venue's policy and the venue does not depend on the feed handlers.
pub const MAX_SERVED_PER_REQUEST: u64 = 1024;

/// The sequenced message store and packetiser of one session.
///
/// Every message of the session is kept, back to back in one buffer (no allocation per
/// message), with the offset where each one ends.
#[derive(Debug, Clone)]
pub struct MoldPublisher {
    session: Session,
    /// The messages' bytes, in sequence order.
    bytes: Vec<u8>,
    /// Where message `n` (numbered from 1) ends in `bytes`, at index `n - 1`.
    ends: Vec<usize>,
}

impl MoldPublisher {
    /// A session whose first message will be sequence 1.
    pub fn new(session: Session) -> Self {
        Self { session, bytes: Vec::new(), ends: Vec::new() }
    }

    /// The sequence number the next message gets.
    pub fn next_sequence(&self) -> u64 {
        self.ends.len() as u64 + 1
    }

    /// Sequences one message; [`MoldPublisher::packets_from`] packs it.
    pub fn append(&mut self, message: &[u8]) {
        self.bytes.extend_from_slice(message);
        self.ends.push(self.bytes.len());
    }

    /// Sequences `messages` and returns the packets that carry them, in order.
    pub fn publish<'m>(&mut self, messages: impl IntoIterator<Item = &'m [u8]>) -> Vec<Vec<u8>> {
        let first = self.next_sequence();
        messages.into_iter().for_each(|message| self.append(message));
        self.packets_from(first)
    }

    /// The packets of every message from sequence `first` on.
    pub fn packets_from(&self, first: u64) -> Vec<Vec<u8>> {
        self.packets(first, self.next_sequence())
    }

    /// Message `sequence` (numbered from 1, and stored).
    fn message(&self, sequence: u64) -> &[u8] {
        let index = (sequence - 1) as usize;
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.bytes[start..self.ends[index]]
    }

    /// Packets of messages `from .. to` (sequence numbers) from the store.
    fn packets(&self, from: u64, to: u64) -> Vec<Vec<u8>> {
        let mut packets = Vec::new();
        let mut builder = PacketBuilder::new(self.session, from, MAX_PACKET);
        for message in (from..to).map(|sequence| self.message(sequence)) {
            if !builder.push(message) {
                packets.push(builder.finish().to_vec());
                builder.reset();
                assert!(builder.push(message), "an ITCH message always fits an empty packet");
            }
        }
        if builder.count() > 0 {
            packets.push(builder.finish().to_vec());
        }
        packets
    }

    /// A heartbeat carrying the next sequence number.
    pub fn heartbeat(&self) -> [u8; 20] {
        header_only(self.session, self.next_sequence(), 0)
    }

    /// The end-of-session packet.
    pub fn end_of_session(&self) -> [u8; 20] {
        header_only(self.session, self.next_sequence(), END_OF_SESSION)
    }

    /// The re-request server: the packets a request asks for, as far as they exist and at most
    /// [`MAX_SERVED_PER_REQUEST`] messages. A request for another session or for nothing gets
    /// nothing.
    pub fn serve(&self, request: &Request) -> Vec<Vec<u8>> {
        if request.session != self.session || request.sequence == 0 || request.count == 0 {
            return Vec::new();
        }
        let count = u64::from(request.count).min(MAX_SERVED_PER_REQUEST);
        let from = request.sequence.min(self.next_sequence());
        let to = request.sequence.saturating_add(count).min(self.next_sequence());
        if from >= to {
            return Vec::new();
        }
        self.packets(from, to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocols::moldudp64::{session, Packet};

    #[test]
    fn messages_are_numbered_from_one_and_served_again_on_request() {
        let mut publisher = MoldPublisher::new(session("A1"));
        let packets = publisher.publish([&b"one"[..], b"two", b"three"]);
        assert_eq!(packets.len(), 1);
        let packet = Packet::decode(&packets[0]).unwrap();
        assert_eq!(packet.header.sequence, 1);
        let again = publisher.serve(&Request { session: session("A1"), sequence: 2, count: 5 });
        let messages: Vec<(u64, Vec<u8>)> =
            Packet::decode(&again[0]).unwrap().messages().map(|(s, m)| (s, m.to_vec())).collect();
        assert_eq!(messages, [(2, b"two".to_vec()), (3, b"three".to_vec())]);
        assert!(publisher.serve(&Request { session: session("B1"), sequence: 1, count: 1 }).is_empty());
        assert!(publisher.serve(&Request { session: session("A1"), sequence: 9, count: 1 }).is_empty());
    }

    #[test]
    fn a_request_for_more_than_the_cap_is_answered_with_the_first_1024_messages() {
        let mut publisher = MoldPublisher::new(session("A1"));
        publisher.publish(std::iter::repeat_n(&b"message"[..], 61_000));
        let answer = publisher.serve(&Request { session: session("A1"), sequence: 10, count: 60_000 });
        let sequences: Vec<u64> = answer
            .iter()
            .flat_map(|p| Packet::decode(p).unwrap().messages().map(|(s, _)| s).collect::<Vec<_>>())
            .collect();
        assert_eq!(sequences, (10..10 + MAX_SERVED_PER_REQUEST).collect::<Vec<_>>());
    }

    #[test]
    fn the_venues_cap_is_what_the_feed_asks_for_at_most() {
        assert_eq!(MAX_SERVED_PER_REQUEST, feeds::itch_feed::MAX_REREQUEST);
    }

    #[test]
    fn many_messages_span_packets_that_fit_the_mtu() {
        let mut publisher = MoldPublisher::new(session("A1"));
        let message = [7u8; 40];
        let packets = publisher.publish(std::iter::repeat_n(&message[..], 100));
        assert!(packets.len() > 1);
        assert!(packets.iter().all(|p| p.len() <= MAX_PACKET));
        let total: u64 = packets.iter().map(|p| u64::from(Packet::decode(p).unwrap().header.count)).sum();
        assert_eq!(total, 100);
    }
}
