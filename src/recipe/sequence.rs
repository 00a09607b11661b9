//! Contender nodes: parsing `<uuid><marker><suffix>` names and putting
//! them in the order the server created them, also across the signed
//! 32-bit wrap of the parent's counter (kazoo #606, #730 compared them
//! as strings).

use crate::path;

/// A child that takes part in a recipe: its name, which marker it
/// carries (an index into the markers it was parsed with) and its
/// sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Contender {
    pub(crate) name: String,
    pub(crate) marker: usize,
    pub(crate) seq: i32,
}

/// Parses `name` as `<anything><marker><suffix>` for the first marker
/// that fits; `None` for unrelated children.
pub(crate) fn parse(name: &str, markers: &[&str]) -> Option<Contender> {
    markers.iter().enumerate().find_map(|(i, marker)| {
        let at = name.rfind(marker)?;
        let prefix = &name[..at + marker.len()];
        let seq = path::sequence_number(name, prefix)?;
        Some(Contender {
            name: name.to_owned(),
            marker: i,
            seq,
        })
    })
}

/// The contenders among `children`, in creation order.
pub(crate) fn contenders(children: &[String], markers: &[&str]) -> Vec<Contender> {
    let mut found: Vec<Contender> = children.iter().filter_map(|c| parse(c, markers)).collect();
    sort(&mut found);
    found
}

/// A quarter of the counter's 2^32 values: live contenders of one parent are assumed
/// to have been created within this many creations of each other.
const QUARTER: i32 = 1 << 30;

/// Sorts by creation order. The suffix is the parent's signed 32-bit
/// counter: after `2147483647` comes `-2147483648`. When the set holds
/// both values near the top and values near the bottom it straddles the
/// wrap, and the negative ones come after the positive ones.
pub(crate) fn sort(contenders: &mut [Contender]) {
    let wrapped =
        contenders.iter().any(|c| c.seq >= QUARTER) && contenders.iter().any(|c| c.seq < -QUARTER);
    let key = |seq: i32| -> i64 {
        if wrapped && seq < 0 {
            i64::from(seq) + (1i64 << 32)
        } else {
            i64::from(seq)
        }
    };
    contenders.sort_by(|a, b| {
        key(a.seq)
            .cmp(&key(b.seq))
            .then_with(|| a.name.cmp(&b.name))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKERS: &[&str] = &["__lock__", "__rlock__"];

    fn names(c: &[Contender]) -> Vec<&str> {
        c.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn parses_kazoo_and_foreign_names() {
        let c = parse("ab12__lock__0000000007", MARKERS).unwrap();
        assert_eq!((c.marker, c.seq), (0, 7));
        let c = parse("ab12__rlock__0000000010", MARKERS).unwrap();
        assert_eq!((c.marker, c.seq), (1, 10));
        let c = parse("x__lock__-2147483648", MARKERS).unwrap();
        assert_eq!(c.seq, i32::MIN);
        let c = parse("x__lock__-000000005", MARKERS).unwrap();
        assert_eq!(c.seq, -5);
        for bad in [
            "ready",
            "x__lock__",
            "x__lock__12",
            "x__lock__00000000012",
            "x__lock__000000001a",
            "x__lock__+000000001",
            "x-lock-0000000001",
        ] {
            assert_eq!(parse(bad, MARKERS), None, "{bad}");
        }
        // go-zookeeper's `_c_<hex>-lock-<seq>` with an extra marker.
        let c = parse("_c_ff-lock-0000000003", &["__lock__", "-lock-"]).unwrap();
        assert_eq!((c.marker, c.seq), (1, 3));
    }

    #[test]
    fn orders_numerically_not_as_strings() {
        let children: Vec<String> = [
            "b__lock__0000000010",
            "a__lock__0000000009",
            "c__lock__-000000001",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // -1 after a wrap through 0 is not near the ends: plain order.
        assert_eq!(
            names(&contenders(&children, MARKERS)),
            [
                "c__lock__-000000001",
                "a__lock__0000000009",
                "b__lock__0000000010"
            ]
        );
    }

    #[test]
    fn orders_across_the_wrap() {
        let children: Vec<String> = [
            "c__lock__-2147483647",
            "a__lock__2147483646",
            "d__lock__-2147483646",
            "b__lock__2147483647",
            "e__lock__-2147483648",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            names(&contenders(&children, MARKERS)),
            [
                "a__lock__2147483646",
                "b__lock__2147483647",
                "e__lock__-2147483648",
                "c__lock__-2147483647",
                "d__lock__-2147483646"
            ]
        );
    }
}
