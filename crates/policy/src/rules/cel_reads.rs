//! What a CEL expression reads of its variables: for each, either some
//! fields (`pkg.scope`, `has(document.subject)`) or the whole value. CEL
//! has no side effects and no clock, so an expression gives the same answer
//! for any two subjects that agree on what it reads: the gate evaluates it
//! once per distinct combination rather than once per subject.

use std::collections::{BTreeMap, BTreeSet};

use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use serde_json::Value;

/// How much of one variable an expression reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Access {
    /// Only these fields, each selected straight off the variable.
    Fields(BTreeSet<String>),
    /// The variable as a value (passed to a function, compared, iterated).
    Whole,
}

/// Variable name → what is read of it; a variable not named is not read.
pub(crate) type Reads = BTreeMap<String, Access>;

pub(crate) fn reads(program: &cel::Program) -> Reads {
    let mut out = Reads::new();
    walk(program.expression(), &mut out);
    out
}

fn walk(e: &IdedExpr, out: &mut Reads) {
    match &e.expr {
        Expr::Select(s) => {
            if let Expr::Ident(name) = &s.operand.expr {
                match out
                    .entry(name.clone())
                    .or_insert_with(|| Access::Fields(BTreeSet::new()))
                {
                    Access::Fields(fields) => {
                        fields.insert(s.field.clone());
                    }
                    Access::Whole => {}
                }
            } else {
                walk(&s.operand, out);
            }
        }
        // An identifier met anywhere else: the whole value (a comprehension's
        // own variable that shares a name only makes this coarser).
        Expr::Ident(name) => {
            out.insert(name.clone(), Access::Whole);
        }
        Expr::Call(c) => {
            if let Some(t) = &c.target {
                walk(t, out);
            }
            for a in &c.args {
                walk(a, out);
            }
        }
        Expr::Comprehension(c) => {
            for x in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                walk(x, out);
            }
        }
        Expr::List(l) => l.elements.iter().for_each(|x| walk(x, out)),
        Expr::Map(m) => m.entries.iter().for_each(|x| entry(&x.expr, out)),
        Expr::Struct(s) => s.entries.iter().for_each(|x| entry(&x.expr, out)),
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

fn entry(e: &EntryExpr, out: &mut Reads) {
    match e {
        EntryExpr::StructField(f) => walk(&f.value, out),
        EntryExpr::MapEntry(m) => {
            walk(&m.key, out);
            walk(&m.value, out);
        }
    }
}

/// What `reads` reads of the variable `name` holding `value`, as text: two
/// values with the same projection give the expression the same input.
pub(crate) fn projection(reads: &Reads, name: &str, value: &Value) -> String {
    match reads.get(name) {
        None => String::new(),
        Some(Access::Whole) => value.to_string(),
        Some(Access::Fields(fields)) => {
            let mut out = String::new();
            for f in fields {
                out.push_str(f);
                match value.get(f) {
                    // Absent and null differ: `has()` tells them apart.
                    None => out.push('\u{0}'),
                    Some(v) => {
                        out.push('=');
                        out.push_str(&v.to_string());
                    }
                }
                out.push('\u{1}');
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(source: &str) -> Reads {
        reads(&cel::Program::compile(source).expect("compiles"))
    }

    #[test]
    fn fields_selected_off_a_variable_are_all_that_is_read() {
        let r = of(r#"pkg.scope == "dev" && document.subject_kind == "container""#);
        assert_eq!(
            r.get("pkg"),
            Some(&Access::Fields(["scope".to_string()].into()))
        );
        assert_eq!(
            r.get("document"),
            Some(&Access::Fields(["subject_kind".to_string()].into()))
        );
        assert_eq!(r.get("deployment"), None);
        let r = of("has(pkg.supplier) && pkg.hashes.exists(h, h.startsWith('sha256:'))");
        assert_eq!(
            r.get("pkg"),
            Some(&Access::Fields(
                ["hashes".to_string(), "supplier".to_string()].into()
            ))
        );
    }

    #[test]
    fn a_variable_used_as_a_value_is_read_whole() {
        assert_eq!(of("size(pkg) > 3").get("pkg"), Some(&Access::Whole));
        assert_eq!(
            of(r#"pkg.name == "x" || "name" in pkg"#).get("pkg"),
            Some(&Access::Whole)
        );
        assert_eq!(
            of("document.packages > deployment.packages").get("deployment"),
            Some(&Access::Fields(["packages".to_string()].into()))
        );
    }

    #[test]
    fn projections_tell_absent_from_null_and_ignore_unread_fields() {
        let r = of("has(pkg.supplier)");
        let a = serde_json::json!({"supplier": null, "name": "a"});
        let b = serde_json::json!({"name": "b"});
        let c = serde_json::json!({"supplier": null, "name": "c"});
        assert_ne!(projection(&r, "pkg", &a), projection(&r, "pkg", &b));
        assert_eq!(projection(&r, "pkg", &a), projection(&r, "pkg", &c));
        assert_eq!(projection(&r, "document", &a), "");
    }
}
