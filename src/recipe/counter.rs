//! kazoo's Counter: a number in one znode, changed by versioned writes
//! (read, add, write back if nobody wrote in between), in kazoo's ASCII
//! encoding or Curator's 4-byte `SharedCount`.

use bytes::Bytes;

use super::node::{retrying, transient, wait_retry};
use super::wait::Waiter;
use super::RecipeError;
use crate::client::{Client, Task};
use crate::{path, Error};

/// A number a [`Counter`] can hold, with its byte encoding: `i64` and
/// `f64` in kazoo's ASCII (`b"3"`, `b"-1"`, `b"2.1"`, Python's `repr`),
/// `i32` in Curator's 4-byte big-endian `SharedCount`.
pub trait CounterValue:
    sealed::Sealed + Copy + PartialEq + std::fmt::Debug + std::fmt::Display + Send + Sync + 'static
{
    /// The bytes stored in the znode.
    fn encode(self) -> Vec<u8>;
    /// The value stored, or `None` if the bytes are not one.
    fn decode(data: &[u8]) -> Option<Self>;
    /// `self + n`, or `None` on overflow.
    fn checked_add(self, n: Self) -> Option<Self>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for i64 {}
    impl Sealed for f64 {}
    impl Sealed for i32 {}
}

fn ascii(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok().map(str::trim)
}

impl CounterValue for i64 {
    fn encode(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
    fn decode(data: &[u8]) -> Option<i64> {
        ascii(data)?.parse().ok()
    }
    fn checked_add(self, n: i64) -> Option<i64> {
        i64::checked_add(self, n)
    }
}

impl CounterValue for f64 {
    fn encode(self) -> Vec<u8> {
        python_repr(self).into_bytes()
    }
    fn decode(data: &[u8]) -> Option<f64> {
        ascii(data)?.parse().ok()
    }
    fn checked_add(self, n: f64) -> Option<f64> {
        Some(self + n)
    }
}

impl CounterValue for i32 {
    fn encode(self) -> Vec<u8> {
        self.to_be_bytes().to_vec()
    }
    fn decode(data: &[u8]) -> Option<i32> {
        Some(i32::from_be_bytes(data.try_into().ok()?))
    }
    fn checked_add(self, n: i32) -> Option<i32> {
        i32::checked_add(self, n)
    }
}

/// A float as Python's `repr` writes it (what kazoo stores): the
/// shortest digits that read back the same, fixed notation for decimal
/// exponents -4 ..= 15, scientific (`1e+16`, `1.5e-05`) outside.
fn python_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` gives the same shortest round-trip digits.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if x < 0.0 { "-" } else { "" };
    let point = exp + 1; // digits before the decimal point
    let len = digits.len() as i32;
    if -4 < point && point <= 16 {
        if point <= 0 {
            format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
        } else if point >= len {
            format!("{sign}{digits}{}.0", "0".repeat((point - len) as usize))
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{sign}{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.abs())
    }
}

/// kazoo's `Counter(path, default)`: a shared number that any number of
/// clients (Rust or Python) add to without losing an update.
///
/// Each [`add`](Counter::add) reads the value and its version and writes
/// the sum back only if the version is unchanged, retrying otherwise. If
/// the connection drops after the write was sent and the node shows that
/// it may have landed, the add fails with
/// [`RecipeError::UnknownOutcome`] rather than risk counting twice.
/// Once a znode's 32-bit version has wrapped to -1, a write "at version
/// -1" would be unconditional (ZOOKEEPER-4743), so the counter refuses
/// with [`RecipeError::VersionWrapped`] rather than risk losing updates.
///
/// ```
/// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
/// # let client = kazoo_std::connect(server.connect_string()).unwrap();
/// # client.wait_connected().wait().unwrap();
/// let hits = client.counter("/app/hits");
/// let change = hits.add(5).wait()?;
/// assert_eq!((change.pre, change.post), (0, 5));
/// assert_eq!(client.get("/app/hits").send().wait()?.0, Some("5".into()));
///
/// let ratio = client.counter("/app/ratio").float();
/// assert_eq!(ratio.add(2.5).wait()?.post, 2.5);
/// # Ok::<(), kazoo::Error>(())
/// ```
#[derive(Clone)]
pub struct Counter<T: CounterValue = i64> {
    client: Client,
    path: String,
    default: T,
}

impl<T: CounterValue> std::fmt::Debug for Counter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counter")
            .field("path", &self.path)
            .field("default", &self.default)
            .finish_non_exhaustive()
    }
}

/// What one [`Counter::add`] did: kazoo's `pre_value` and `post_value`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change<T> {
    /// The value this add started from.
    pub pre: T,
    /// The value it wrote.
    pub post: T,
}

impl Client {
    /// kazoo's `Counter(path)`: an integer in kazoo's ASCII encoding (see
    /// [`Counter`]; `.float()` and `.curator()` pick the other kinds).
    pub fn counter(&self, path: impl Into<String>) -> Counter<i64> {
        Counter {
            client: self.clone(),
            path: path.into(),
            default: 0,
        }
    }
}

impl Counter<i64> {
    /// A float counter (kazoo's `Counter(path, default=0.0)`).
    pub fn float(self) -> Counter<f64> {
        Counter {
            client: self.client,
            path: self.path,
            default: 0.0,
        }
    }

    /// Curator's `SharedCount` encoding: a 4-byte big-endian `i32`
    /// (kazoo's `support_curator=True`).
    pub fn curator(self) -> Counter<i32> {
        Counter {
            client: self.client,
            path: self.path,
            default: 0,
        }
    }
}

impl<T: CounterValue> Counter<T> {
    /// The value an empty (or missing) node stands for (kazoo's
    /// `default`; zero unless set).
    pub fn default_value(mut self, value: T) -> Self {
        self.default = value;
        self
    }

    /// The counter's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The current value (creating the node, empty, if missing).
    pub fn value(&self) -> Task<T> {
        let c = self.clone();
        Task::new(async move {
            let mut waiter = Waiter::new(&c.client, None, None);
            retrying(&mut waiter, || async { Ok(c.read().await?.0) }).await
        })
    }

    /// Adds `n` atomically (a versioned write, retried when someone else
    /// wrote first) and says what it changed.
    pub fn add(&self, n: T) -> Task<Change<T>> {
        let c = self.clone();
        Task::new(async move {
            let mut waiter = Waiter::new(&c.client, None, None);
            retrying(&mut waiter, || c.try_add(n)).await
        })
    }

    /// Reads the value and the version to write against.
    async fn read(&self) -> Result<(T, i32), Error> {
        path::validate(&self.path)?;
        loop {
            match self.client.get(&self.path).send().await {
                Ok((data, stat)) => {
                    // Null data counts as unset, like empty data.
                    let data = data.unwrap_or_default();
                    let value = if data.is_empty() {
                        self.default
                    } else {
                        T::decode(&data)
                            .ok_or_else(|| RecipeError::BadCounterData(self.path.clone()))?
                    };
                    return Ok((value, stat.version));
                }
                Err(Error::NoNode) => self.client.ensure_path(&self.path).await?,
                Err(e) => return Err(e),
            }
        }
    }

    async fn try_add(&self, n: T) -> Result<Change<T>, Error> {
        loop {
            let (pre, version) = self.read().await?;
            if version == -1 {
                return Err(RecipeError::VersionWrapped(self.path.clone()).into());
            }
            let post = pre.checked_add(n).ok_or(RecipeError::OutOfRange {
                what: "counter",
                reason: "the sum overflows the counter's type",
            })?;
            let bytes = Bytes::from(post.encode());
            match self
                .client
                .set(&self.path, bytes.clone())
                .version(version)
                .send()
                .await
            {
                Ok(_) => return Ok(Change { pre, post }),
                Err(Error::BadVersion | Error::NoNode) => continue,
                Err(e) if transient(&e) => {
                    // The write may have been applied before the reply
                    // was lost. Only one write can move the node from
                    // `version`: if it is still there, or the next
                    // version holds other bytes, ours did not land and
                    // the add starts over. Otherwise nobody can tell.
                    match self.after_lost_reply(version, &bytes).await? {
                        Landed::No => return Err(e),
                        Landed::Unknown => {
                            return Err(RecipeError::UnknownOutcome(self.path.clone()).into())
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// After a write to `version` lost its reply (it may still reach the
    /// server later): if the node is still at `version`, writes its data
    /// back at that version, so the lost write can no longer land; the
    /// server decides which came first.
    async fn after_lost_reply(&self, version: i32, bytes: &[u8]) -> Result<Landed, Error> {
        let mut waiter = Waiter::new(&self.client, None, None);
        let next = version.wrapping_add(1);
        loop {
            let (data, stat) = retrying(&mut waiter, || self.client.get(&self.path).send()).await?;
            if stat.version == next && data.as_deref() != Some(bytes) {
                return Ok(Landed::No); // another write took the version
            }
            if stat.version != version {
                return Ok(Landed::Unknown);
            }
            // Rewrite exactly what is there, null data included.
            let set = self
                .client
                .set(&self.path, data.clone().unwrap_or_default());
            let set = if data.is_none() { set.null_data() } else { set };
            let fence = set.version(version).send();
            match waiter.bounded(fence).await {
                Ok(_) => return Ok(Landed::No),
                Err(e) if transient(&e) => wait_retry(&mut waiter).await?,
                Err(Error::BadVersion) => {} // something landed: look again
                Err(_) => return Ok(Landed::Unknown),
            }
        }
    }
}

/// Whether a write whose reply was lost was applied.
enum Landed {
    No,
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_written_as_python_repr() {
        for (x, repr) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (2.1, "2.1"),
            (-1.5, "-1.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.25e-7, "1.25e-07"),
            (123.456, "123.456"),
            (1e300, "1e+300"),
            (f64::INFINITY, "inf"),
            (f64::NAN, "nan"),
        ] {
            assert_eq!(python_repr(x), repr, "{x}");
            if x.is_finite() {
                assert_eq!(f64::decode(repr.as_bytes()), Some(x));
            }
        }
    }

    #[test]
    fn encodings_round_trip_and_refuse_garbage() {
        assert_eq!(5i64.encode(), b"5");
        assert_eq!((-1i64).encode(), b"-1");
        assert_eq!(i64::decode(b" 42\n"), Some(42));
        assert_eq!(i64::decode(b"4x"), None);
        assert_eq!(i64::decode(&[0xff, 0xfe]), None);
        assert_eq!(7i32.encode(), [0, 0, 0, 7]);
        assert_eq!(i32::decode(&[0xff, 0xff, 0xff, 0xfe]), Some(-2));
        assert_eq!(i32::decode(b"12345"), None);
        assert_eq!(i64::MAX.checked_add(1), None);
    }
}
