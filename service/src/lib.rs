//! service: skeleton; its issue fills it in.

/// Runs the binary's main job.
pub async fn run() -> anyhow::Result<()> {
    Ok(())
}
