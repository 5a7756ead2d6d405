//! The sum body reader against serde_json: for any bytes, the service reads the same numbers
//! bit for bit as serde_json alone (or both refuse them), and an echoed array text is exactly
//! what the answer writes ([`service::oracles::agrees_with_serde`]).
#![no_main]

libfuzzer_sys::fuzz_target!(|body: &[u8]| {
    if let Err(why) = service::oracles::agrees_with_serde(body) {
        panic!("{why}: body {:?}", String::from_utf8_lossy(body));
    }
});
