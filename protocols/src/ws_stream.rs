//! A WebSocket connection over any byte stream (`Read + Write`, a `TcpStream` in practice),
//! blocking with timeouts or non-blocking: [`crate::websocket`]'s frames read into one reusable
//! buffer, messages reassembled from fragments, pings answered, outgoing frames queued.
//!
//! Reads and writes never wait longer than the stream lets them: a read that would block (a
//! non-blocking socket with nothing to read, or a blocking one whose read timeout passed) makes
//! [`WsStream::read_message`] return `Ok(None)`, and a write that would block leaves the rest
//! queued for [`WsStream::flush`]. The queue is bounded, so a peer that stops reading is found
//! out ([`WsError::SlowPeer`]) instead of growing it without end.
//!
//! Once the buffers have grown to the largest message, reading and sending allocate nothing.

use std::io::{self, ErrorKind, Read, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::websocket::{
    self, close_payload, decode_frame, encode_frame, parse_close, CloseCode, FrameError, HandshakeError,
    Opcode, Role, MAX_HANDSHAKE_LEN, MAX_HEADER_LEN,
};

/// Limits of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsLimits {
    /// The largest message (and frame) accepted, in bytes.
    pub max_message: usize,
    /// The most bytes queued for a peer that is not reading before it counts as too slow.
    pub max_queued: usize,
}

impl Default for WsLimits {
    /// 1 MiB messages, 4 MiB queued.
    fn default() -> Self {
        Self { max_message: 1 << 20, max_queued: 4 << 20 }
    }
}

/// Why a connection failed or ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WsError {
    /// The socket failed.
    #[error("WebSocket: I/O: {0}")]
    Io(#[from] io::Error),
    /// The peer closed the TCP connection without a close frame.
    #[error("WebSocket: the peer closed the connection")]
    Eof,
    /// The opening handshake failed.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// The opening handshake did not complete in time.
    #[error("WebSocket: the opening handshake took longer than {0:?}")]
    HandshakeTimeout(Duration),
    /// The peer sent a frame we refuse.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The peer broke the message rules: fragments out of order, text that is not UTF-8, a
    /// message over the limit.
    #[error("WebSocket: protocol violation: {0}")]
    Protocol(&'static str),
    /// More than [`WsLimits::max_queued`] bytes wait for a peer that is not reading.
    #[error("WebSocket: {queued} bytes queued for a peer that is not reading (limit {limit})")]
    SlowPeer {
        /// Bytes queued.
        queued: usize,
        /// The limit.
        limit: usize,
    },
    /// The connection is closing or closed: nothing more may be sent.
    #[error("WebSocket: the connection is closed")]
    Closed,
}

impl WsError {
    /// The close code to send the peer for this error, if it is the peer's fault.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Self::Frame(FrameError::TooLarge { .. }) => Some(CloseCode::MESSAGE_TOO_BIG),
            Self::Frame(_) | Self::Protocol(_) => Some(CloseCode::PROTOCOL_ERROR),
            _ => None,
        }
    }
}

/// A message read from the peer; text and binary borrow the connection's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsMessage<'a> {
    /// A text message.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
    /// The peer started the closing handshake (answered already); the code and reason if any.
    Close(Option<(CloseCode, &'a str)>),
}

/// Where a finished message sits.
enum Ready {
    /// In the input buffer (a message of one frame).
    Input(Opcode, std::ops::Range<usize>),
    /// In the reassembly buffer (a fragmented message).
    Assembled(Opcode),
    /// A close frame's payload, in the input buffer.
    Close(std::ops::Range<usize>),
}

/// Masking keys for a client's frames (RFC 6455 §5.3 asks them to be unpredictable to
/// intermediaries; these come from a splitmix64 sequence seeded by the clock).
#[derive(Debug)]
struct Masks(u64);

impl Masks {
    fn new() -> Self {
        Self(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0x9E37_79B9, |d| d.as_nanos() as u64))
    }

    fn next(&mut self) -> [u8; 4] {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) as u32).to_le_bytes()
    }
}

/// One end of an open WebSocket connection.
#[derive(Debug)]
pub struct WsStream<S> {
    stream: S,
    role: Role,
    limits: WsLimits,
    input: Vec<u8>,
    start: usize,
    end: usize,
    assembled: Vec<u8>,
    fragmented: Option<Opcode>,
    output: Vec<u8>,
    written: usize,
    masks: Masks,
    close_sent: bool,
    close_received: bool,
}

impl<S: Read + Write> WsStream<S> {
    /// A connection whose handshake is done; `already_read` are bytes read past the handshake.
    pub fn new(stream: S, role: Role, limits: WsLimits, already_read: &[u8]) -> Self {
        let mut input = vec![0; (limits.max_message + MAX_HEADER_LEN).max(already_read.len())];
        input[..already_read.len()].copy_from_slice(already_read);
        Self {
            stream,
            role,
            limits,
            input,
            start: 0,
            end: already_read.len(),
            assembled: Vec::new(),
            fragmented: None,
            output: Vec::new(),
            written: 0,
            masks: Masks::new(),
            close_sent: false,
            close_received: false,
        }
    }

    /// Opens a connection as a client: sends the request for `path` on `host` and waits at
    /// most `timeout` for the server's answer. The stream must be blocking (with a read timeout
    /// of its own, for instance the same one).
    pub fn connect(
        mut stream: S,
        host: &str,
        path: &str,
        limits: WsLimits,
        timeout: Duration,
    ) -> Result<Self, WsError> {
        let mut masks = Masks::new();
        let key_bytes: Vec<u8> = (0..4).flat_map(|_| masks.next()).collect();
        let key = websocket::base64(&key_bytes);
        stream.write_all(websocket::client_request(host, path, &key).as_bytes())?;
        let (len, head) = read_head(&mut stream, timeout, |buf| websocket::parse_response(buf, &key))?;
        Ok(Self::new(stream, Role::Client, limits, &head[len..]))
    }

    /// Accepts a connection as a server: reads the client's request (waiting at most `timeout`),
    /// answers it, and returns the connection and the path the client asked for. A request we
    /// cannot read is answered with 400 Bad Request before the error is returned. The stream must
    /// be blocking (with a read timeout).
    pub fn accept(mut stream: S, limits: WsLimits, timeout: Duration) -> Result<(Self, String), WsError> {
        let (request, head) = match read_head(&mut stream, timeout, websocket::parse_request) {
            Ok(((request, len), head)) => (request, head[len..].to_vec()),
            Err(WsError::Handshake(error)) => {
                // Best effort: the client learns why before the connection drops.
                let _ = stream.write_all(websocket::reject_response(&error).as_bytes());
                return Err(error.into());
            }
            Err(other) => return Err(other),
        };
        stream.write_all(websocket::accept_response(&request.key).as_bytes())?;
        Ok((Self::new(stream, Role::Server, limits, &head), request.path))
    }

    /// The underlying stream (to set socket options).
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// Whether a close frame was sent or received: the connection takes no more messages.
    pub fn is_closing(&self) -> bool {
        self.close_sent || self.close_received
    }

    /// Bytes queued and not yet written.
    pub fn queued(&self) -> usize {
        self.output.len() - self.written
    }

    /// The next message, or `Ok(None)` if none is complete and the stream has nothing more to
    /// read for now. Pings are answered and pongs skipped on the way; a close frame is answered
    /// and returned.
    pub fn read_message(&mut self) -> Result<Option<WsMessage<'_>>, WsError> {
        let ready = loop {
            if let Some(ready) = self.next_frame()? {
                break ready;
            }
            if !self.fill()? {
                self.flush()?;
                return Ok(None);
            }
        };
        Ok(Some(match ready {
            Ready::Input(opcode, range) => message(opcode, &self.input[range])?,
            Ready::Assembled(opcode) => message(opcode, &self.assembled)?,
            Ready::Close(range) => WsMessage::Close(parse_close(&self.input[range])?),
        }))
    }

    /// Decodes buffered frames until one finishes a message.
    fn next_frame(&mut self) -> Result<Option<Ready>, WsError> {
        let peer = match self.role {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        };
        while let Some(head) =
            decode_frame(&mut self.input[self.start..self.end], peer, self.limits.max_message)?
        {
            let payload = self.start + head.payload.start..self.start + head.payload.end;
            self.start = payload.end;
            match (head.opcode, self.fragmented) {
                (Opcode::Ping, _) => {
                    self.queue(Opcode::Pong, payload.start, payload.end)?;
                    self.flush()?;
                }
                (Opcode::Pong, _) => {}
                (Opcode::Close, _) => {
                    parse_close(&self.input[payload.clone()])?;
                    self.close_received = true;
                    if !self.close_sent {
                        self.queue(Opcode::Close, payload.start, payload.end)?;
                        self.close_sent = true;
                        self.flush()?;
                    }
                    return Ok(Some(Ready::Close(payload)));
                }
                (Opcode::Text | Opcode::Binary, Some(_)) => {
                    return Err(WsError::Protocol("a new message began inside a fragmented one"))
                }
                (Opcode::Continuation, None) => {
                    return Err(WsError::Protocol("a continuation frame began a message"))
                }
                (opcode @ (Opcode::Text | Opcode::Binary), None) if head.fin => {
                    return Ok(Some(Ready::Input(opcode, payload)))
                }
                (opcode @ (Opcode::Text | Opcode::Binary), None) => {
                    self.fragmented = Some(opcode);
                    self.assembled.clear();
                    self.assembled.extend_from_slice(&self.input[payload]);
                }
                (Opcode::Continuation, Some(opcode)) => {
                    if self.assembled.len() + payload.len() > self.limits.max_message {
                        return Err(WsError::Protocol("a fragmented message exceeds the size limit"));
                    }
                    self.assembled.extend_from_slice(&self.input[payload]);
                    if head.fin {
                        self.fragmented = None;
                        return Ok(Some(Ready::Assembled(opcode)));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Reads more bytes; `false` if the stream has none for now.
    fn fill(&mut self) -> Result<bool, WsError> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.input.len() {
            self.input.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        loop {
            match self.stream.read(&mut self.input[self.end..]) {
                Ok(0) => return Err(WsError::Eof),
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if would_block(&e) => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Queues a frame whose payload is `self.input[start..end]` (echoing a ping or a close).
    fn queue(&mut self, opcode: Opcode, start: usize, end: usize) -> Result<(), WsError> {
        let mask = (self.role == Role::Client).then(|| self.masks.next());
        encode_frame(&mut self.output, true, opcode, &self.input[start..end], mask);
        self.check_queue()
    }

    fn check_queue(&self) -> Result<(), WsError> {
        match self.queued() {
            queued if queued > self.limits.max_queued => {
                Err(WsError::SlowPeer { queued, limit: self.limits.max_queued })
            }
            _ => Ok(()),
        }
    }

    /// Sends a message (queued if the stream cannot take it all now).
    pub fn send(&mut self, opcode: Opcode, payload: &[u8]) -> Result<(), WsError> {
        self.queue_message(opcode, payload)?;
        self.flush()?;
        self.check_queue()
    }

    /// Queues a message without writing: [`flush`](Self::flush) writes everything queued
    /// together (one system call for many messages).
    pub fn queue_message(&mut self, opcode: Opcode, payload: &[u8]) -> Result<(), WsError> {
        if self.close_sent {
            return Err(WsError::Closed);
        }
        let mask = (self.role == Role::Client).then(|| self.masks.next());
        encode_frame(&mut self.output, true, opcode, payload, mask);
        self.check_queue()
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), WsError> {
        self.send(Opcode::Text, text.as_bytes())
    }

    /// Sends a ping.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), WsError> {
        self.send(Opcode::Ping, payload)
    }

    /// Starts the closing handshake with `code` and `reason`.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), WsError> {
        self.send(Opcode::Close, &close_payload(code, reason))?;
        self.close_sent = true;
        Ok(())
    }

    /// Writes what is queued; `true` once nothing is left.
    pub fn flush(&mut self) -> Result<bool, WsError> {
        while self.written < self.output.len() {
            match self.stream.write(&self.output[self.written..]) {
                Ok(0) => return Err(io::Error::from(ErrorKind::WriteZero).into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if would_block(&e) => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
        self.output.clear();
        self.written = 0;
        Ok(true)
    }
}

fn would_block(error: &io::Error) -> bool {
    matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

fn message(opcode: Opcode, payload: &[u8]) -> Result<WsMessage<'_>, WsError> {
    Ok(match opcode {
        Opcode::Text => WsMessage::Text(
            std::str::from_utf8(payload).map_err(|_| WsError::Protocol("a text message is not UTF-8"))?,
        ),
        _ => WsMessage::Binary(payload),
    })
}

/// Reads an HTTP head from a blocking `stream` until `parse` finds it complete, for at most
/// `timeout`; returns what `parse` found and every byte read.
fn read_head<S: Read, T>(
    stream: &mut S,
    timeout: Duration,
    parse: impl Fn(&[u8]) -> Result<Option<T>, HandshakeError>,
) -> Result<(T, Vec<u8>), WsError> {
    let deadline = Instant::now() + timeout;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(found) = parse(&head)? {
            return Ok((found, head));
        }
        if Instant::now() >= deadline || head.len() > MAX_HANDSHAKE_LEN {
            return Err(WsError::HandshakeTimeout(timeout));
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err(WsError::Eof),
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if would_block(&e) => return Err(WsError::HandshakeTimeout(timeout)),
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::thread;

    const TIMEOUT: Duration = Duration::from_secs(5);

    fn limits() -> WsLimits {
        WsLimits { max_message: 100_000, max_queued: 1 << 20 }
    }

    fn loopback() -> (TcpListener, String) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        (listener, addr)
    }

    fn connected(addr: &str) -> TcpStream {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        stream
    }

    /// Reads until a text, binary or close message arrives (bounded by the read timeout).
    fn next(ws: &mut WsStream<TcpStream>) -> String {
        for _ in 0..100 {
            match ws.read_message().unwrap() {
                Some(WsMessage::Text(t)) => return t.to_owned(),
                Some(WsMessage::Binary(b)) => return format!("binary {}", b.len()),
                Some(WsMessage::Close(c)) => return format!("close {c:?}"),
                None => {}
            }
        }
        panic!("no message")
    }

    #[test]
    fn our_server_talks_to_a_tungstenite_client() {
        let (listener, addr) = loopback();
        let client = thread::spawn(move || {
            let (mut ws, _) = tungstenite::connect(format!("ws://{addr}/md")).unwrap();
            ws.send(tungstenite::Message::text("hello")).unwrap();
            let mut got = Vec::new();
            loop {
                match ws.read().unwrap() {
                    tungstenite::Message::Text(t) => got.push(t.to_string()),
                    tungstenite::Message::Binary(b) => got.push(format!("binary {}", b.len())),
                    tungstenite::Message::Ping(p) => got.push(format!("ping {p:?}")),
                    tungstenite::Message::Close(c) => {
                        got.push(format!("close {}", c.map_or(0, |c| u16::from(c.code))));
                        break;
                    }
                    _ => {}
                }
            }
            // tungstenite answers the close; drain until it reports the connection closed.
            while ws.read().is_ok() {}
            got
        });
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let (mut ws, path) = WsStream::accept(stream, limits(), TIMEOUT).unwrap();
        assert_eq!(path, "/md");
        assert_eq!(next(&mut ws), "hello");
        ws.send_text(&"x".repeat(70_000)).unwrap();
        ws.send(Opcode::Binary, &[1, 2, 3]).unwrap();
        ws.ping(b"hb").unwrap();
        ws.close(CloseCode::GOING_AWAY, "done").unwrap();
        assert_eq!(next(&mut ws), "close Some((CloseCode(1001), \"done\"))", "tungstenite echoes our close");
        drop(ws);
        let got = client.join().unwrap();
        assert_eq!(got[0].len(), 70_000);
        assert_eq!(got[1..], ["binary 3", "ping b\"hb\"", "close 1001"]);
    }

    #[test]
    fn our_client_talks_to_a_tungstenite_server() {
        let (listener, addr) = loopback();
        let server = thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut ws = tungstenite::accept(stream).unwrap();
            let mut got = Vec::new();
            loop {
                match ws.read().unwrap() {
                    tungstenite::Message::Text(t) if t.as_str() == "bye" => break,
                    tungstenite::Message::Text(t) => {
                        got.push(t.to_string());
                        ws.send(tungstenite::Message::text(format!("echo {t}"))).unwrap();
                        ws.send(tungstenite::Message::Ping(b"p".to_vec().into())).unwrap();
                    }
                    tungstenite::Message::Pong(p) => got.push(format!("pong {p:?}")),
                    _ => {}
                }
            }
            ws.close(None).unwrap();
            while ws.read().is_ok() {}
            got
        });
        let mut ws = WsStream::connect(connected(&addr), &addr, "/api", limits(), TIMEOUT).unwrap();
        ws.send_text("one").unwrap();
        assert_eq!(next(&mut ws), "echo one");
        ws.send_text(&"é".repeat(40_000)).unwrap();
        assert_eq!(next(&mut ws).chars().count(), 40_005);
        ws.send_text("bye").unwrap();
        assert_eq!(next(&mut ws), "close None");
        assert!(ws.is_closing());
        assert!(matches!(ws.send_text("late"), Err(WsError::Closed)));
        let got = server.join().unwrap();
        assert_eq!(got[0], "one");
        assert!(got.contains(&"pong b\"p\"".to_owned()), "our client answered the ping: {got:?}");
    }

    #[test]
    fn a_fragmented_message_is_reassembled_and_a_bad_fragment_refused() {
        let mut wire = Vec::new();
        let mask = Some([1, 2, 3, 4]);
        encode_frame(&mut wire, false, Opcode::Text, b"hel", mask);
        encode_frame(&mut wire, true, Opcode::Ping, b"!", mask);
        encode_frame(&mut wire, true, Opcode::Continuation, b"lo", mask);
        encode_frame(&mut wire, true, Opcode::Continuation, b"?", mask);
        let mut ws = WsStream::new(io::Cursor::new(Vec::new()), Role::Server, limits(), &wire);
        assert_eq!(ws.read_message().unwrap(), Some(WsMessage::Text("hello")));
        assert!(matches!(ws.read_message(), Err(WsError::Protocol("a continuation frame began a message"))));
        assert_eq!(ws.get_ref().get_ref(), b"\x8a\x01!", "the ping was answered with an unmasked pong");
    }

    #[test]
    fn a_dead_peer_a_bad_frame_and_a_slow_peer_are_typed_errors() {
        let mut ws = WsStream::new(io::Cursor::new(Vec::new()), Role::Client, limits(), b"\x81\x03ab");
        assert!(matches!(ws.read_message(), Err(WsError::Eof)), "the peer went away mid-frame");
        let mut ws = WsStream::new(io::Cursor::new(Vec::new()), Role::Client, limits(), b"\x81\x81abcd!");
        let error = ws.read_message().unwrap_err();
        assert!(matches!(error, WsError::Frame(FrameError::Masking { from: Role::Server })));
        assert_eq!(error.close_code(), Some(CloseCode::PROTOCOL_ERROR));
        let mut ws = WsStream::new(io::Cursor::new(Vec::new()), Role::Client, limits(), b"\x81\x02\xff\xfe");
        assert!(matches!(ws.read_message(), Err(WsError::Protocol("a text message is not UTF-8"))));

        let (listener, addr) = loopback();
        let silent = thread::spawn(move || listener.accept().map(|(s, _)| s));
        let stream = connected(&addr);
        let peer = silent.join().unwrap().unwrap();
        stream.set_nonblocking(true).unwrap();
        let mut ws =
            WsStream::new(stream, Role::Server, WsLimits { max_message: 1000, max_queued: 100_000 }, &[]);
        assert!(matches!(ws.read_message(), Ok(None)), "nothing to read yet");
        let error = (0..10_000).find_map(|_| ws.send_text(&"z".repeat(1000)).err()).expect("the queue fills");
        assert!(matches!(error, WsError::SlowPeer { limit: 100_000, .. }), "{error}");
        drop(peer);
    }

    #[test]
    fn a_server_refuses_a_request_that_is_not_an_upgrade_with_400() {
        let (listener, addr) = loopback();
        let client = thread::spawn(move || {
            let mut stream = connected(&addr);
            stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            answer
        });
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let error = WsStream::accept(stream, limits(), TIMEOUT).unwrap_err();
        assert!(matches!(error, WsError::Handshake(HandshakeError::Header { name: "Upgrade", .. })));
        assert!(client.join().unwrap().starts_with("HTTP/1.1 400 Bad Request"));
    }
}
