//! One connection to Redis, single node or cluster, behind one type: redis-rs's
//! `ConnectionManager` (which reconnects by itself) or its async cluster connection (which
//! follows slot moves). It is made in the background, so a replica starts while Redis is down.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

use super::settings::SharedTierSettings;

/// How long a background connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause between failed attempts to connect.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

/// A command connection to the shared tier.
#[derive(Clone)]
pub(crate) enum RedisConnection {
    /// One Redis (or Valkey) node.
    Single(ConnectionManager),
    /// A Redis Cluster.
    Cluster(ClusterConnection),
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

/// Holds the connection once the background task has made it.
#[derive(Default)]
pub(crate) struct ConnectionSlot {
    connection: RwLock<Option<RedisConnection>>,
}

impl ConnectionSlot {
    /// The connection, if one was made.
    pub(crate) fn get(&self) -> Option<RedisConnection> {
        self.connection
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set(&self, connection: RedisConnection) {
        *self
            .connection
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(connection);
    }
}

/// Connects in the background until it succeeds; the connection then keeps itself up.
pub(crate) fn connect_in_background(settings: &SharedTierSettings, slot: &Arc<ConnectionSlot>) {
    let settings = settings.clone();
    let slot = Arc::clone(slot);
    tokio::spawn(async move {
        for attempt in 0_u64.. {
            if Arc::strong_count(&slot) == 1 {
                return; // The tier is gone.
            }
            let failure = match tokio::time::timeout(CONNECT_TIMEOUT, connect(&settings)).await {
                Ok(Ok(connection)) => {
                    slot.set(connection);
                    tracing::info!(redis = %settings.redacted_urls(), "shared tier connected");
                    return;
                }
                Ok(Err(error)) => settings.redact_message(&error.to_string()),
                Err(_) => "the connection attempt timed out".to_owned(),
            };
            // The first failure and then one in a hundred are worth a warning; the rest debug.
            if attempt % 100 == 0 {
                tracing::warn!(redis = %settings.redacted_urls(), %failure, "shared tier cannot connect; serving local-only");
            } else {
                tracing::debug!(%failure, "shared tier cannot connect yet");
            }
            tokio::time::sleep(RECONNECT_PAUSE).await;
        }
    });
}

async fn connect(settings: &SharedTierSettings) -> RedisResult<RedisConnection> {
    let urls = settings.url_list();
    let timeout = settings.command_timeout;
    if settings.cluster {
        let client = ClusterClient::builder(urls)
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(timeout)
            .retries(1)
            .build()?;
        return Ok(RedisConnection::Cluster(
            client.get_async_connection().await?,
        ));
    }
    let client = redis::Client::open(urls.first().map_or("", String::as_str))?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_secs(1));
    Ok(RedisConnection::Single(
        ConnectionManager::new_with_config(client, config).await?,
    ))
}

/// A client for the dedicated pub/sub connection: in a cluster any node hears every
/// `PUBLISH`, so the seeds are tried in turn.
pub(crate) fn pubsub_client(
    settings: &SharedTierSettings,
    attempt: usize,
) -> RedisResult<redis::Client> {
    let urls = settings.url_list();
    let url = urls
        .get(attempt % urls.len().max(1))
        .map_or("", String::as_str);
    redis::Client::open(url)
}
