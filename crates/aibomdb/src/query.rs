//! `aibomdb query`: the questions of `crates/query`, asked from the command
//! line, printed as tables or JSON.

use super::*;

#[derive(Subcommand)]
pub(crate) enum QueryCommand {
    /// Versions of a package and where each is deployed.
    Packages {
        /// Package name (PyPI names are PEP 503-normalised).
        #[arg(long)]
        name: String,
        /// Purl type: pypi, deb, npm, ...
        #[arg(long)]
        ecosystem: Option<String>,
        /// e.g. `<4.38` or `>=4.0,<4.38` (PEP 440 for PyPI, dpkg for deb).
        #[arg(long)]
        version_range: Option<String>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// One deployment: documents (with history), packages, and what each
    /// document leaves out that another lists, with the reason.
    Deployment {
        name: String,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Models in deployments: lineage (derived from, trained on), files and
    /// their integrity, pickle findings, approval. Each filter keeps the models
    /// it names and exits 1 when one remains (a release gate).
    Models {
        #[arg(long)]
        deployment: Option<String>,
        /// Any finding.
        #[arg(long)]
        risky: bool,
        /// No model.sig, files it does not cover, a signature not verified,
        /// or files that differ from their signed digest.
        #[arg(long)]
        unsigned: bool,
        /// Files whose SHA-256 differs from a published or signed digest.
        #[arg(long)]
        hash_mismatch: bool,
        /// Pickles that import code which runs on load.
        #[arg(long)]
        pickle_dangerous: bool,
        /// Models whose files are not all approved as they are now.
        #[arg(long)]
        unapproved: bool,
        /// Models with a credential in one of their files (gitleaks rules;
        /// shown redacted, with a fingerprint).
        #[arg(long)]
        secrets: bool,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// A model's lineage: bases and datasets (up), fine-tunes, adapters,
    /// quantizations and merges of it (down), across every current document.
    Lineage {
        /// A purl, a Hub id `org/name[@revision]`, a local model's name, or a dataset.
        model: String,
        #[arg(long, value_enum, default_value_t = LineageDirection::Both)]
        direction: LineageDirection,
        #[arg(long, default_value_t = 8)]
        depth: u32,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Deployments that run a model or (unless --exact) anything derived from it.
    Running {
        /// A purl, a Hub id `org/name[@revision]`, or a local model's name.
        model: String,
        /// Only the model itself, not its fine-tunes, adapters, quantizations.
        #[arg(long)]
        exact: bool,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Deployments, packages and fixed versions affected by an advisory (any alias: CVE, GHSA, PYSEC).
    Affected {
        #[arg(long)]
        advisory: String,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Deployments that contain a package, with the path to it: by purl, or by
    /// name and version range (`--name transformers --version-range '<4.38'`).
    Deployments {
        /// Package URL; qualifiers are ignored.
        #[arg(long, conflicts_with = "name")]
        purl: Option<String>,
        /// Package name (PyPI names are PEP 503-normalised).
        #[arg(long)]
        name: Option<String>,
        /// Purl type, with --name.
        #[arg(long, requires = "name")]
        ecosystem: Option<String>,
        /// e.g. `<4.38`, with --name.
        #[arg(long, requires = "name")]
        version_range: Option<String>,
        /// Include superseded documents.
        #[arg(long)]
        history: bool,
        /// Only this deployment: the path from it to the package.
        #[arg(long = "in")]
        in_deployment: Option<String>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
}

pub(crate) fn query(store: &Store, q: QueryCommand) -> Result<ExitCode> {
    match q {
        QueryCommand::Packages {
            name,
            ecosystem,
            version_range,
            format,
        } => {
            let range = version_range
                .as_deref()
                .map(aibomdb_query::parse_range)
                .transpose()
                .map_err(bad_input)?;
            let answer =
                aibomdb_query::packages(store, &name, ecosystem.as_deref(), range.as_ref())
                    .map_err(bad_input)?;
            let (out, unreadable) = (answer.packages, answer.unordered);
            match format {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "packages": out,
                        "unordered": unreadable,
                        "notes": answer.notes,
                    }))?
                ),
                OutputFormat::Table => {
                    let mut t = Table::new(&["purl", "version", "documents", "deployments"]);
                    for v in &out {
                        t.row(vec![
                            v.package.key.clone(),
                            v.package.version.clone().unwrap_or_default(),
                            v.documents.to_string(),
                            v.deployments.join(", "),
                        ]);
                    }
                    print!("{t}");
                    for u in &unreadable {
                        eprintln!("warning: cannot compare {u}");
                    }
                    print_notes(&answer.notes);
                }
            }
        }
        QueryCommand::Models {
            deployment,
            risky,
            unsigned,
            hash_mismatch,
            pickle_dangerous,
            unapproved,
            secrets,
            format,
        } => {
            use aibomdb_query::FindingFilter as F;
            let filters = F::selected([
                risky,
                unsigned,
                hash_mismatch,
                pickle_dangerous,
                unapproved,
                secrets,
            ]);
            if let Some(d) = &deployment {
                known_deployment(store, d)?;
            }
            let mut views =
                aibomdb_query::models(store, deployment.as_deref()).map_err(bad_input)?;
            views.retain(|v| F::keep(&filters, v));
            let risky = !filters.is_empty();
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&views)?),
                OutputFormat::Table => {
                    for v in &views {
                        print_model(v);
                        println!();
                    }
                    println!("{} models", views.len());
                }
            }
            if risky && !views.is_empty() {
                return Ok(ExitCode::from(exit::GATE));
            }
        }
        QueryCommand::Lineage {
            model,
            direction,
            depth,
            format,
        } => {
            let direction = match direction {
                LineageDirection::Up => aibomdb_query::Direction::Up,
                LineageDirection::Down => aibomdb_query::Direction::Down,
                LineageDirection::Both => aibomdb_query::Direction::Both,
            };
            let graph =
                aibomdb_query::lineage(store, &model, direction, depth).map_err(bad_input)?;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&graph)?),
                OutputFormat::Table => {
                    let mut t = Table::new(&["level", "node", "kind", "purl"]);
                    for n in &graph.nodes {
                        t.row(vec![
                            n.level.to_string(),
                            n.node.clone(),
                            n.kind.clone().unwrap_or_default(),
                            n.purl.clone(),
                        ]);
                    }
                    print!("{t}");
                    println!();
                    let mut t = Table::new(&["from", "relation", "to", "documents"]);
                    for l in &graph.links {
                        t.row(vec![
                            l.from.clone(),
                            l.relation.clone(),
                            l.to.clone(),
                            l.documents
                                .iter()
                                .map(|d| d.to_string())
                                .collect::<Vec<_>>()
                                .join(" "),
                        ]);
                    }
                    print!("{t}");
                }
            }
        }
        QueryCommand::Running {
            model,
            exact,
            format,
        } => {
            let hits =
                aibomdb_query::deployments_running(store, &model, !exact).map_err(bad_input)?;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&hits)?),
                OutputFormat::Table => {
                    let mut t = Table::new(&["deployment", "document", "runs", "lineage"]);
                    for h in &hits {
                        t.row(vec![
                            h.hit.deployment.clone(),
                            h.hit.document.to_string(),
                            h.model.clone(),
                            h.lineage.join(" → "),
                        ]);
                    }
                    print!("{t}");
                    println!("{} deployments", {
                        let mut d: Vec<_> = hits.iter().map(|h| &h.hit.deployment).collect();
                        d.dedup();
                        d.len()
                    });
                }
            }
        }
        QueryCommand::Affected { advisory, format } => {
            let Some((ids, rows)) = aibomdb_query::affected(store, &advisory).map_err(bad_input)?
            else {
                return Err(BadInput(format!(
                    "no advisory known as {advisory:?} (load advisories first)"
                ))
                .into());
            };
            matching::print_matches(&rows, format, Some(&ids))?;
        }
        QueryCommand::Deployment { name, format } => {
            let Some(report) = store.deployment_report(&name)? else {
                return Err(BadInput(format!("no deployment named {name:?}")).into());
            };
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
                OutputFormat::Table => print_deployment(&report),
            }
        }
        QueryCommand::Deployments {
            purl,
            name,
            ecosystem,
            version_range,
            history,
            in_deployment,
            format,
        } => {
            let target = match (purl, name) {
                (Some(purl), None) => aibomdb_query::Target::Purl(
                    aibomdb_query::parse_purl(&purl).map_err(bad_input)?,
                ),
                (None, Some(name)) => aibomdb_query::Target::Name {
                    ecosystem,
                    name,
                    range: version_range
                        .as_deref()
                        .map(aibomdb_query::parse_range)
                        .transpose()
                        .map_err(bad_input)?,
                },
                _ => return Err(BadInput("give either --purl or --name".into()).into()),
            };
            if let Some(d) = &in_deployment {
                known_deployment(store, d)?;
            }
            let answer = match in_deployment.as_deref() {
                Some(d) => aibomdb_query::paths_in_deployment(store, d, &target, history),
                None => aibomdb_query::deployments_using(store, &target, history),
            }
            .map_err(bad_input)?;
            for u in &answer.unordered {
                eprintln!("warning: cannot compare {u}");
            }
            let hits = answer.hits;
            match format {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "total": answer.total,
                        "hits": hits,
                        "notes": answer.notes,
                    }))?
                ),
                OutputFormat::Table => {
                    let mut t = Table::new(&["deployment", "doc", "current", "direct", "path"]);
                    for h in &hits {
                        t.row(vec![
                            h.deployment.clone(),
                            h.document.to_string(),
                            if h.current { "yes" } else { "no" }.into(),
                            match h.direct {
                                Some(true) => "direct",
                                Some(false) => "transitive",
                                None => "unknown",
                            }
                            .into(),
                            h.path
                                .iter()
                                .skip(2)
                                .map(|s| s.id.as_str())
                                .collect::<Vec<_>>()
                                .join(" → "),
                        ]);
                    }
                    print!("{t}");
                    print_notes(&answer.notes);
                }
            }
            if hits.is_empty() {
                eprintln!("no deployment contains it");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What a query answer left out or assumed, below the table (the JSON
/// output carries the same sentences in `notes`).
fn print_notes(notes: &[String]) {
    for n in notes {
        eprintln!("note: {n}");
    }
}

fn print_deployment(report: &aibomdb_store::DeploymentReport) {
    let mut t = Table::new(&[
        "doc", "format", "tool", "packages", "edges", "current", "path",
    ]);
    for d in &report.documents {
        t.row(vec![
            d.id.to_string(),
            d.format.clone(),
            d.tool.clone().unwrap_or_default(),
            d.packages.to_string(),
            d.edges.to_string(),
            match d.superseded_by {
                None => "yes".into(),
                Some(n) => format!("no (by {n})"),
            },
            d.path.clone(),
        ]);
    }
    print!("{t}");
    println!(
        "\n{} packages over the current documents",
        report.packages.len()
    );
    for gap in &report.gaps {
        println!(
            "\ndocument {} ({}{}) does not list {}:",
            gap.document,
            gap.format,
            gap.tool
                .as_deref()
                .map(|t| format!(", {t}"))
                .unwrap_or_default(),
            gap.missing.len()
        );
        for m in &gap.missing {
            println!("  {}  {}", m.purl, m.reason);
        }
    }
}
