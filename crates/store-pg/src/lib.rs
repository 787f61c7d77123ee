//! The PostgreSQL back end of the store (issue #20; operations in
//! `docs/POSTGRES.md`, the plan in `docs/design/postgres.md`). [`PgStore`]
//! implements `aibomdb_store::Backend`, notifications included (`notify.rs`,
//! `events.rs`); the schema is versioned SQL
//! (`migrations/NNNN_*.sql`, embedded), which `aibomdb --db postgres://…
//! migrate [--check]` applies or reports, and every open applies when behind.
//!
//! The calls are synchronous, as the store interface is: a [`Database`]
//! owns a small tokio runtime that drives its connections, and each call
//! blocks on it. Never call one from inside an async task.

mod advisories;
mod blast;
mod cache;
mod copy;
mod events;
mod governance;
mod group_rows;
mod heads;
mod migrate;
mod notify;
mod read;
mod store;
mod tls;
mod txn;
mod write;

pub use migrate::{Applied, MIGRATIONS, Migration, Status};
pub use store::{FOLLOW_EVERY, PgStore};

use aibomdb_store::StoreError;

/// Whether `--db` names a PostgreSQL database rather than a redb file.
pub fn is_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// A connection to one PostgreSQL database.
pub struct Database {
    /// Taken only by `drop`.
    rt: Option<tokio::runtime::Runtime>,
    client: tokio_postgres::Client,
    pub(crate) endpoint: tls::Endpoint,
    location: String,
}

impl Database {
    /// Connects to `url` (libpq's URL form, e.g.
    /// `postgresql://user@/db?host=/run/postgresql`).
    pub fn connect(url: &str) -> Result<Database, StoreError> {
        let (endpoint, location) = parse(url)?;
        // One worker drives the connections, so that a connection makes
        // progress whichever thread is blocked waiting on it.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("aibomdb-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let client = connect_client(&rt, &endpoint, &location)?;
        Ok(Database {
            rt: Some(rt),
            client,
            endpoint,
            location,
        })
    }

    /// The runtime that drives the connections.
    pub(crate) fn rt(&self) -> &tokio::runtime::Runtime {
        match &self.rt {
            Some(rt) => rt,
            None => unreachable!("the runtime is taken only when the database is dropped"),
        }
    }

    /// A connection to another database (a streaming replica of this one),
    /// on the same runtime; and where it is, without its password.
    pub(crate) fn client_of(
        &self,
        url: &str,
    ) -> Result<(tokio_postgres::Client, String), StoreError> {
        let (endpoint, location) = parse(url)?;
        Ok((connect_client(self.rt(), &endpoint, &location)?, location))
    }

    /// Another connection to the same database, on the same runtime.
    pub(crate) fn another_client(&self) -> Result<tokio_postgres::Client, StoreError> {
        connect_client(self.rt(), &self.endpoint, &self.location)
    }

    /// The database, for messages: the URL without its password.
    pub fn location(&self) -> &str {
        &self.location
    }
}

/// A URL's configuration (named `aibomdb` in pg_stat_activity unless it
/// says otherwise) with the TLS it asks for (`tls.rs`), and where it points
/// without its password.
pub(crate) fn parse(url: &str) -> Result<(tls::Endpoint, String), StoreError> {
    let (rest, wish) = tls::split(url, &redacted(url))?;
    let mut config: tokio_postgres::Config = rest.parse().map_err(|e| StoreError::NotAStore {
        path: redacted(url).into(),
        message: format!(
            "not a PostgreSQL URL: {e}{}",
            std::error::Error::source(&e).map_or(String::new(), |c| format!(": {c}"))
        ),
    })?;
    if config.get_application_name().is_none() {
        config.application_name("aibomdb");
    }
    let location = location(&config);
    // As libpq: a Unix socket is never encrypted, whatever `sslmode` says.
    let hosts = config.get_hosts();
    let socket_only = !hosts.is_empty()
        && hosts
            .iter()
            .all(|h| matches!(h, tokio_postgres::config::Host::Unix(_)));
    let tls = match wish {
        Some(_) if socket_only => {
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
            None
        }
        Some(wish) => Some(tls::connector_for(&wish, &location)?),
        None => None,
    };
    Ok((tls::Endpoint { config, tls }, location))
}

/// A connection made on `db`'s runtime.
pub(crate) fn connect_async_client(
    db: &Database,
    endpoint: &tls::Endpoint,
    location: &str,
) -> Result<tokio_postgres::Client, StoreError> {
    connect_client(db.rt(), endpoint, location)
}

/// A connection, its driving task spawned on the current runtime.
async fn open(endpoint: &tls::Endpoint) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    async fn drive<F: std::future::Future<Output = Result<(), tokio_postgres::Error>>>(
        connection: F,
    ) {
        if let Err(e) = connection.await {
            tracing::warn!("PostgreSQL connection ended: {e}");
        }
    }
    Ok(match &endpoint.tls {
        None => {
            let (client, connection) = endpoint.config.connect(tokio_postgres::NoTls).await?;
            tokio::spawn(drive(connection));
            client
        }
        Some(tls) => {
            let (client, connection) = endpoint.config.connect(tls.clone()).await?;
            tokio::spawn(drive(connection));
            client
        }
    })
}

/// A new connection from inside the runtime (the counter's poll), or none.
pub(crate) async fn reconnect(endpoint: &tls::Endpoint) -> Option<tokio_postgres::Client> {
    let client = open(endpoint).await.ok()?;
    client
        .batch_execute("SET jit = off; SET plan_cache_mode = force_custom_plan")
        .await
        .ok()?;
    Some(client)
}

fn connect_client(
    rt: &tokio::runtime::Runtime,
    endpoint: &tls::Endpoint,
    location: &str,
) -> Result<tokio_postgres::Client, StoreError> {
    let client = rt.block_on(open(endpoint)).map_err(|e| StoreError::Open {
        path: location.into(),
        // The cause too: a refused certificate says why.
        message: match std::error::Error::source(&e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    })?;
    // A path query is planned in well under a millisecond; JIT compiling
    // it costs more than it saves (measured 3x slower with it on). Prepared
    // reads are planned for their parameters each time: a generic plan for
    // `deployment = $3 OR $3 IS NULL` and the like can be far worse, and the
    // plan costs less than the round trip preparing saves.
    rt.block_on(client.batch_execute("SET jit = off; SET plan_cache_mode = force_custom_plan"))
        .map_err(backend)?;
    Ok(client)
}

impl Drop for Database {
    /// A store may be dropped inside async code (`serve` drops its store
    /// inside its own runtime), where dropping a runtime that blocks on its
    /// workers would panic: the workers are left to end on their own.
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

pub(crate) fn backend(e: tokio_postgres::Error) -> StoreError {
    StoreError::Backend(match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => match std::error::Error::source(&e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    })
}

/// `postgresql://user@host:port/db`, never the password.
fn location(config: &tokio_postgres::Config) -> String {
    let user = config.get_user().unwrap_or("");
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_default();
    let port = config
        .get_ports()
        .first()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let db = config.get_dbname().unwrap_or("");
    format!("postgresql://{user}@{host}{port}/{db}")
}

/// A URL that did not parse, with anything between `:` and `@` in its
/// authority hidden (it may be a password).
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(a URL that does not parse)".into();
    };
    // The authority ends at the last `@` (a password may hold one).
    let rest = match rest.rsplit_once('@') {
        Some((auth, host)) => {
            let user = auth.split(':').next().unwrap_or("");
            format!("{user}@{host}")
        }
        None => rest.to_string(),
    };
    // libpq also takes the password as a parameter.
    let rest = match rest.split_once('?') {
        Some((base, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|p| !p.to_ascii_lowercase().starts_with("password="))
                .collect();
            format!("{base}?{}", kept.join("&"))
        }
        None => rest,
    };
    format!("{scheme}://{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_never_holds_the_password() {
        let config: tokio_postgres::Config = "postgresql://ci:s3cret@db.example:5433/aibom"
            .parse()
            .unwrap();
        assert_eq!(location(&config), "postgresql://ci@db.example:5433/aibom");
        assert_eq!(
            redacted("postgres://ci:s3cret@db.example/x?bad=%"),
            "postgres://ci@db.example/x?bad=%"
        );
        assert_eq!(
            redacted("postgres://ci:s3@cret@db.example/x?password=p4ss&bad=%"),
            "postgres://ci@db.example/x?bad=%"
        );
        assert!(is_url("postgresql://x") && is_url("postgres://x") && !is_url("./s.redb"));
    }
}
