//! Any request to the service through its app factory (method, path, headers and body picked
//! by the fuzzer): never a 5xx or a panic, a well-formed `X-Request-ID` on every answer, every
//! error the contract's JSON carrying that id ([`http_case::check`]).
#![no_main]

mod http_case;

thread_local! {
    static RUNTIME: actix_web::rt::SystemRunner = actix_web::rt::System::new();
    static STATE: service::AppState = http_case::state();
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some(case) = http_case::decode(data) else {
        return;
    };
    let verdict = STATE.with(|state| RUNTIME.with(|rt| rt.block_on(http_case::check(state, case))));
    if let Err(why) = verdict {
        panic!("{why}");
    }
});
