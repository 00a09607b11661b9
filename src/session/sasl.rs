//! The SASL exchange on a connection (PROTOCOL.md §11.3): tokens go out as
//! requests with ordinary xids (opcode 102) before anything else, and the
//! session reports "connected" only once the exchange completed.

use bytes::{Bytes, BytesMut};
use std::time::Instant;

use super::{rng, DisconnectReason, Phase, Report, Session};
use crate::proto::jute::{Reader, Record};
use crate::proto::{xid, Request, SaslPacket};
use crate::sasl::{Exchange, Step};

/// Per-connection SASL state, held in [`Phase::Connected`] until the
/// exchange completes.
#[derive(Debug)]
pub(super) struct Authenticating {
    exchange: Exchange,
    round: Round,
    /// What to report once authenticated.
    report: Report,
}

#[derive(Debug)]
enum Round {
    /// This token is to be sent.
    Send(Vec<u8>),
    /// A token went out under this xid; waiting for the answer.
    Sent(i32),
}

impl Session {
    /// A fresh exchange for a new connection, if the config asks for SASL.
    pub(super) fn start_sasl(&mut self, report: Report) -> Option<Box<Authenticating>> {
        let credentials = self.config.sasl.as_ref()?;
        // The client nonce must be unpredictable to the server (RFC 2831
        // §2.1.2): secret-keyed, except in a seeded (simulated, replayed)
        // session.
        let mut nonce = rng::unpredictable();
        if self.seeded {
            nonce[..8].copy_from_slice(&self.rng.next_u64().to_be_bytes());
            nonce[8..].copy_from_slice(&self.rng.next_u64().to_be_bytes());
        }
        let cnonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let (exchange, token) = Exchange::start(credentials, cnonce);
        Some(Box::new(Authenticating {
            exchange,
            round: Round::Send(token),
            report,
        }))
    }

    fn authenticating(&mut self) -> Option<&mut Authenticating> {
        match &mut self.phase {
            Phase::Connected {
                sasl: Some(auth), ..
            } => Some(auth),
            _ => None,
        }
    }

    /// Whether a reply with this xid answers the SASL token in flight.
    pub(super) fn sasl_awaits(&self, got: i32) -> bool {
        matches!(
            &self.phase,
            Phase::Connected { sasl: Some(auth), .. } if matches!(auth.round, Round::Sent(x) if x == got)
        )
    }

    /// Sends the next token, if one is due.
    pub(super) fn write_sasl(&mut self, out: &mut BytesMut) {
        let next = xid::next(self.next_xid);
        let Some(auth) = self.authenticating() else {
            return;
        };
        if matches!(auth.round, Round::Sent(_)) {
            return; // waiting for the answer
        }
        let Round::Send(token) = std::mem::replace(&mut auth.round, Round::Sent(next)) else {
            return;
        };
        self.next_xid = next;
        let packet = SaslPacket {
            token: Bytes::from(token),
        };
        self.write_frame(out, next, &Request::Sasl(packet));
    }

    /// The server's answer to a token: its next challenge, or a refusal.
    pub(super) fn handle_sasl_reply(&mut self, err: i32, body: Bytes, now: Instant) {
        if err != 0 {
            // -115 (or -124 where SASL is enforced), then the server closes:
            // these credentials will not do anywhere.
            return self.auth_failed();
        }
        let packet = match SaslPacket::decode(&mut Reader::new(body)) {
            Ok(p) => p,
            Err(e) => return self.drop_connection(now, DisconnectReason::Malformed(e)),
        };
        if packet.token.is_empty() {
            // No challenge (no SASL configured on the server), or no proof
            // (a server that lets failed clients on, allowSaslFailedClients):
            // either way these credentials are not accepted. Retrying
            // would loop for ever.
            return self.auth_failed();
        }
        let Some(auth) = self.authenticating() else {
            return;
        };
        match auth.exchange.step(&packet.token) {
            Ok(Step::Respond(token)) => auth.round = Round::Send(token),
            Ok(Step::Done) => {
                let report = auth.report;
                if let Phase::Connected { sasl, .. } = &mut self.phase {
                    *sasl = None;
                }
                self.report_connected(report);
            }
            Err(e) => self.drop_connection(now, DisconnectReason::Sasl(e)),
        }
    }
}
