//! `aibomdb advisories`: load OSV records from files, sync them from a feed,
//! load CISA KEV, and show how far each feed has been synced.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use crate::table::Table;
use crate::{BadInput, OutputFormat, exit, open};

#[derive(Subcommand)]
pub(crate) enum AdvisoriesCommand {
    /// Load OSV records: JSON or YAML files, directories of them, osv.dev `all.zip` exports.
    /// Loading again updates records by id and `modified`; withdrawn records stop matching.
    Load {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Largest single OSV record, in bytes.
        #[arg(long, default_value_t = aibomdb_osv::LoadLimits::default().max_record_bytes)]
        max_record_bytes: u64,
        /// Most entries read from one zip (osv.dev `all.zip`).
        #[arg(long, default_value_t = aibomdb_osv::LoadLimits::default().max_zip_entries)]
        max_zip_entries: usize,
        /// Most bytes decompressed from one zip in all (zip bombs stop here).
        #[arg(long, default_value_t = aibomdb_osv::LoadLimits::default().max_zip_total_bytes)]
        max_zip_bytes: u64,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Bring advisories up to date from a source laid out like the OSV data
    /// export (https://osv-vulnerabilities.storage.googleapis.com, or a
    /// directory): only what changed since the last sync is fetched.
    Sync(SyncArgs),
    /// How far each advisory feed has been synced.
    Feeds {
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Load CISA's Known Exploited Vulnerabilities catalog (its JSON feed,
    /// known_exploited_vulnerabilities.json); replaces the one loaded before.
    /// Matches whose advisory has a listed CVE alias show it, and the gate's
    /// `vulnerabilities.kev` uses it.
    Kev {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Load FIRST's EPSS scores (epss_scores-current.csv, plain or .gz);
    /// replaces the ones loaded before. Matches show the highest score among
    /// their advisory's CVEs, and the gate's `vulnerabilities.epss_at_least` uses it.
    Epss {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
}

#[derive(clap::Args, Clone)]
pub(crate) struct SyncArgs {
    /// Base URL (http/https) or directory with `<Ecosystem>/modified_id.csv`,
    /// `<Ecosystem>/all.zip` and `<Ecosystem>/<ID>.json`.
    #[arg(long)]
    pub(crate) source: String,
    /// An ecosystem to sync (repeatable), as OSV names it: PyPI, Debian,
    /// Alpine… Default: every one the source lists in `ecosystems.txt`.
    #[arg(long = "ecosystem", value_name = "NAME")]
    pub(crate) ecosystems: Vec<String>,
    /// More changed records than this are fetched as the whole `all.zip`.
    #[arg(long, default_value_t = aibomdb_feeds::SyncOptions::default().max_individual)]
    pub(crate) max_individual: usize,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub(crate) format: OutputFormat,
}

impl SyncArgs {
    pub(crate) fn options(&self) -> aibomdb_feeds::SyncOptions {
        aibomdb_feeds::SyncOptions {
            ecosystems: self.ecosystems.clone(),
            max_individual: self.max_individual,
            limits: aibomdb_osv::LoadLimits::default(),
        }
    }
}

pub(crate) fn run(db: &PathBuf, command: AdvisoriesCommand) -> Result<ExitCode> {
    match command {
        AdvisoriesCommand::Load {
            paths,
            max_record_bytes,
            max_zip_entries,
            max_zip_bytes,
            format,
        } => {
            let limits = aibomdb_osv::LoadLimits {
                max_record_bytes,
                max_zip_entries,
                max_zip_total_bytes: max_zip_bytes,
            };
            load(db, &paths, &limits, format)
        }
        AdvisoriesCommand::Sync(args) => sync(db, &args),
        AdvisoriesCommand::Feeds { format } => feeds(db, format),
        AdvisoriesCommand::Kev { file, format } => kev(db, &file, format),
        AdvisoriesCommand::Epss { file, format } => epss(db, &file, format),
    }
}

fn load(
    db: &PathBuf,
    paths: &[PathBuf],
    limits: &aibomdb_osv::LoadLimits,
    format: OutputFormat,
) -> Result<ExitCode> {
    let mut advisories = Vec::new();
    let mut rejected = Vec::new();
    for p in paths {
        let loaded = aibomdb_osv::load_path(p, limits)?;
        advisories.extend(loaded.advisories.into_iter().map(|(_, a)| a));
        rejected.extend(loaded.rejected);
    }
    let store = open(db)?;
    let summary = aibomdb_osv::load_advisories(&store, &advisories)?;
    match format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"summary": summary, "rejected": rejected})
            )?
        ),
        OutputFormat::Table => {
            println!(
                "{} read: {} added, {} updated, {} unchanged ({} withdrawn); {} matches written",
                advisories.len(),
                summary.added,
                summary.updated,
                summary.unchanged,
                summary.withdrawn,
                summary.matches
            );
        }
    }
    for (source, reason) in &rejected {
        eprintln!("error: {source}: {reason}");
    }
    Ok(if rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::BAD_INPUT)
    })
}

fn sync(db: &PathBuf, args: &SyncArgs) -> Result<ExitCode> {
    let source = aibomdb_feeds::Source::parse(&args.source).map_err(|e| BadInput(e.to_string()))?;
    let store = open(db)?;
    let report = aibomdb_feeds::sync(&store, &source, &args.options()).map_err(|e| {
        if e.is_input() {
            BadInput(e.to_string()).into()
        } else {
            anyhow::Error::from(e)
        }
    })?;
    print_sync(&report, args.format)?;
    let rejected: usize = report.ecosystems.iter().map(|e| e.rejected.len()).sum();
    Ok(if rejected == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::BAD_INPUT)
    })
}

pub(crate) fn print_sync(report: &aibomdb_feeds::SyncReport, format: OutputFormat) -> Result<()> {
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(report)?),
        OutputFormat::Table => {
            let mut t = Table::new(&[
                "ECOSYSTEM",
                "MODE",
                "REQUESTS",
                "LISTED",
                "ADDED",
                "UPDATED",
                "UNCHANGED",
                "MATCHES",
                "REJECTED",
            ]);
            for e in &report.ecosystems {
                t.row(vec![
                    e.ecosystem.clone(),
                    format!("{:?}", e.mode).to_lowercase(),
                    e.requests.to_string(),
                    e.listed.to_string(),
                    e.loaded.added.to_string(),
                    e.loaded.updated.to_string(),
                    e.loaded.unchanged.to_string(),
                    e.loaded.matches.to_string(),
                    e.rejected.len().to_string(),
                ]);
            }
            print!("{t}");
        }
    }
    for e in &report.ecosystems {
        for (source, reason) in &e.rejected {
            eprintln!("error: {source}: {reason}");
        }
    }
    Ok(())
}

fn feeds(db: &PathBuf, format: OutputFormat) -> Result<ExitCode> {
    let store = open(db)?;
    let states = aibomdb_feeds::states(&store)?;
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&states)?),
        OutputFormat::Table => {
            let mut t = Table::new(&["SOURCE", "ECOSYSTEM", "NEWEST RECORD", "SYNCED"]);
            for s in &states {
                t.row(vec![
                    s.source.clone(),
                    s.ecosystem.clone(),
                    s.high_water.clone().unwrap_or_else(|| "-".into()),
                    aibomdb_policy::time::format(i64::try_from(s.synced_at).unwrap_or(0)),
                ]);
            }
            print!("{t}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn kev(db: &PathBuf, file: &PathBuf, format: OutputFormat) -> Result<ExitCode> {
    let bytes = std::fs::read(file).map_err(|e| BadInput(format!("{}: {e}", file.display())))?;
    let store = open(db)?;
    let now = aibomdb_policy::time::now().max(0) as u64;
    let source =
        aibomdb_osv::kev::load(&store, &file.display().to_string(), &bytes, now).map_err(|e| {
            match e {
                aibomdb_osv::kev::KevError::Store(s) => anyhow::Error::from(s),
                other => BadInput(other.to_string()).into(),
            }
        })?;
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&source)?),
        OutputFormat::Table => println!(
            "loaded CISA KEV catalog {} (released {}): {} CVEs",
            source.version, source.released, source.entries
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn epss(db: &PathBuf, file: &PathBuf, format: OutputFormat) -> Result<ExitCode> {
    let bytes = std::fs::read(file).map_err(|e| BadInput(format!("{}: {e}", file.display())))?;
    let store = open(db)?;
    let now = aibomdb_policy::time::now().max(0) as u64;
    let source = aibomdb_osv::epss::load(&store, &file.display().to_string(), &bytes, now)
        .map_err(|e| match e {
            aibomdb_osv::epss::EpssError::Store(s) => anyhow::Error::from(s),
            other => BadInput(other.to_string()).into(),
        })?;
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&source)?),
        OutputFormat::Table => println!(
            "loaded EPSS scores (model {}, scored {}): {} CVEs",
            source.version, source.released, source.entries
        ),
    }
    Ok(ExitCode::SUCCESS)
}
