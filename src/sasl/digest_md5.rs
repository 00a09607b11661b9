//! DIGEST-MD5 (RFC 2831), client side, authentication only (`qop=auth`).
//!
//! Two rounds: the server's challenge (realm, nonce) is answered with a
//! digest of the password; the server's answer (`rspauth`) proves it knows
//! the password too, and is checked before the exchange counts as done.

use md5::{Digest, Md5};

use super::{SaslError, Step, DIGEST_MD5_SERVER, SERVICE};
use crate::Secret;

/// The nonce count: one authentication per nonce.
const NC: &str = "00000001";

enum State {
    /// Waiting for the server's challenge.
    Challenge,
    /// Sent the response; waiting for `rspauth=<this>`.
    Proof(String),
    /// Both sides proved themselves.
    Done,
}

pub(crate) struct Client {
    username: String,
    password: Secret,
    cnonce: String,
    state: State,
}

/// The expected proof and the nonce, with the server's nonce, would allow
/// an offline guess at the password: neither is shown.
impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Challenge => "waiting for the challenge",
            State::Proof(_) => "waiting for the server's proof",
            State::Done => "done",
        };
        f.debug_struct("DigestMd5")
            .field("username", &self.username)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub(crate) fn new(username: String, password: Secret, cnonce: String) -> Client {
        Client {
            username,
            password,
            cnonce,
            state: State::Challenge,
        }
    }

    pub(crate) fn step(&mut self, token: &[u8]) -> Result<Step, SaslError> {
        match &self.state {
            State::Challenge => {
                let (response, proof) = self.respond(token)?;
                self.state = State::Proof(proof);
                Ok(Step::Respond(response.into_bytes()))
            }
            State::Proof(expected) => {
                let fields = Fields::parse(token)?;
                match fields.get("rspauth") {
                    Some(got) if got.eq_ignore_ascii_case(expected) => {
                        self.state = State::Done;
                        Ok(Step::Done)
                    }
                    Some(_) => Err(SaslError::ServerNotAuthenticated),
                    None => Err(SaslError::MalformedChallenge),
                }
            }
            State::Done => Err(SaslError::UnexpectedChallenge),
        }
    }

    /// The response to a challenge, and the `rspauth` the server must send back.
    fn respond(&self, challenge: &[u8]) -> Result<(String, String), SaslError> {
        let fields = Fields::parse(challenge)?;
        // Directives that may appear once (RFC 2831 §2.1.1).
        for once in ["nonce", "algorithm", "charset", "stale", "maxbuf"] {
            if fields.count(once) > 1 {
                return Err(SaslError::MalformedChallenge);
            }
        }
        let nonce = fields.get("nonce").ok_or(SaslError::MalformedChallenge)?;
        if !fields
            .get("algorithm")
            .is_some_and(|a| a.eq_ignore_ascii_case("md5-sess"))
        {
            return Err(SaslError::MalformedChallenge);
        }
        // No qop means "auth"; otherwise "auth" must be among those offered.
        if let Some(qop) = fields.get("qop") {
            if !qop
                .split(',')
                .any(|q| q.trim().eq_ignore_ascii_case("auth"))
            {
                return Err(SaslError::UnsupportedQop);
            }
        }
        let realm = fields.get("realm").unwrap_or("");
        let utf8 = fields
            .get("charset")
            .is_some_and(|c| c.eq_ignore_ascii_case("utf-8"));
        let digest_uri = format!("{SERVICE}/{DIGEST_MD5_SERVER}");
        let password = match std::str::from_utf8(self.password.expose()) {
            Ok(text) => encode(text, utf8),
            Err(_) => self.password.expose().to_vec(),
        };
        let digests = Digests {
            username: encode(&self.username, utf8),
            realm: encode(realm, utf8),
            password: &password,
            nonce,
            cnonce: &self.cnonce,
            digest_uri: &digest_uri,
        };
        let mut response = String::new();
        if utf8 {
            response.push_str("charset=utf-8,");
        }
        response.push_str(&format!("username={},", quote(&self.username)));
        // No realm offered: none named (the digest uses the empty one).
        if fields.get("realm").is_some() {
            response.push_str(&format!("realm={},", quote(realm)));
        }
        response.push_str(&format!(
            "nonce={},nc={NC},cnonce={},digest-uri={},qop=auth,response={}",
            quote(nonce),
            quote(&self.cnonce),
            quote(&digest_uri),
            digests.response("AUTHENTICATE"),
        ));
        Ok((response, digests.response("")))
    }
}

/// The inputs of RFC 2831 §2.1.2.1, as bytes.
struct Digests<'a> {
    username: Vec<u8>,
    realm: Vec<u8>,
    password: &'a [u8],
    nonce: &'a str,
    cnonce: &'a str,
    digest_uri: &'a str,
}

impl Digests<'_> {
    /// `response-value` with A2 = `<method>:<digest-uri>`: "AUTHENTICATE"
    /// for the client's response, empty for the server's `rspauth`.
    fn response(&self, method: &str) -> String {
        let secret = Md5::new()
            .chain_update(&self.username)
            .chain_update(b":")
            .chain_update(&self.realm)
            .chain_update(b":")
            .chain_update(self.password)
            .finalize();
        let a1 = Md5::new()
            .chain_update(secret)
            .chain_update(format!(":{}:{}", self.nonce, self.cnonce))
            .finalize();
        let a2 = Md5::digest(format!("{method}:{}", self.digest_uri));
        hex(&Md5::digest(format!(
            "{}:{}:{NC}:{}:auth:{}",
            hex(&a1),
            self.nonce,
            self.cnonce,
            hex(&a2)
        )))
    }
}

/// The server's side of the arithmetic, for the simulator's fake server:
/// `None` if `response` does not prove knowledge of `password`, else the
/// `rspauth` value that server sends back.
#[cfg(test)]
pub(crate) fn server_proof(response: &[u8], password: &[u8]) -> Option<String> {
    let f = Fields::parse(response).ok()?;
    let d = Digests {
        username: f.get("username")?.as_bytes().to_vec(),
        realm: f.get("realm").unwrap_or("").as_bytes().to_vec(),
        password,
        nonce: f.get("nonce")?,
        cnonce: f.get("cnonce")?,
        digest_uri: f.get("digest-uri")?,
    };
    (d.response("AUTHENTICATE") == f.get("response")?).then(|| d.response(""))
}

/// Without `charset=utf-8`, names are ISO 8859-1 where they fit (RFC 2831 §2.1.2.1).
fn encode(s: &str, utf8: bool) -> Vec<u8> {
    if !utf8 && s.chars().all(|c| u32::from(c) <= 0xff) {
        s.chars().map(|c| c as u8).collect()
    } else {
        s.as_bytes().to_vec()
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

/// A quoted-string: `"` and `\` escaped with `\`.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `key=value` pairs separated by commas; values plain or quoted.
struct Fields(Vec<(String, String)>);

impl Fields {
    fn parse(token: &[u8]) -> Result<Fields, SaslError> {
        let text = std::str::from_utf8(token).map_err(|_| SaslError::MalformedChallenge)?;
        let mut fields = Vec::new();
        let mut rest = text.trim_start_matches([' ', '\t', ',']);
        while !rest.is_empty() {
            let eq = rest.find('=').ok_or(SaslError::MalformedChallenge)?;
            let key = rest[..eq].trim().to_ascii_lowercase();
            if key.is_empty() {
                return Err(SaslError::MalformedChallenge);
            }
            rest = rest[eq + 1..].trim_start();
            let value;
            if let Some(quoted) = rest.strip_prefix('"') {
                let mut v = String::new();
                let mut chars = quoted.char_indices();
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => v.push(chars.next().ok_or(SaslError::MalformedChallenge)?.1),
                        '"' => {
                            end = Some(i + 1);
                            break;
                        }
                        c => v.push(c),
                    }
                }
                let end = end.ok_or(SaslError::MalformedChallenge)?;
                value = v;
                rest = quoted[end..].trim_start();
            } else {
                let end = rest.find(',').unwrap_or(rest.len());
                value = rest[..end].trim().to_string();
                rest = &rest[end..];
            }
            // Only a separator (or the end) may follow a value.
            if !rest.is_empty() && !rest.starts_with(',') {
                return Err(SaslError::MalformedChallenge);
            }
            rest = rest.trim_start_matches([' ', '\t', ',']);
            fields.push((key, value));
        }
        Ok(Fields(fields))
    }

    fn count(&self, key: &str) -> usize {
        self.0.iter().filter(|(k, _)| k == key).count()
    }

    /// The first value for `key` (realm may repeat; the first is used).
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of RFC 2831 §4 (with its digest-uri), checked
    /// through the same arithmetic the client uses.
    #[test]
    fn rfc_2831_example() {
        let d = Digests {
            username: b"chris".to_vec(),
            realm: b"elwood.innosoft.com".to_vec(),
            password: b"secret",
            nonce: "OA6MG9tEQGm2hh",
            cnonce: "OA6MHXh6VqTrRk",
            digest_uri: "imap/elwood.innosoft.com",
        };
        assert_eq!(
            d.response("AUTHENTICATE"),
            "d388dad90d4bbd760a152321f2143af7"
        );
        assert_eq!(d.response(""), "ea40f60335c427b5527b84dbabcdfffd");
    }

    fn client() -> Client {
        Client::new("bob".into(), Secret::from("bobsecret"), "cn0nce".into())
    }

    fn field(text: &str, key: &str) -> String {
        Fields::parse(text.as_bytes())
            .unwrap()
            .get(key)
            .unwrap()
            .to_string()
    }

    #[test]
    fn a_zookeeper_challenge_is_answered_and_the_proof_checked() {
        let mut c = client();
        let challenge = br#"realm="zk-sasl-md5",nonce="abc\"d",charset=utf-8,algorithm=md5-sess"#;
        let Step::Respond(response) = c.step(challenge).unwrap() else {
            panic!("a response")
        };
        let response = String::from_utf8(response).unwrap();
        assert!(response.starts_with("charset=utf-8,"), "{response}");
        assert_eq!(field(&response, "username"), "bob");
        assert_eq!(field(&response, "nonce"), "abc\"d");
        assert_eq!(field(&response, "digest-uri"), "zookeeper/zk-sasl-md5");
        assert_eq!(field(&response, "qop"), "auth");
        assert_eq!(field(&response, "response").len(), 32);
        assert!(!response.contains("bobsecret"));
        let State::Proof(expected) = &c.state else {
            panic!("waiting for the proof")
        };
        let proof = format!("rspauth={expected}");
        assert_eq!(c.step(proof.as_bytes()), Ok(Step::Done));
        assert_eq!(c.step(b"rspauth=0"), Err(SaslError::UnexpectedChallenge));
    }

    #[test]
    fn a_wrong_proof_is_refused() {
        let mut c = client();
        c.step(b"nonce=n,algorithm=md5-sess").unwrap();
        assert_eq!(
            c.step(b"rspauth=00000000000000000000000000000000"),
            Err(SaslError::ServerNotAuthenticated)
        );
    }

    #[test]
    fn bad_challenges_are_typed_errors() {
        for (challenge, err) in [
            (&b"algorithm=md5-sess"[..], SaslError::MalformedChallenge),
            (b"nonce=n", SaslError::MalformedChallenge),
            (
                b"nonce=\"n,algorithm=md5-sess",
                SaslError::MalformedChallenge,
            ),
            (
                b"nonce=\"n\"x,algorithm=md5-sess",
                SaslError::MalformedChallenge,
            ),
            (b"=x", SaslError::MalformedChallenge),
            (b"\xff", SaslError::MalformedChallenge),
            (
                b"nonce=a,nonce=b,algorithm=md5-sess",
                SaslError::MalformedChallenge,
            ),
            (
                b"nonce=n,algorithm=md5-sess,qop=\"auth-conf\"",
                SaslError::UnsupportedQop,
            ),
        ] {
            assert_eq!(client().step(challenge), Err(err), "{challenge:?}");
        }
        let mut c = client();
        c.step(b"nonce=n,algorithm=md5-sess,qop=\"auth,auth-int\"")
            .unwrap();
        assert_eq!(c.step(b"other=1"), Err(SaslError::MalformedChallenge));
    }

    #[test]
    fn debug_shows_neither_the_proof_nor_the_nonces() {
        let mut c = client();
        c.step(b"nonce=n,algorithm=md5-sess").unwrap();
        let State::Proof(expected) = &c.state else {
            panic!("waiting for the proof")
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains(expected.as_str()), "{shown}");
        assert!(!shown.contains("cn0nce"), "{shown}");
        assert!(!shown.contains("bobsecret"), "{shown}");
    }

    #[test]
    fn no_realm_offered_none_named() {
        let Ok(Step::Respond(r)) = client().step(b"nonce=n,algorithm=md5-sess") else {
            panic!("a response")
        };
        assert!(!String::from_utf8(r).unwrap().contains("realm="));
    }

    #[test]
    fn names_outside_latin1_stay_utf8() {
        assert_eq!(encode("é", false), vec![0xe9]);
        assert_eq!(encode("é", true), "é".as_bytes());
        assert_eq!(encode("ł", false), "ł".as_bytes());
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
