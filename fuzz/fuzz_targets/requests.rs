//! Any request to the service through its app factory (method, path, headers and body picked
//! by the fuzzer): never a 5xx or a panic, a well-formed `X-Request-ID` on every answer, every
//! error the contract's JSON carrying that id ([`http_case::Target::check`]).
#![no_main]

use std::mem::ManuallyDrop;

mod http_case;

thread_local! {
    // Never dropped: the process ends with them (a thread-local destructor running after the
    // runtime's own would panic at exit).
    static RUNTIME: ManuallyDrop<actix_web::rt::SystemRunner> =
        ManuallyDrop::new(actix_web::rt::System::new());
    static TARGET: ManuallyDrop<http_case::Target> =
        ManuallyDrop::new(RUNTIME.with(|rt| rt.block_on(http_case::Target::new())));
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some(case) = http_case::decode(data) else {
        return;
    };
    let verdict = TARGET.with(|target| RUNTIME.with(|rt| rt.block_on(target.check(case))));
    if let Err(why) = verdict {
        panic!("{why}");
    }
});
