//! What recipes read from nodes that others (Python kazoo, Curator, a
//! careless script) wrote: lease records, counter values, contender and
//! queue entry names. No input panics; what a recipe writes reads back
//! the same (lease records, counter values).
#![no_main]

use kazoo::recipe::CounterValue;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kazoo::recipe::fuzzing::lease_record(data);

    if let Some(v) = i64::decode(data) {
        assert_eq!(i64::decode(&v.encode()), Some(v));
    }
    if let Some(v) = i32::decode(data) {
        assert_eq!(i32::decode(&v.encode()), Some(v));
    }
    if let Some(v) = f64::decode(data) {
        let back = f64::decode(&v.encode()).expect("a written float reads back");
        assert!(back == v || (back.is_nan() && v.is_nan()), "{v} -> {back}");
    }

    let text = String::from_utf8_lossy(data);
    let names: Vec<String> = text.split(['\n', ',']).map(str::to_owned).collect();
    kazoo::recipe::fuzzing::names(&names);
});
