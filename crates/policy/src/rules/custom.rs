//! `[[custom]]` rules: a CEL expression over the fact model, evaluated once
//! per subject (deployment, document, package occurrence, advisory match,
//! model, model file); true marks the subject as offending. An expression
//! that cannot be evaluated for a subject is reported as a violation, never
//! taken as a pass.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::rc::Rc;

use aibomdb_graph::Scope;
use aibomdb_store::{FactId, PackageId};
use cel::Context as Cel;
use serde_json::{Value, json};

use super::cel_reads::{Reads, projection, reads};
use super::{Context, count, verdict, violation};
use crate::catalog::{BySlot, Listed};
use crate::estate::Tally;
use crate::{Custom, PolicyError, RuleVerdict, Subject, Violation};

/// What a subject is called in reports, the package its path leads to, the
/// document it came from, and its variables.
struct Item {
    subject: String,
    package: Option<String>,
    document: Option<String>,
    /// Variables shared with neighbouring items (the deployment, a
    /// document, a model): bound once in a scope the items' scopes share,
    /// since binding a CEL map copies it.
    shared: Rc<Vars>,
    vars: Vars,
}

type Vars = Vec<(&'static str, Var)>;

/// A variable converted to CEL once: the deployment's and a document's are
/// shared by every item under them (a CEL map clones by reference).
type Var = Result<cel::Value, String>;

fn var(value: Value) -> Var {
    cel::to_value(value).map_err(|e| e.to_string())
}

fn document_value(d: &aibomdb_store::DocumentRecord) -> Value {
    json!({
        "id": d.id,
        "path": d.source_path,
        "format": d.format.as_str(),
        "spec_version": d.spec_version,
        "tools": d.tools.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        "serial": d.serial,
        "created": d.created,
        "subject": d.subject.as_ref().map(|s| s.name.clone()),
        "subject_version": d.subject.as_ref().and_then(|s| s.version.clone()),
        "subject_kind": d.subject.as_ref().and_then(|s| s.kind.clone()),
        "packages": d.package_count,
    })
}

/// A package occurrence's variable; with `only`, just those of its fields
/// (an expression that selects only them answers the same on it, and an
/// estate has millions of occurrences).
fn package_value(l: &Listed, only: Option<&std::collections::BTreeSet<String>>) -> Value {
    let (p, f) = (l.package, l.fact);
    let mut m = serde_json::Map::new();
    let mut put = |name: &str, value: &dyn Fn() -> Value| {
        if only.is_none_or(|o| o.contains(name)) {
            m.insert(name.to_string(), value());
        }
    };
    put("purl", &|| json!(p.key));
    put("ecosystem", &|| json!(p.ecosystem));
    put("namespace", &|| json!(p.namespace));
    put("name", &|| json!(p.name));
    put("version", &|| json!(p.version));
    put("kind", &|| json!(f.kind));
    put("direct", &|| json!(l.direct));
    put("scope", &|| {
        json!(l.scope.map(|s| format!("{s:?}").to_lowercase()))
    });
    put("requested", &|| json!(f.requested));
    put("source", &|| json!(f.source));
    put("groups", &|| json!(f.groups));
    put("licenses", &|| json!(f.licenses));
    put("hashes", &|| {
        json!(
            f.hashes
                .iter()
                .map(|h| format!("{}:{}", h.alg, h.value))
                .collect::<Vec<_>>()
        )
    });
    put("supplier", &|| json!(f.supplier));
    put("flags", &|| json!(f.flags));
    put("is_model", &|| {
        json!(f.model.as_ref().is_some_and(|m| m.node == "model"))
    });
    put("is_dataset", &|| {
        json!(f.model.as_ref().is_some_and(|m| m.node == "dataset"))
    });
    Value::Object(m)
}

fn items(ctx: &Context, subject: Subject) -> Result<Vec<Item>, PolicyError> {
    let deployment = var(deployment_value(ctx));
    let only_deployment = Rc::new(vec![("deployment", deployment.clone())]);
    let mut out = Vec::new();
    match subject {
        Subject::Deployment => out.push(Item {
            subject: ctx.deployment.to_string(),
            package: None,
            document: None,
            shared: Rc::new(vec![("deployment", deployment)]),
            vars: Vec::new(),
        }),
        Subject::Document => {
            for (d, _) in &ctx.documents {
                out.push(Item {
                    subject: d.source_path.clone(),
                    package: None,
                    document: Some(d.source_path.clone()),
                    shared: only_deployment.clone(),
                    vars: vec![("document", var(document_value(d)))],
                });
            }
        }
        // Evaluated by `package_verdicts`, without an item per occurrence.
        Subject::Package => {}
        Subject::Advisory => {
            for row in ctx.matches()? {
                out.push(Item {
                    subject: format!("{} in {}", row.advisory, row.package),
                    package: Some(row.package.clone()),
                    document: row.document_paths.first().cloned(),
                    shared: only_deployment.clone(),
                    vars: vec![
                        ("pkg", var(json!({"purl": row.package, "version": row.version}))),
                        (
                            "advisory",
                            var(json!({
                                "id": row.advisory,
                                "aliases": row.aliases,
                                "summary": row.summary,
                                "severity": format!("{:?}", row.severity).to_lowercase(),
                                "score": row.score,
                                "fixed": row.fixed,
                                "status": row.status,
                                "open": row.is_open(),
                                "vex": row.vex.as_ref().map(|v| format!("{:?}", v.status).to_lowercase()),
                            })),
                        ),
                    ],
                });
            }
        }
        Subject::Model | Subject::Artifact => {
            for view in ctx.models()? {
                let doc = ctx
                    .documents
                    .iter()
                    .find(|(d, _)| d.id == view.document)
                    .map(|(d, _)| d.source_path.clone());
                let model = var(json!({
                    "purl": view.purl,
                    "name": view.name,
                    "license": view.info.license,
                    "library": view.info.library_name,
                    "pipeline_tag": view.info.pipeline_tag,
                    "findings": view.findings.iter().map(|f| f.kind).collect::<Vec<_>>(),
                    "approval": view.approval.state,
                    "derived_from": view.derived_from.iter().map(|l| l.purl.clone()).collect::<Vec<_>>(),
                    "relations": view.derived_from.iter().map(|l| l.relation.clone()).collect::<Vec<_>>(),
                    "trained_on": view.trained_on,
                    "evaluated_on": view.evaluated_on,
                    "signed": view.info.signing.as_ref().map(|s| s.status.clone()),
                }));
                if subject == Subject::Model {
                    out.push(Item {
                        subject: view.purl.clone(),
                        package: Some(view.purl.clone()),
                        document: doc,
                        shared: only_deployment.clone(),
                        vars: vec![("model", model)],
                    });
                    continue;
                }
                let shared = Rc::new(vec![("deployment", deployment.clone()), ("model", model)]);
                for a in &view.info.artifacts {
                    out.push(Item {
                        subject: format!("{} {}", view.purl, a.path),
                        package: Some(view.purl.clone()),
                        document: doc.clone(),
                        shared: shared.clone(),
                        vars: vec![(
                                "artifact",
                                var(json!({
                                    "path": a.path,
                                    "format": a.format,
                                    "size": a.size,
                                    "sha256": a.sha256,
                                    "integrity": a.integrity,
                                    "dangerous_imports": a.pickle.as_ref().map(|p| p.dangerous_imports.clone()).unwrap_or_default(),
                                    "imports": a.pickle.as_ref().map(|p| p.imports.clone()).unwrap_or_default(),
                                    "problems": a.problems,
                                })),
                            ),
                        ],
                    });
                }
            }
        }
    }
    Ok(out)
}

/// A package occurrence's variable, made once per distinct (package, fact,
/// direct, scope) a worker meets.
struct PackageVar {
    json: Value,
    cel: Var,
}

type OccurrenceKey = (PackageId, FactId, Option<bool>, Option<Scope>);

/// What a worker keeps between deployments for `for = "package"` rules: the
/// package variables it made, and the answers, which outlive it.
#[derive(Default)]
pub(crate) struct Memo {
    /// By the fields the variable holds (an index into `fields`) and the
    /// occurrence: a variable made for a rule that reads some fields holds
    /// only those, so it answers no rule that reads others.
    packages: FxHashMap<(usize, OccurrenceKey), Rc<PackageVar>>,
    /// The field sets variables were made with; `None`: every field.
    fields: Vec<Option<std::collections::BTreeSet<String>>>,
    pub(crate) answers: Answers,
    /// What each rule (by expression) found of occurrence slots in this
    /// evaluation: `answers` without a hash probe per row.
    fronts: HashMap<String, Front>,
}

/// A rule's memo by occurrence slot, in front of its [`RuleMemo`] (whose
/// numbering it holds: cleared when that memo is begun again).
#[derive(Default)]
struct Front {
    /// The package projection's number.
    package: BySlot<u32>,
    /// The deployment and document projections an answer was given for,
    /// and the answer (errors are not kept here).
    answer: BySlot<(u32, u32, bool)>,
}

impl Memo {
    pub(crate) fn with(answers: Answers) -> Self {
        Memo {
            packages: FxHashMap::default(),
            fields: Vec::new(),
            answers,
            fronts: HashMap::new(),
        }
    }
}

/// `for = "package"` answers, kept in the `GateCache` between evaluations
/// (and so between HTTP requests). They are keyed by the expression's text:
/// CEL has no side effects and no clock, so an answer depends on nothing
/// but the expression and what it reads; and a package id or fact id is
/// never reused for other content, so nothing here goes stale. Only the
/// policy's rule *name* and message are left out, and they are not answers.
#[derive(Default)]
pub(crate) struct Answers {
    rules: HashMap<String, RuleMemo>,
}

impl Answers {
    /// Entries held, to keep the larger of two workers' memos.
    pub(crate) fn len(&self) -> usize {
        self.rules
            .values()
            .map(|r| r.answers.len() + r.package.len())
            .sum()
    }
}

/// A rule's memo is dropped and begun again past this many entries, so that
/// an estate of distinct occurrences cannot grow the cache without bound.
const RULE_MEMO_ENTRIES: usize = 1 << 21;

struct RuleMemo {
    reads: Reads,
    /// Projections (see [`projection`]) by text, numbered.
    interned: FxHashMap<String, u32>,
    /// A package occurrence's projection.
    package: FxHashMap<OccurrenceKey, u32>,
    /// (deployment, document, package) projections → the answer.
    answers: FxHashMap<(u32, u32, u32), Result<bool, String>>,
}

impl RuleMemo {
    fn new(rule: &Custom) -> Self {
        RuleMemo {
            reads: reads(&rule.program),
            interned: FxHashMap::default(),
            package: FxHashMap::default(),
            answers: FxHashMap::default(),
        }
    }

    fn intern(&mut self, text: String) -> u32 {
        let next = self.interned.len() as u32;
        *self.interned.entry(text).or_insert(next)
    }
}

/// What [`package_verdicts`] found: the offending occurrences (listed
/// only when asked), how many there are, how many were evaluated, how many
/// could not be.
struct Found {
    violations: Vec<Violation>,
    offending: usize,
    evaluated: usize,
    failed: usize,
}

/// The verdicts of a `for = "package"` rule over every package occurrence of
/// the deployment; with `list`, each offending occurrence with its message.
fn package_verdicts(ctx: &Context, rule: &Custom, root: &Cel, list: bool) -> Found {
    let mut memo = ctx.shared.custom.borrow_mut();
    let Memo {
        packages,
        fields,
        answers,
        fronts,
    } = &mut *memo;
    let r = answers
        .rules
        .entry(rule.expression.clone())
        .or_insert_with(|| RuleMemo::new(rule));
    let front = match fronts.get_mut(&rule.expression) {
        Some(f) => f,
        None => fronts.entry(rule.expression.clone()).or_default(),
    };
    if r.answers.len() + r.package.len() + r.interned.len() > RULE_MEMO_ENTRIES {
        *r = RuleMemo::new(rule);
        *front = Front::default();
    }
    // What the expression reads of a package, when it selects fields.
    let only = match r.reads.get("pkg") {
        Some(super::cel_reads::Access::Fields(fields)) => Some(fields.clone()),
        _ => None,
    };
    let field_set = match fields.iter().position(|f| *f == only) {
        Some(i) => i,
        None => {
            fields.push(only.clone());
            fields.len() - 1
        }
    };
    let deployment_json = deployment_value(ctx);
    let deployment_key = r.intern(projection(&r.reads, "deployment", &deployment_json));
    let deployment_cel = std::cell::OnceCell::new();
    let (mut violations, mut offending, mut evaluated, mut failed) = (Vec::new(), 0, 0, 0);
    for (d, listed) in &ctx.documents {
        let document_json = document_value(d);
        let document_key = r.intern(projection(&r.reads, "document", &document_json));
        // The document's scope, bound at the first answer not yet known.
        let mut scope: Option<Result<Cel, String>> = None;
        for l in listed {
            evaluated += 1;
            let occurrence = (l.package.id, l.fact_id, l.direct, l.scope);
            // The variable is made only when this worker first needs it: for
            // a projection or an answer not yet known.
            let mut package_var = || {
                packages
                    .entry((field_set, occurrence))
                    .or_insert_with(|| {
                        let json = package_value(l, only.as_ref());
                        Rc::new(PackageVar {
                            cel: var(json.clone()),
                            json,
                        })
                    })
                    .clone()
            };
            // An answer this evaluation already gave for the slot, with the
            // same deployment and document projections.
            let fronted = front
                .answer
                .get(l.slot)
                .filter(|(dk, ok, _)| (*dk, *ok) == (deployment_key, document_key))
                .map(|&(_, _, a)| a);
            let answer = match fronted {
                Some(a) => Ok(a),
                None => {
                    let package_key = match front.package.get(l.slot) {
                        Some(k) => *k,
                        None => {
                            let k = match r.package.get(&occurrence) {
                                Some(k) => *k,
                                None => {
                                    let k =
                                        r.intern(projection(&r.reads, "pkg", &package_var().json));
                                    r.package.insert(occurrence, k);
                                    k
                                }
                            };
                            front.package.insert(l.slot, k);
                            k
                        }
                    };
                    let key = (deployment_key, document_key, package_key);
                    let answer = match r.answers.get(&key) {
                        Some(a) => a.clone(),
                        None => {
                            let package = package_var();
                            let shared = scope.get_or_insert_with(|| {
                                let mut s = root.new_inner_scope();
                                let vars = vec![
                                    (
                                        "deployment",
                                        deployment_cel
                                            .get_or_init(|| var(deployment_json.clone()))
                                            .clone(),
                                    ),
                                    ("document", var(document_json.clone())),
                                ];
                                bind(&mut s, &vars).map(|()| s)
                            });
                            let a = execute(shared, rule, &[("pkg", package.cel.clone())]);
                            r.answers.insert(key, a.clone());
                            a
                        }
                    };
                    if let Ok(a) = answer {
                        front
                            .answer
                            .insert(l.slot, (deployment_key, document_key, a));
                    }
                    answer
                }
            };
            match &answer {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => failed += 1,
            }
            offending += 1;
            if !list {
                continue;
            }
            let message = match answer {
                Err(e) => format!("could not be evaluated ({e}), so it is not taken as a pass"),
                Ok(_) => rule.message.clone(),
            };
            violations.push(violation(
                crate::Enforcement::Deny,
                &l.package.key,
                message,
                Some(&d.source_path),
                Some(&l.package.key),
            ));
        }
    }
    Found {
        violations,
        offending,
        evaluated,
        failed,
    }
}

fn deployment_value(ctx: &Context) -> Value {
    json!({
        "name": ctx.deployment,
        "documents": ctx.documents.len(),
        "packages": ctx.documents.iter().map(|(_, p)| p.len()).sum::<usize>(),
    })
}

/// Binds `vars` in `scope`; the first that could not be converted is the error.
fn bind(scope: &mut Cel, vars: &[(&'static str, Var)]) -> Result<(), String> {
    for (name, value) in vars {
        scope.add_variable_from_value(*name, value.clone()?);
    }
    Ok(())
}

fn execute(
    shared: &Result<Cel, String>,
    rule: &Custom,
    vars: &[(&'static str, Var)],
) -> Result<bool, String> {
    let mut cel = shared.as_ref().map_err(Clone::clone)?.new_inner_scope();
    bind(&mut cel, vars)?;
    match rule.program.execute(&cel) {
        Ok(cel::Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("the expression gave {other:?}, not true or false")),
        Err(e) => Err(e.to_string()),
    }
}

pub(super) fn check(ctx: &Context, rules: &[Custom]) -> Result<Vec<RuleVerdict>, PolicyError> {
    let mut out = Vec::new();
    // The standard library is set up once; each item gets a scope of its own.
    let root = Cel::default();
    let mut cache: Vec<(Subject, Vec<Item>)> = Vec::new();
    for rule in rules {
        if rule.subject == Subject::Package {
            let found = package_verdicts(ctx, rule, &root, true);
            out.push(finish(
                rule,
                count(found.evaluated, "package"),
                found.violations,
                found.failed,
            ));
            continue;
        }
        if !cache.iter().any(|(s, _)| *s == rule.subject) {
            cache.push((rule.subject, items(ctx, rule.subject)?));
        }
        let list = &cache
            .iter()
            .find(|(s, _)| *s == rule.subject)
            .expect("just added")
            .1;
        let mut violations: Vec<Violation> = Vec::new();
        let mut failed = 0;
        let mut bound: Option<(&Rc<Vars>, Result<Cel, String>)> = None;
        for item in list {
            if !bound
                .as_ref()
                .is_some_and(|(b, _)| Rc::ptr_eq(b, &item.shared))
            {
                let mut scope = root.new_inner_scope();
                let done = bind(&mut scope, &item.shared).map(|()| scope);
                bound = Some((&item.shared, done));
            }
            let shared = &bound.as_ref().expect("bound above").1;
            let (hit, message) = match execute(shared, rule, &item.vars) {
                Ok(true) => (true, rule.message.clone()),
                Ok(false) => (false, String::new()),
                Err(e) => {
                    failed += 1;
                    (
                        true,
                        format!("could not be evaluated ({e}), so it is not taken as a pass"),
                    )
                }
            };
            if hit {
                violations.push(violation(
                    crate::Enforcement::Deny,
                    &item.subject,
                    message,
                    item.document.as_deref(),
                    item.package.as_deref(),
                ));
            }
        }
        let evaluated = match (rule.subject, list.len()) {
            (Subject::Advisory, 1) => "1 advisory match".to_string(),
            (Subject::Advisory, n) => format!("{n} advisory matches"),
            (Subject::Artifact, n) => count(n, "model file"),
            (s, n) => count(n, &format!("{s:?}").to_lowercase()),
        };
        out.push(finish(rule, evaluated, violations, failed));
    }
    Ok(out)
}

fn finish(
    rule: &Custom,
    evaluated: String,
    violations: Vec<Violation>,
    failed: usize,
) -> RuleVerdict {
    let summary = format!(
        "{} (policy line {}): {} evaluated, {} offending{}",
        rule.expression,
        rule.line,
        evaluated,
        violations.len() - failed,
        if failed > 0 {
            format!(", {failed} not evaluable")
        } else {
            String::new()
        }
    );
    verdict(
        format!("custom:{}", rule.name),
        rule.level,
        summary,
        violations,
    )
}

/// The verdicts of [`check`] as counts, rule by rule: a `for = "package"`
/// rule without a violation built, any other as [`check`] evaluates it.
pub(super) fn tally(
    ctx: &Context,
    rules: &[Custom],
    root: &Cel,
) -> Result<Vec<Tally>, PolicyError> {
    let mut out = Vec::with_capacity(rules.len());
    for rule in rules {
        if rule.subject == Subject::Package {
            let found = package_verdicts(ctx, rule, root, false);
            let mut t = Tally::default();
            for _ in 0..found.offending {
                t.add(crate::Enforcement::Deny, rule.level);
            }
            out.push(t);
        } else {
            let verdicts = check(ctx, std::slice::from_ref(rule))?;
            out.push(verdicts.first().map(Tally::of).unwrap_or_default());
        }
    }
    Ok(out)
}
