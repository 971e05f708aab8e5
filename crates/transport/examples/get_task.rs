//! Fetches one task and prints it as pretty JSON.
//!
//! ```text
//! ALUMIO_URL=https://tenant.alumio.com/api/v1 ALUMIO_API_TOKEN=... \
//!     cargo run -p alumio-transport --example get_task -- <identifier> [space]
//! ```

use std::io::Write;

use alumio_models::{SpaceIdentifier, TaskIdentifier};
use alumio_transport::AlumioClient;
use anyhow::Context;
use secrecy::SecretString;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base_url = std::env::var("ALUMIO_URL").context("ALUMIO_URL is not set")?;
    let token = std::env::var("ALUMIO_API_TOKEN").context("ALUMIO_API_TOKEN is not set")?;
    let mut args = std::env::args().skip(1);
    let identifier: TaskIdentifier = args
        .next()
        .context("usage: get_task <identifier> [space]")?
        .parse()?;
    let space: Option<SpaceIdentifier> = args.next().map(|space| space.parse()).transpose()?;

    let client = AlumioClient::builder(&base_url, SecretString::from(token)).build()?;
    let task = client.get_task(&identifier, space.as_ref()).await?;

    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &task)?;
    writeln!(out)?;
    Ok(())
}
