//! `vulnerabilities`: open advisory matches at or above a severity, VEX
//! `not_affected`/`fixed` honoured, waivers with a reason and an expiry.
//!
//! A package's matches are weighed once (advisory facts, subject and message
//! texts), kept in the `GateCache` for every worker and, in a server, every
//! request while the store is unchanged; only the VEX verdict and the waivers
//! are per deployment.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use aibomdb_osv::Level;
use aibomdb_store::{EpssScore, KevEntry, PackageId, PackageRecord};

use super::{Context, verdict};
use crate::catalog::BySlot;
use crate::estate::Tally;
use crate::{Enforcement, PolicyError, RuleVerdict, Violation, Vulnerabilities, Waived, Waiver};

/// One advisory match of a package, as every deployment sees it.
pub(crate) struct Weighed {
    advisory: String,
    /// The advisory's facts (severity, aliases, identifiers VEX statements
    /// may name, KEV, EPSS), shared with every match of it.
    facts: Option<Arc<aibomdb_osv::AdvisoryFacts>>,
    /// Whether any VEX statement names it: when none does, no deployment
    /// needs to ask.
    vex_named: bool,
    status: String,
    fixed: Vec<String>,
    /// The package's key, shared by its matches.
    package: Arc<str>,
    /// "<advisory> in <package>", the package's key (the path's end), and
    /// severity, summary, fix, exploitation: all but a waiver's note. Made
    /// when a violation first names it (a count names none).
    offence: OnceLock<Arc<crate::Offence>>,
}

impl Weighed {
    fn severity(&self) -> Level {
        self.facts.as_ref().map_or(Level::Unknown, |f| f.level)
    }

    fn aliases(&self) -> &[String] {
        self.facts.as_ref().map_or(&[], |f| &f.aliases)
    }

    /// The id, aliases and upstream ids: what VEX statements may name.
    fn identifiers(&self) -> &[String] {
        match &self.facts {
            Some(f) => &f.identifiers,
            None => std::slice::from_ref(&self.advisory),
        }
    }

    fn kev(&self) -> Option<&KevEntry> {
        self.facts.as_ref().and_then(|f| f.kev.as_ref())
    }

    fn epss(&self) -> Option<EpssScore> {
        self.facts.as_ref().and_then(|f| f.epss)
    }

    fn has_fix(&self) -> bool {
        !self.fixed.is_empty()
    }

    fn offence(&self) -> &Arc<crate::Offence> {
        self.offence.get_or_init(|| {
            let facts = self.facts.as_deref();
            let (severity, score, summary) = match facts {
                Some(f) => (f.level, f.score, f.summary.as_deref()),
                None => (Level::Unknown, None, None),
            };
            let described = match (self.status.as_str(), severity, score) {
                ("affected", Level::Unknown, _) => {
                    "severity unknown: the record carries no CVSS vector or severity label"
                        .to_string()
                }
                ("affected", l, Some(s)) => {
                    format!("{} (CVSS {s:.1})", format!("{l:?}").to_lowercase())
                }
                ("affected", l, None) => format!("{l:?}").to_lowercase(),
                (status, _, _) => {
                    format!("{status}: the version could not be evaluated against the record")
                }
            };
            let mut message = format!(
                "{}{}; {}",
                described,
                summary.map(|s| format!(": {s}")).unwrap_or_default(),
                if self.fixed.is_empty() {
                    "no fixed version".to_string()
                } else {
                    format!("fixed in {}", self.fixed.join(", "))
                }
            );
            if let Some(k) = self.kev() {
                message.push_str(&format!(
                    "; exploited in the wild: {} is in CISA KEV since {}",
                    k.cve, k.date_added
                ));
            }
            if let Some(e) = self.epss() {
                message.push_str(&format!("; EPSS {} (percentile {})", e.epss, e.percentile));
            }
            Arc::new(crate::Offence {
                subject: format!("{} in {}", self.advisory, self.package).into(),
                message: message.into(),
                package: Some(self.package.clone()),
            })
        })
    }
}

/// Weighed matches by package, with the store generation they were read
/// at: shared by the workers of an evaluation, and by a server between
/// requests while the store is unchanged.
pub(crate) type Memo = (u64, HashMap<PackageId, Arc<[Weighed]>>);

/// Whether any VEX statement names `advisory` (known by `identifiers`),
/// asked of the store once per generation.
fn vex_names(
    ctx: &Context,
    reader: &mut aibomdb_osv::MatchReader<'_>,
    advisory: &str,
    identifiers: &[String],
) -> Result<bool, PolicyError> {
    let generation = ctx.shared.generation;
    {
        let kept = super::lock(&ctx.shared.cache.vex_named);
        if kept.0 == generation
            && let Some(&named) = kept.1.get(advisory)
        {
            return Ok(named);
        }
    }
    let named = reader.vex_names(identifiers)?;
    let mut kept = super::lock(&ctx.shared.cache.vex_named);
    if kept.0 == generation {
        kept.1.insert(advisory.to_string(), named);
    }
    Ok(named)
}

/// Each package's weighed matches, ascending by advisory id; what is not
/// weighed yet is read in one batch. Weighed at a generation the cache is no
/// longer of (the store changed during this evaluation), they are kept for
/// the rest of this worker's share only.
fn weighed(ctx: &Context, packages: &[&PackageRecord]) -> Result<Vec<Arc<[Weighed]>>, PolicyError> {
    let generation = ctx.shared.generation;
    let mut out: Vec<Option<Arc<[Weighed]>>> = {
        let memo = super::lock(&ctx.shared.cache.weighed);
        let local = ctx.shared.stale_weighed.borrow();
        packages
            .iter()
            .map(|p| {
                (memo.0 == generation)
                    .then(|| memo.1.get(&p.id).cloned())
                    .flatten()
                    .or_else(|| local.get(&p.id).cloned())
            })
            .collect()
    };
    let unread: Vec<&PackageRecord> = packages
        .iter()
        .zip(&out)
        .filter(|(_, w)| w.is_none())
        .map(|(p, _)| *p)
        .collect();
    let mut fresh: HashMap<PackageId, Arc<[Weighed]>> = HashMap::new();
    if !unread.is_empty() {
        let mut reader = ctx.shared.matches.borrow_mut();
        let ids: Vec<PackageId> = unread.iter().map(|p| p.id).collect();
        let found: Vec<Vec<aibomdb_store::MatchRecord>> = reader
            .package_matches(&ids)?
            .into_iter()
            .map(<[_]>::to_vec)
            .collect();
        for (package, mut records) in unread.into_iter().zip(found) {
            records.sort_by(|a, b| a.advisory.cmp(&b.advisory));
            records.dedup_by(|a, b| a.advisory == b.advisory);
            let mut out = Vec::with_capacity(records.len());
            let key: Arc<str> = package.key.as_str().into();
            for m in records {
                let facts = reader.advisory_facts(&m.advisory)?;
                let mut w = Weighed {
                    advisory: m.advisory,
                    facts,
                    vex_named: false,
                    status: m.status,
                    fixed: m.fixed,
                    package: key.clone(),
                    offence: OnceLock::new(),
                };
                w.vex_named = vex_names(ctx, &mut reader, &w.advisory, w.identifiers())?;
                out.push(w);
            }
            fresh.insert(package.id, out.into());
        }
        // Kept only while the cache is of the generation they were read at.
        let mut memo = super::lock(&ctx.shared.cache.weighed);
        if memo.0 == generation {
            memo.1.extend(fresh.iter().map(|(id, w)| (*id, w.clone())));
        }
    }
    Ok(packages
        .iter()
        .zip(out.iter_mut())
        .map(|(p, w)| {
            w.take()
                .or_else(|| fresh.get(&p.id).cloned())
                .unwrap_or_default()
        })
        .collect())
}

/// Whether `w` names the advisory of `m` (by its id or an alias).
fn names_advisory(w: &Waiver, m: &Weighed) -> bool {
    let id = |s: &str| s.eq_ignore_ascii_case(&w.advisory);
    id(&m.advisory) || m.aliases().iter().any(|a| id(a))
}

fn waiver_covers(w: &Waiver, m: &Weighed, package: &str, deployment: &str) -> bool {
    names_advisory(w, m)
        && w.deployment.as_deref().is_none_or(|d| d == deployment)
        && w.package.as_deref().is_none_or(|p| {
            // Both in key form: a versionless waiver covers every version.
            package == p
                || aibomdb_graph::PackageKey::from_stored(package.to_string()).unversioned() == p
        })
}

/// Where one match lands before waivers are asked.
enum Weighing {
    /// VEX says `not_affected` or `fixed`.
    Suppressed,
    /// `only_with_fix`, and it has none (nor is it exploited).
    NoFix,
    /// Below the severity threshold.
    Below,
    /// A violation at this level (before the rule's own level caps it).
    At(Enforcement),
}

fn weighing(
    rule: &Vulnerabilities,
    m: &Weighed,
    vex: Option<&aibomdb_store::VexVerdict>,
) -> Weighing {
    if vex.is_some_and(aibomdb_store::VexVerdict::suppresses) {
        return Weighing::Suppressed;
    }
    // Exploited (KEV) or likely to be (EPSS at or over the threshold):
    // the policy's level for it, whatever the severity says.
    let likely = rule
        .epss_at_least
        .zip(m.epss())
        .filter(|(at_least, e)| e.epss >= *at_least)
        .map(|_| Enforcement::Deny);
    let exploited = match (m.kev().and(rule.kev), likely) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (Some(a), None) | (None, Some(a)) => Some(a),
        (None, None) => None,
    };
    if rule.only_with_fix && !m.has_fix() && exploited.is_none() {
        return Weighing::NoFix;
    }
    let unknown = m.severity() == Level::Unknown || m.status != "affected";
    Weighing::At(if let Some(level) = exploited {
        // Exploited in the wild: the policy's `kev` level, whatever the
        // severity says (a worse of the two when both apply).
        let by_severity = if unknown {
            rule.unknown
        } else if m.severity() >= rule.severity {
            Enforcement::Deny
        } else {
            Enforcement::Allow
        };
        level.max(by_severity)
    } else if unknown {
        rule.unknown
    } else if m.severity() >= rule.severity {
        Enforcement::Deny
    } else {
        return Weighing::Below;
    })
}

/// The waiver that decides a match of `package` in `deployment`, and
/// whether it still holds at `at`. A renewed waiver holds even when an older
/// one for the same advisory has expired; the expired one is named only
/// when none holds.
fn deciding_waiver<'r>(
    rule: &'r Vulnerabilities,
    m: &Weighed,
    package: &str,
    deployment: &str,
    at: i64,
) -> Option<(&'r Waiver, bool)> {
    let mut covering = rule
        .waivers
        .iter()
        .filter(|w| waiver_covers(w, m, package, deployment));
    let first = covering.next()?;
    let holding = std::iter::once(first)
        .chain(covering)
        .find(|w| at < w.expires_at);
    Some(match holding {
        Some(w) => (w, true),
        None => (first, false),
    })
}

pub(super) fn check(ctx: &Context, rule: &Vulnerabilities) -> Result<RuleVerdict, PolicyError> {
    // Each package once, with the first document (in the order the
    // deployment's documents are read) that lists it; by key, as match
    // reports order them.
    let mut seen: std::collections::HashSet<PackageId> = std::collections::HashSet::new();
    let mut packages: Vec<(&PackageRecord, &Arc<str>)> = Vec::new();
    for ((_, listed), path) in ctx.documents.iter().zip(&ctx.paths) {
        for l in listed {
            if seen.insert(l.package.id) {
                packages.push((l.package, path));
            }
        }
    }
    packages.sort_by(|a, b| a.0.key.cmp(&b.0.key));
    let records: Vec<&PackageRecord> = packages.iter().map(|(p, _)| *p).collect();
    let weighed = weighed(ctx, &records)?;
    let (mut total, mut suppressed, mut below, mut no_fix) = (0, 0, 0, 0);
    // At most one per match: sized once, not grown (an estate holds
    // millions of them).
    let mut violations = Vec::with_capacity(weighed.iter().map(|w| w.len()).sum());
    let mut waived = Vec::new();
    let mut reader = ctx.shared.matches.borrow_mut();
    for ((package, document), matches) in packages.iter().zip(&weighed) {
        for m in matches.iter() {
            total += 1;
            let vex = if m.vex_named {
                reader.vex_verdict(ctx.deployment, package, m.identifiers())?
            } else {
                None
            };
            let level = match weighing(rule, m, vex.as_ref()) {
                Weighing::Suppressed => {
                    suppressed += 1;
                    continue;
                }
                Weighing::NoFix => {
                    no_fix += 1;
                    continue;
                }
                Weighing::Below => {
                    below += 1;
                    continue;
                }
                Weighing::At(level) => level,
            };
            let mut expired = None;
            if let Some((w, holds)) = deciding_waiver(rule, m, &package.key, ctx.deployment, ctx.at)
            {
                if holds {
                    waived.push(Waived {
                        subject: m.offence().subject.to_string(),
                        advisory: m.advisory.clone(),
                        reason: w.reason.clone(),
                        expires: w.expires.clone(),
                        line: w.line,
                    });
                    continue;
                }
                expired = Some(w);
            }
            let offence = match expired {
                // The waiver's note is this violation's own.
                Some(w) => Arc::new(crate::Offence {
                    subject: m.offence().subject.clone(),
                    message: format!(
                        "{}; the waiver at line {} expired on {}",
                        m.offence().message,
                        w.line,
                        w.expires
                    )
                    .into(),
                    package: m.offence().package.clone(),
                }),
                None => m.offence().clone(),
            };
            violations.push(Violation {
                level,
                offence,
                document: Some((*document).clone()),
                path: None,
            });
        }
    }
    let threshold = format!("{:?}", rule.severity).to_lowercase();
    let plural = if total == 1 { "" } else { "es" };
    let fix_note = if rule.only_with_fix {
        format!(", {no_fix} without a fix not counted")
    } else {
        String::new()
    };
    let summary = format!(
        "{} advisory match{plural}; {suppressed} suppressed by VEX, {below} below {threshold}, {} waived{fix_note}",
        total,
        waived.len(),
    );
    let mut v = verdict("vulnerabilities", rule.level, summary, violations);
    v.waived = waived;
    Ok(v)
}

/// A package's matches as the estate's tally counts them.
pub(crate) enum Counted {
    /// Alike in every deployment: no VEX statement names any of them and
    /// no waiver names one, so they are counted once.
    Alike { deny: u32, warn: u32 },
    /// Weighed again for each deployment (its VEX statements, its waivers).
    PerDeployment(Arc<[Weighed]>),
}

/// Counted packages for one rule over one evaluation: each package
/// weighed once, found from a row by its slot without a hash probe.
#[derive(Default)]
pub(crate) struct Counts {
    counted: Vec<Counted>,
    /// An index into `counted`, by package.
    by_package: rustc_hash::FxHashMap<PackageId, u32>,
    /// An index into `counted`, by occurrence slot.
    by_slot: BySlot<u32>,
}

/// The verdict of [`check`] as counts: the same weighing, VEX and waivers,
/// without a violation built. Packages whose matches count alike in every
/// deployment are counted once (`counts`).
pub(crate) fn tally(
    ctx: &Context,
    rule: &Vulnerabilities,
    counts: &mut Counts,
) -> Result<Tally, PolicyError> {
    // Each package once per deployment, however many rows list it.
    let mut packages: Vec<(&PackageRecord, u32)> = Vec::new();
    let mut unknown: Vec<&PackageRecord> = Vec::new();
    for l in ctx.documents.iter().flat_map(|(_, listed)| listed) {
        let index = match counts.by_slot.get(l.slot) {
            Some(i) => *i,
            None => match counts.by_package.get(&l.package.id) {
                Some(i) => {
                    counts.by_slot.insert(l.slot, *i);
                    *i
                }
                None => {
                    unknown.push(l.package);
                    u32::MAX
                }
            },
        };
        packages.push((l.package, index));
    }
    if !unknown.is_empty() {
        unknown.sort_unstable_by_key(|p| p.id);
        unknown.dedup_by_key(|p| p.id);
        for (p, matches) in unknown.iter().zip(weighed(ctx, &unknown)?) {
            let alike = !matches
                .iter()
                .any(|m| m.vex_named || rule.waivers.iter().any(|w| names_advisory(w, m)));
            let counted = if alike {
                let mut t = Tally::default();
                for m in matches.iter() {
                    if let Weighing::At(level) = weighing(rule, m, None) {
                        t.add(level, rule.level);
                    }
                }
                Counted::Alike {
                    deny: t.deny as u32,
                    warn: t.warn as u32,
                }
            } else {
                Counted::PerDeployment(matches)
            };
            counts.by_package.insert(p.id, counts.counted.len() as u32);
            counts.counted.push(counted);
        }
        for (p, index) in &mut packages {
            if *index == u32::MAX {
                *index = counts.by_package[&p.id];
            }
        }
    }
    packages.sort_unstable_by_key(|(p, _)| p.id);
    packages.dedup_by_key(|(p, _)| p.id);
    let mut t = Tally::default();
    let mut reader = ctx.shared.matches.borrow_mut();
    for (p, index) in packages {
        match &counts.counted[index as usize] {
            Counted::Alike { deny, warn } => {
                t.deny += *deny as usize;
                t.warn += *warn as usize;
            }
            Counted::PerDeployment(matches) => {
                for m in matches.iter() {
                    let vex = if m.vex_named {
                        reader.vex_verdict(ctx.deployment, p, m.identifiers())?
                    } else {
                        None
                    };
                    let Weighing::At(level) = weighing(rule, m, vex.as_ref()) else {
                        continue;
                    };
                    match deciding_waiver(rule, m, &p.key, ctx.deployment, ctx.at) {
                        Some((_, true)) => t.waived += 1,
                        _ => t.add(level, rule.level),
                    }
                }
            }
        }
    }
    Ok(t)
}
