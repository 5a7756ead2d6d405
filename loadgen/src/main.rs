//! Thin entry point: all logic lives in the library.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    loadgen::run().await
}
