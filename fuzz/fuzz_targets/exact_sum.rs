//! The exact sum against Python's `math.fsum` (ported) and against itself in reverse order,
//! over any up-to-100 finite doubles ([`service::oracles::agrees_with_fsum`]).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(why) = service::oracles::agrees_with_fsum(data) {
        panic!("{why}");
    }
});
