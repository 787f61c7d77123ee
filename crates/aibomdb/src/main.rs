//! `aibomdb`: the command line. Parses arguments, calls the libraries, prints.
//! Exit codes: 0 success, 1 a gate tripped, 2 bad input or usage, 3 an
//! internal failure (`exit.rs`).

// First, so that its print macros shadow std's everywhere below.
#[macro_use]
mod output;
mod advisories;
mod background;
mod copy;
mod evidence;
mod exit;
mod gate;
mod ingest;
mod matching;
mod migrate;
mod models;
mod notify;
mod overview;
mod query;
mod release;
mod table;
mod timeline;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aibomdb_store::{IngestOutcome, Store};
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

pub(crate) use evidence::write_out;
use evidence::{CraReportArgs, ExportArgs, cra_report, export};
use exit::BadInput;
use models::{ApproveArgs, IngestModelArgs, approve, ingest_model, print_model};
use table::Table;

#[derive(Parser)]
#[command(
    name = "aibomdb",
    version,
    about = "AI bill-of-materials graph database"
)]
struct Cli {
    /// The store: a redb file, or a PostgreSQL database
    /// (`postgresql://user@host/db`).
    #[arg(
        long,
        global = true,
        env = "AIBOMDB_DB",
        hide_env_values = true,
        default_value = "./aibomdb.redb"
    )]
    db: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest SBOMs (files or directories; format detected from content).
    Ingest(ingest::IngestArgs),
    /// Ingest a model directory as one document: card, configs, every file
    /// hashed and checked against published digests, pickles scanned (never loaded).
    IngestModel(IngestModelArgs),
    /// Counts of what the store holds.
    Stats(FormatArg),
    /// The estate at a glance: counts, matched advisories by severity, top
    /// exposures, riskiest deployments, models with findings, recent changes.
    Overview(overview::OverviewArgs),
    /// Find packages (exact names first, then by deployments holding them),
    /// deployments and advisories, as the web page's search box does.
    Search(overview::SearchArgs),
    /// Documents in the store, with history.
    Documents(DocumentsArgs),
    /// OSV advisories.
    #[command(subcommand)]
    Advisories(advisories::AdvisoriesCommand),
    /// Webhook notifications of new and resolved matches: targets, the
    /// delivery log, and one delivery round.
    #[command(subcommand)]
    Notify(notify::NotifyCommand),
    /// Advisories matching the deployments' packages; a CI gate with --fail-on.
    Match(matching::MatchArgs),
    /// Blast-radius queries.
    #[command(subcommand)]
    Query(query::QueryCommand),
    /// May this ship? Evaluate a policy file (vulnerabilities, pinning,
    /// models, licences, evidence) over deployments; exit 1 when a deny rule fails.
    Gate(gate::GateArgs),
    /// Policies stored in the store for `gate --stored` and the API.
    #[command(subcommand)]
    Policy(gate::PolicyCommand),
    /// Releases: what was approved to ship, frozen (create, list, show,
    /// diff, rollback-target).
    #[command(subcommand)]
    Release(release::ReleaseCommand),
    /// Record what was seen running: model file hashes, image digests, runners.
    Observe(release::ObserveArgs),
    /// What runs against what was released; exit 1 on drift.
    Drift(release::DriftArgs),
    /// When deployments became exposed to advisories and when that ended, from
    /// history; with --at, whether they were exposed then.
    Timeline(timeline::TimelineArgs),
    /// Serve GraphQL (`/graphql`, GraphiQL on GET), the web dashboard (`/`) and `/healthz`.
    Serve(ServeArgs),
    /// Print the GraphQL schema (SDL), as checked in at schema/schema.graphql.
    Schema,
    /// Give the store's free space back to the file system (after a bulk
    /// ingest or deletes): a redb file's free pages; on PostgreSQL every
    /// table rewritten (VACUUM FULL). Needs the store to be open nowhere
    /// else (PostgreSQL locks each table while it is rewritten).
    Compact(FormatArg),
    /// Bring a store written by an earlier aibomdb to this build's layout
    /// (every command does so on open), or with --check say what would change.
    Migrate(migrate::MigrateArgs),
    /// Copy a store into an empty one on either back end (redb file ⇄
    /// PostgreSQL), keeping every id, time and answer.
    Copy(copy::CopyArgs),
    /// Approve one file of a model by its SHA-256: the approval is bound to
    /// those bytes, so a changed file shows as unapproved.
    Approve(ApproveArgs),
    /// Write a deployment as compliance evidence: CycloneDX 1.6/1.5 (with BSI
    /// TR-03183-2 properties), SPDX 2.3, OpenVEX or CycloneDX VEX.
    Export(ExportArgs),
    /// Completeness of a deployment's evidence against BSI TR-03183-2 v2.1.0;
    /// exits 1 when a required field is missing (a release gate).
    CraReport(CraReportArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LineageDirection {
    Up,
    Down,
    Both,
}

#[derive(Args)]
struct FormatArg {
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

#[derive(Args)]
struct DocumentsArgs {
    /// Only this deployment's documents.
    #[arg(long)]
    deployment: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

#[derive(Args)]
struct ServeArgs {
    /// Read from this streaming replica of the `--db` PostgreSQL database
    /// (writes still go to `--db`). Answers lag the primary by the replica's
    /// replay lag plus at most 100 ms.
    #[arg(long, env = "AIBOMDB_READ_DB", hide_env_values = true)]
    read_db: Option<String>,
    /// Address to listen on; port 0 picks a free port (the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Bearer token for mutations. Without one the server is read-only.
    #[arg(long, env = "AIBOMDB_WRITE_TOKEN", hide_env_values = true)]
    write_token: Option<String>,
    /// File holding the write token (first line).
    #[arg(long, conflicts_with = "write_token")]
    write_token_file: Option<PathBuf>,
    /// Bearer token for reads (the write token also reads). Without one reads are open.
    #[arg(long, env = "AIBOMDB_READ_TOKEN", hide_env_values = true)]
    read_token: Option<String>,
    /// File holding the read token (first line).
    #[arg(long, conflicts_with = "read_token")]
    read_token_file: Option<PathBuf>,
    /// Largest request body accepted with the write token (uploads), in bytes.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Largest request body accepted without the write token (a query), in bytes.
    #[arg(long, default_value_t = 1024 * 1024)]
    max_query_bytes: usize,
    /// Largest GraphQL answer, in bytes; the fields past it fail.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    max_response_bytes: usize,
    /// Longest a request may run once its body is in, in seconds (fractions allowed).
    #[arg(long, default_value = "30", value_parser = seconds)]
    timeout_secs: std::time::Duration,
    /// Longest a client may take to send a request's headers, or to start its
    /// next request on an idle connection, in seconds.
    #[arg(long, default_value = "10", value_parser = seconds)]
    header_timeout_secs: std::time::Duration,
    /// Longest a client may take to send a request's body, in seconds.
    #[arg(long, default_value = "60", value_parser = seconds)]
    body_timeout_secs: std::time::Duration,
    /// Read answers kept in memory until the next write (0: no cache).
    #[arg(long, default_value_t = 512)]
    cache_entries: usize,
    /// Bytes the kept answers may take in all.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    cache_bytes: usize,
    /// A `Host` name the server answers to besides its listen address and
    /// localhost (repeatable; `name` or `name:port`). Others get 421.
    #[arg(long = "allow-host", value_name = "NAME")]
    allow_hosts: Vec<String>,
    /// Keep advisories current from this feed (a base URL or directory laid
    /// out like the OSV data export), synced at start and every --sync-interval.
    #[arg(long)]
    sync_source: Option<String>,
    /// Ecosystems to sync (repeatable); default: the source's ecosystems.txt.
    #[arg(long = "sync-ecosystem", value_name = "NAME", requires = "sync_source")]
    sync_ecosystems: Vec<String>,
    /// Time between syncs: seconds, or a number with s, m, h or d.
    #[arg(long, default_value = "1h", value_parser = interval, requires = "sync_source")]
    sync_interval: std::time::Duration,
    /// First delay before a failed webhook delivery is retried (it doubles per
    /// attempt, up to an hour): seconds, or a number with s, m, h or d.
    #[arg(long, default_value = "1s", value_parser = interval)]
    notify_backoff: std::time::Duration,
    /// Failed attempts after which a webhook delivery is dead: logged, passed
    /// (the events behind it go on), sent again by `notify retry`. A 4xx
    /// other than 408, 425 and 429 makes it dead at once.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    notify_max_attempts: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Table,
    Json,
}

/// glibc's allocator spends a quarter of an ingest's parse time in
/// malloc/free of small strings; mimalloc's per-thread pages do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AIBOMDB_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal, not into CI logs and files.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // A panic is a bug: the hook has printed it; the exit code says "ours".
    let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli))) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::code(&e))
        }
        Err(_) => ExitCode::from(exit::INTERNAL),
    };
    match output::take_stdout_error() {
        Some(e) => {
            eprintln!("error: writing to stdout: {e}");
            ExitCode::from(exit::INTERNAL)
        }
        None => code,
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    if let Some(url) = postgres_url(&cli.db)
        && let Command::Migrate(args) = cli.command
    {
        return migrate::run_postgres(url, args);
    }
    match cli.command {
        Command::Ingest(args) => ingest::run(&cli.db, args),
        Command::IngestModel(args) => ingest_model(&cli.db, args),
        Command::Stats(f) => stats(&open(&cli.db)?, f.format),
        Command::Overview(args) => overview::overview(&open(&cli.db)?, args),
        Command::Search(args) => overview::search(&open(&cli.db)?, args),
        Command::Documents(args) => documents(&open(&cli.db)?, args),
        Command::Query(q) => query::query(&open(&cli.db)?, q),
        Command::Advisories(cmd) => advisories::run(&cli.db, cmd),
        Command::Notify(cmd) => notify::run(&cli.db, cmd),
        Command::Match(args) => matching::run(&open(&cli.db)?, args),
        Command::Gate(args) => gate::run(&open(&cli.db)?, args),
        Command::Policy(cmd) => gate::policy_command(&cli.db, cmd),
        Command::Release(cmd) => release::release_command(&open(&cli.db)?, cmd),
        Command::Observe(args) => release::observe(&open(&cli.db)?, args),
        Command::Drift(args) => release::drift(&open(&cli.db)?, args),
        Command::Timeline(args) => timeline::run(&open(&cli.db)?, args),
        Command::Serve(args) => serve(&cli.db, args),
        Command::Schema => {
            print!("{}", aibomdb_api::sdl());
            Ok(ExitCode::SUCCESS)
        }
        Command::Compact(args) => compact(&cli.db, args.format),
        Command::Migrate(args) => migrate::run(&cli.db, args),
        Command::Approve(args) => approve(&cli.db, args),
        Command::Copy(args) => copy::run(&cli.db, args),
        Command::Export(args) => export(&open(&cli.db)?, args),
        Command::CraReport(args) => cra_report(&open(&cli.db)?, args),
    }
}

/// The PostgreSQL URL `--db` names, if it names one rather than a file.
pub(crate) fn postgres_url(db: &Path) -> Option<&str> {
    db.to_str().filter(|d| aibomdb_store_pg::is_url(d))
}

fn serve(db: &PathBuf, args: ServeArgs) -> Result<ExitCode> {
    let listen: std::net::SocketAddr = args
        .listen
        .parse()
        .map_err(|e| BadInput(format!("--listen {:?}: {e}", args.listen)))?;
    let write_token = token(&args.write_token, &args.write_token_file, "write")?;
    let read_token = token(&args.read_token, &args.read_token_file, "read")?;
    let store = match (postgres_url(db), &args.read_db) {
        (Some(url), Some(read_url)) => Store::from_backend(Box::new(
            aibomdb_store_pg::PgStore::open_with_replica(url, Some(read_url))?,
        )),
        (None, Some(_)) => {
            return Err(BadInput(
                "--read-db names a replica of a PostgreSQL --db; a redb file has none".into(),
            )
            .into());
        }
        _ => open(db)?,
    };
    // Servers sharing a database see each other's writes within this bound.
    store.follow_other_writers()?;
    let store = std::sync::Arc::new(store);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let background = background::start(&store, &args, &stop);
    let config = aibomdb_api::ServerConfig {
        write_token,
        read_token,
        max_body_bytes: args.max_body_bytes,
        max_query_bytes: args.max_query_bytes,
        timeout: args.timeout_secs,
        header_timeout: args.header_timeout_secs,
        body_timeout: args.body_timeout_secs,
        cache_entries: args.cache_entries,
        cache_bytes: args.cache_bytes,
        allowed_hosts: args.allow_hosts,
        limits: aibomdb_api::QueryLimits {
            max_response_bytes: args.max_response_bytes,
            ..Default::default()
        },
    };
    let writable = config.write_token.is_some();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(aibomdb_api::serve(listen, store, config, |addr| {
        use std::io::Write;
        println!(
            "listening on http://{addr} ({})",
            if writable {
                "writes need the token"
            } else {
                "read-only: no write token"
            }
        );
        let _ = std::io::stdout().flush();
    }))?;
    stop.store(true, std::sync::atomic::Ordering::Release);
    for handle in background {
        let _ = handle.join();
    }
    Ok(ExitCode::SUCCESS)
}

/// A duration: seconds (fractions allowed), or a number with s, m, h or d.
fn interval(s: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let factor = match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        'd' => 86400.0,
        _ => return Err(format!("{s:?}: the unit is s, m, h or d")),
    };
    seconds(number)
        .map(|d| d.mul_f64(factor))
        .map_err(|_| format!("{s:?} is not a duration (seconds, or a number with s, m, h or d)"))
}

/// A positive number of seconds, fractions allowed.
fn seconds(s: &str) -> Result<std::time::Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() && v < 1e9 => Ok(std::time::Duration::from_secs_f64(v)),
        _ => Err(format!("{s:?} is not a positive number of seconds")),
    }
}

/// A bearer token from its flag (or env var) or the first line of its file;
/// too short a token is refused.
fn token(value: &Option<String>, file: &Option<PathBuf>, which: &str) -> Result<Option<String>> {
    let token = match (value, file) {
        (Some(t), _) => t.trim().to_string(),
        (None, Some(f)) => std::fs::read_to_string(f)
            .map_err(|e| BadInput(format!("--{which}-token-file {}: {e}", f.display())))?
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string(),
        (None, None) => return Ok(None),
    };
    if token.len() < aibomdb_api::MIN_TOKEN_LEN {
        return Err(BadInput(format!(
            "the {which} token must be at least {} characters",
            aibomdb_api::MIN_TOKEN_LEN
        ))
        .into());
    }
    Ok(Some(token))
}

/// Query errors: a malformed question exits 2, a store failure is ours.
fn bad_input(e: aibomdb_query::QueryError) -> anyhow::Error {
    match e {
        aibomdb_query::QueryError::BadInput(m) => BadInput(m).into(),
        aibomdb_query::QueryError::BadRange(m) => BadInput(format!("--version-range: {m}")).into(),
        other => other.into(),
    }
}

/// A deployment a command names must exist: a typo must neither pass a gate
/// nor look like an empty answer.
fn known_deployment(store: &Store, name: &str) -> Result<()> {
    if store.deployment_documents(name)?.is_empty() {
        return Err(BadInput(format!("no deployment named {name:?}")).into());
    }
    Ok(())
}

pub(crate) fn open(path: &PathBuf) -> Result<Store> {
    if let Some(url) = postgres_url(path) {
        let backend = aibomdb_store_pg::PgStore::open(url)?;
        return Ok(Store::from_backend(Box::new(backend)));
    }
    let store = Store::open(path).with_context(|| format!("opening store {}", path.display()))?;
    if let Some(m) = store.migration() {
        eprintln!(
            "migrated store {} from layout {} to {}; the file as it was is kept at {}",
            path.display(),
            m.from,
            m.to,
            m.backup.display()
        );
    }
    Ok(store)
}

fn compact(db: &PathBuf, format: OutputFormat) -> Result<ExitCode> {
    let on_postgres = postgres_url(db).is_some();
    if !on_postgres && !db.exists() {
        return Err(BadInput(format!("no store at {}", db.display())).into());
    }
    // The file's size, or the database's (pg_database_size).
    let size = |store: &Store| -> Result<u64> {
        Ok(match store.file() {
            Some(path) => std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            None => store.stats()?.file_bytes,
        })
    };
    let mut store = open(db)?;
    let location = store.location();
    let before = size(&store)?;
    store.persist_heads()?;
    store.compact()?;
    let after = if on_postgres {
        size(&store)?
    } else {
        drop(store);
        std::fs::metadata(db).map(|m| m.len()).unwrap_or(0)
    };
    match format {
        OutputFormat::Json => println!("{}", serde_json::json!({"before": before, "after": after})),
        _ => println!(
            "{location}: {:.1} MiB → {:.1} MiB",
            before as f64 / 1048576.0,
            after as f64 / 1048576.0
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn stats(store: &Store, format: OutputFormat) -> Result<ExitCode> {
    let s = store.stats()?;
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&s)?),
        OutputFormat::Table => {
            let mut t = Table::new(&["what", "count"]);
            for (k, v) in [
                ("deployments", s.deployments),
                ("documents", s.documents),
                ("current documents", s.current_documents),
                ("packages", s.packages),
                ("document→package edges", s.occurrences),
                ("package→package edges", s.dependency_edges),
                ("store file bytes", s.file_bytes),
            ] {
                t.row(vec![k.to_string(), v.to_string()]);
            }
            print!("{t}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn documents(store: &Store, args: DocumentsArgs) -> Result<ExitCode> {
    if let Some(d) = &args.deployment {
        known_deployment(store, d)?;
    }
    let docs: Vec<_> = store
        .documents()?
        .into_iter()
        .filter(|d| args.deployment.as_ref().is_none_or(|n| &d.deployment == n))
        .collect();
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&docs)?),
        OutputFormat::Table => {
            let mut t = Table::new(&[
                "doc",
                "deployment",
                "format",
                "spec",
                "tool",
                "packages",
                "edges",
                "current",
                "path",
            ]);
            for d in &docs {
                t.row(vec![
                    d.id.to_string(),
                    d.deployment.clone(),
                    d.format.as_str().to_string(),
                    d.spec_version.clone(),
                    d.tools
                        .first()
                        .map(|t| {
                            format!("{} {}", t.name, t.version.as_deref().unwrap_or(""))
                                .trim()
                                .to_string()
                        })
                        .unwrap_or_default(),
                    d.package_count.to_string(),
                    d.edge_count.to_string(),
                    match d.superseded_by {
                        None => "yes".into(),
                        Some(n) => format!("no (by {n})"),
                    },
                    d.source_path.clone(),
                ]);
            }
            print!("{t}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
