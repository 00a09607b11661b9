//! Arbitrary bytes, split at arbitrary points, into the frame decoder: no
//! panic, frames within the limit, and the same frames however it is split.
#![no_main]

use kazoo::proto::FrameDecoder;
use libfuzzer_sys::fuzz_target;

fn drain(d: &mut FrameDecoder, out: &mut Vec<Vec<u8>>) -> bool {
    loop {
        match d.next_frame() {
            Ok(Some(f)) => {
                assert!(f.len() <= 4096);
                out.push(f.to_vec());
            }
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, data)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);

    let mut whole = FrameDecoder::new(4096);
    whole.push(data);
    let mut expected = Vec::new();
    let whole_ok = drain(&mut whole, &mut expected);

    let mut pieces = FrameDecoder::new(4096);
    let mut got = Vec::new();
    let mut ok = true;
    for chunk in data.chunks(step) {
        pieces.push(chunk);
        if !drain(&mut pieces, &mut got) {
            ok = false;
            break;
        }
    }
    assert_eq!(ok, whole_ok);
    assert_eq!(got, expected);
});
