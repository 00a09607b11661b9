//! kazoo's NonBlockingLease and MultiNonBlockingLease: a lease for a
//! duration, recorded in the persistent node `path/lease_holder` as
//! kazoo's JSON (`{"version": 1, "holder": …, "end": "YYYY-MM-DDTHH:MM:SS"}`,
//! UTC), decided under the [`Lock`](super::Lock) at `path`. It relies on
//! roughly synchronised clocks and survives the session until `end`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::error::check_identifier;
use super::lock::{Kind, Lock};
use super::node::child;
use super::RecipeError;
use crate::client::{Client, Task};
use crate::{path, Error};

/// The record format kazoo writes (its `_version`).
const VERSION: i64 = 1;

/// A caller-supplied wall clock (tests pass a fixed or stepped one).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// kazoo's `NonBlockingLease(path, duration, identifier)`: try once to
/// take or renew the lease; never waits for a holder to finish.
///
/// ```
/// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
/// # let client = kazoo_std::connect(server.connect_string()).unwrap();
/// # client.wait_connected().wait().unwrap();
/// use std::time::Duration;
/// let lease = client.lease("/app/cron", Duration::from_secs(3600), "host-1");
/// assert!(lease.try_acquire().wait()?); // this process runs the hourly job
/// let other = client.lease("/app/cron", Duration::from_secs(3600), "host-2");
/// assert!(!other.try_acquire().wait()?); // host-1's lease runs for an hour
/// # Ok::<(), kazoo::Error>(())
/// ```
#[derive(Clone)]
pub struct NonBlockingLease {
    client: Client,
    path: String,
    duration: Duration,
    id: String,
    clock: Clock,
}

impl std::fmt::Debug for NonBlockingLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonBlockingLease")
            .field("path", &self.path)
            .field("duration", &self.duration)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// kazoo's `NonBlockingLease` (see [`NonBlockingLease`]). The same
    /// `id` renews its own lease.
    pub fn lease(
        &self,
        path: impl Into<String>,
        duration: Duration,
        id: impl Into<String>,
    ) -> NonBlockingLease {
        NonBlockingLease {
            client: self.clone(),
            path: path.into(),
            duration,
            id: id.into(),
            // kazoo's lease record holds wall-clock UTC: the one place the
            // core reads the system's clock, replaceable with `clock`.
            #[allow(clippy::disallowed_methods)]
            clock: Arc::new(SystemTime::now),
        }
    }

    /// kazoo's `MultiNonBlockingLease`: up to `count` leases at
    /// `path/0` … `path/<count-1>` (see [`MultiNonBlockingLease`]).
    pub fn multi_lease(
        &self,
        count: u32,
        path: impl Into<String>,
        duration: Duration,
        id: impl Into<String>,
    ) -> MultiNonBlockingLease {
        MultiNonBlockingLease {
            lease: self.lease(path, duration, id),
            count,
        }
    }
}

impl NonBlockingLease {
    /// Reads the time from `clock` instead of the system (kazoo's `utcnow`).
    pub fn clock(
        mut self,
        clock: impl Fn() -> SystemTime + Send + Sync + 'static,
    ) -> NonBlockingLease {
        self.clock = Arc::new(clock);
        self
    }

    /// Takes or renews the lease: `true` if this identifier holds it now
    /// (until `now + duration`), `false` if another holder's lease runs
    /// on or the node was written by a newer format.
    pub fn try_acquire(&self) -> Task<bool> {
        let lease = self.clone();
        Task::new(async move { lease.attempt(&lease.path).await })
    }

    fn check(&self) -> Result<(), Error> {
        path::validate(&self.path)?;
        check_identifier(&self.id)?;
        if self.duration.is_zero() {
            return Err(RecipeError::OutOfRange {
                what: "duration",
                reason: "must be positive",
            }
            .into());
        }
        Ok(())
    }

    async fn attempt(&self, path: &str) -> Result<bool, Error> {
        self.check()?;
        let holder_path = child(path, "lease_holder");
        let guard = Lock::new(&self.client, path.to_owned(), Kind::Exclusive)
            .id(self.id.clone())
            .acquire()
            .await?;
        let result = self.decide(&holder_path).await;
        match guard.release().await {
            Ok(()) | Err(Error::Recipe(RecipeError::Lost)) => result,
            Err(e) => result.and(Err(e)),
        }
    }

    /// Under the lock: keep a running foreign lease, else write ours.
    async fn decide(&self, holder_path: &str) -> Result<bool, Error> {
        let now = unix_seconds((self.clock)());
        match self.client.get(holder_path).send().await {
            Ok((data, stat)) => {
                let record = Record::decode(&data.unwrap_or_default())?;
                if record.version != VERSION {
                    return Ok(false); // a newer format: let its writers have it
                }
                if record.holder != self.id && now < record.end {
                    return Ok(false);
                }
                self.client
                    .delete(holder_path)
                    .version(stat.version)
                    .send()
                    .await?;
            }
            Err(Error::NoNode) => {}
            Err(e) => return Err(e),
        }
        let end = now.saturating_add(i64::try_from(self.duration.as_secs()).unwrap_or(i64::MAX));
        let record = Record {
            version: VERSION,
            holder: self.id.clone(),
            end,
        };
        self.client
            .create(holder_path)
            .data(record.encode())
            .send()
            .await?;
        Ok(true)
    }
}

/// kazoo's `MultiNonBlockingLease`: tries `path/0`, `path/1`… in order
/// and stops at the first it obtains.
#[derive(Debug, Clone)]
pub struct MultiNonBlockingLease {
    lease: NonBlockingLease,
    count: u32,
}

impl MultiNonBlockingLease {
    /// Reads the time from `clock` instead of the system.
    pub fn clock(
        mut self,
        clock: impl Fn() -> SystemTime + Send + Sync + 'static,
    ) -> MultiNonBlockingLease {
        self.lease = self.lease.clock(clock);
        self
    }

    /// The index of the lease obtained or renewed, `None` if all are held.
    pub fn try_acquire(&self) -> Task<Option<u32>> {
        let multi = self.clone();
        Task::new(async move {
            if multi.count == 0 {
                return Err(RecipeError::OutOfRange {
                    what: "count",
                    reason: "must be at least 1",
                }
                .into());
            }
            multi.lease.check()?;
            for i in 0..multi.count {
                if multi
                    .lease
                    .attempt(&child(&multi.lease.path, &i.to_string()))
                    .await?
                {
                    return Ok(Some(i));
                }
            }
            Ok(None)
        })
    }
}

/// Seconds since the epoch (negative before it).
fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// Fuzzing: a record that decodes re-encodes to bytes that decode to it.
#[cfg(fuzzing)]
pub(crate) fn check_record_round_trip(data: &[u8]) {
    if let Ok(record) = Record::decode(data) {
        let again = Record::decode(record.encode().as_bytes());
        assert_eq!(again.as_ref(), Ok(&record), "{:?}", record.encode());
    }
}

/// The lease record, as kazoo stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    version: i64,
    holder: String,
    /// Seconds since the epoch, UTC.
    end: i64,
}

impl Record {
    /// `json.dumps` of kazoo's dict: its key order, `", "` and `": "`
    /// separators, non-ASCII escaped.
    fn encode(&self) -> String {
        format!(
            "{{\"version\": {}, \"holder\": {}, \"end\": \"{}\"}}",
            self.version,
            json::quote(&self.holder),
            date::format(self.end)
        )
    }

    fn decode(data: &[u8]) -> Result<Record, RecipeError> {
        let text = std::str::from_utf8(data).map_err(|_| RecipeError::BadLeaseData("not UTF-8"))?;
        let fields = json::object(text).ok_or(RecipeError::BadLeaseData("not a JSON object"))?;
        let mut version = None;
        let mut holder = None;
        let mut end = None;
        for (key, value) in fields {
            match (key.as_str(), value) {
                ("version", json::Value::Int(v)) => version = Some(v),
                ("holder", json::Value::Str(h)) => holder = Some(h),
                ("end", json::Value::Str(e)) => {
                    end = Some(
                        date::parse(&e)
                            .ok_or(RecipeError::BadLeaseData("end is not YYYY-MM-DDTHH:MM:SS"))?,
                    )
                }
                ("version" | "holder" | "end", _) => {
                    return Err(RecipeError::BadLeaseData("a field has the wrong type"))
                }
                _ => {}
            }
        }
        Ok(Record {
            version: version.ok_or(RecipeError::BadLeaseData("no version"))?,
            holder: holder.ok_or(RecipeError::BadLeaseData("no holder"))?,
            end: end.ok_or(RecipeError::BadLeaseData("no end"))?,
        })
    }
}

/// The little JSON the lease record needs: one flat object of strings
/// and integers.
mod json {
    pub(super) enum Value {
        Str(String),
        Int(i64),
        Other,
    }

    /// A JSON string literal, escaped as Python's `json.dumps` does.
    pub(super) fn quote(s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 || (c as u32) > 0x7f => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{u:04x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// The members of a flat JSON object; `None` if `text` is not one.
    pub(super) fn object(text: &str) -> Option<Vec<(String, Value)>> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        p.ws();
        p.eat(b'{')?;
        let mut fields = Vec::new();
        p.ws();
        if p.peek() == Some(b'}') {
            p.i += 1;
        } else {
            loop {
                p.ws();
                let key = p.string()?;
                p.ws();
                p.eat(b':')?;
                p.ws();
                let value = match p.peek()? {
                    b'"' => Value::Str(p.string()?),
                    b'-' | b'0'..=b'9' => p.number()?,
                    _ => {
                        p.scalar()?;
                        Value::Other
                    }
                };
                fields.push((key, value));
                p.ws();
                match p.next()? {
                    b',' => continue,
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        p.ws();
        (p.i == p.s.len()).then_some(fields)
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn peek(&self) -> Option<u8> {
            self.s.get(self.i).copied()
        }
        fn next(&mut self) -> Option<u8> {
            let b = self.peek()?;
            self.i += 1;
            Some(b)
        }
        fn eat(&mut self, b: u8) -> Option<()> {
            (self.next()? == b).then_some(())
        }
        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.i += 1;
            }
        }
        /// `true`, `false`, `null` or a float: accepted and ignored.
        fn scalar(&mut self) -> Option<()> {
            let start = self.i;
            while matches!(
                self.peek(),
                Some(b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'+' | b'E')
            ) {
                self.i += 1;
            }
            (self.i > start).then_some(())
        }
        fn number(&mut self) -> Option<Value> {
            let start = self.i;
            if self.peek() == Some(b'-') {
                self.i += 1;
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
            if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
                self.scalar()?;
                return Some(Value::Other);
            }
            let digits = std::str::from_utf8(&self.s[start..self.i]).ok()?;
            digits.parse().ok().map(Value::Int)
        }
        fn hex4(&mut self) -> Option<u32> {
            let h = self.s.get(self.i..self.i + 4)?;
            self.i += 4;
            u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
        }
        fn string(&mut self) -> Option<String> {
            self.eat(b'"')?;
            let mut out = String::new();
            loop {
                let start = self.i;
                while !matches!(self.peek()?, b'"' | b'\\') {
                    self.i += 1;
                }
                out.push_str(std::str::from_utf8(&self.s[start..self.i]).ok()?);
                if self.next()? == b'"' {
                    return Some(out);
                }
                let c = match self.next()? {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'u' => {
                        let hi = self.hex4()?;
                        let code = if (0xd800..0xdc00).contains(&hi) {
                            self.eat(b'\\')?;
                            self.eat(b'u')?;
                            let lo = self.hex4()?;
                            if !(0xdc00..0xe000).contains(&lo) {
                                return None;
                            }
                            0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                        } else {
                            hi
                        };
                        char::from_u32(code)?
                    }
                    _ => return None,
                };
                out.push(c);
            }
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS` in UTC, as Python's `strftime` writes it.
mod date {
    /// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    fn civil(days: i64) -> (i64, u32, u32) {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = yoe + era * 400 + i64::from(m <= 2);
        (y, m, d)
    }

    fn days(y: i64, m: u32, d: u32) -> i64 {
        let y = y - i64::from(m <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let m = i64::from(m);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    pub(super) fn format(secs: i64) -> String {
        let (y, mo, d) = civil(secs.div_euclid(86_400));
        let s = secs.rem_euclid(86_400);
        format!(
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    }

    pub(super) fn parse(text: &str) -> Option<i64> {
        let b = text.as_bytes();
        if b.len() != 19
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let s = text.get(r)?;
            s.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| s.parse().ok())?
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let month_days = match mo {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
            2 => 28,
            _ => return None,
        };
        if d == 0 || d > month_days || h > 23 || mi > 59 || s > 59 {
            return None;
        }
        Some(days(i64::from(y), mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_kazoo_json() {
        let r = Record {
            version: 1,
            holder: "host-1".into(),
            end: 1_764_547_200 + 3_723,
        };
        let text = r.encode();
        assert_eq!(
            text,
            r#"{"version": 1, "holder": "host-1", "end": "2025-12-01T01:02:03"}"#
        );
        assert_eq!(Record::decode(text.as_bytes()), Ok(r));
        // Python escapes non-ASCII; we read it back.
        let odd = Record {
            version: 1,
            holder: "é\"\\\n😀".into(),
            end: 0,
        };
        assert_eq!(
            odd.encode(),
            r#"{"version": 1, "holder": "\u00e9\"\\\n\ud83d\ude00", "end": "1970-01-01T00:00:00"}"#
        );
        assert_eq!(Record::decode(odd.encode().as_bytes()), Ok(odd));
        // Other key orders and spacing, extra fields.
        let r = Record::decode(
            br#" {"end":"2000-02-29T23:59:59","extra":[],"holder":"x","version":2} "#,
        );
        assert!(r.is_err(), "arrays are not part of the record");
        let r = Record::decode(
            br#"{"end":"2000-02-29T23:59:59","extra":null,"holder":"x","version":2}"#,
        )
        .unwrap();
        assert_eq!((r.version, r.holder.as_str()), (2, "x"));
        assert_eq!(date::format(r.end), "2000-02-29T23:59:59");
    }

    #[test]
    fn bad_records_are_typed_errors() {
        for bad in [
            &b""[..],
            b"\xff",
            b"[]",
            b"{",
            br#"{"version": 1, "holder": "x"}"#,
            br#"{"version": "1", "holder": "x", "end": "2000-01-01T00:00:00"}"#,
            br#"{"version": 1, "holder": "x", "end": "2000-02-30T00:00:00"}"#,
            br#"{"version": 1, "holder": "x", "end": "2000-01-01 00:00:00"}"#,
            br#"{"version": 1, "holder": "x", "end": "2000-01-01T00:00:00"} x"#,
            br#"{"version": 1, "holder": "\ud800", "end": "2000-01-01T00:00:00"}"#,
            br#"{"version": 99999999999999999999, "holder": "x", "end": "2000-01-01T00:00:00"}"#,
        ] {
            assert!(
                matches!(Record::decode(bad), Err(RecipeError::BadLeaseData(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn dates_round_trip() {
        for secs in [0, 951_868_799, 1_764_547_200, 4_102_444_800, -86_400] {
            assert_eq!(date::parse(&date::format(secs)), Some(secs), "{secs}");
        }
    }
}
