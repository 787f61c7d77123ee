//! SPDX 2 packages known only through lineage relationships (`ANCESTOR_OF`,
//! `DESCENDANT_OF`, `VARIANT_OF`) with no purl and no version — often only a
//! path fragment as a name — are not packages of their own: as
//! `pkg:generic/<name>` nodes they could never match an advisory. They are
//! folded into the package they relate to: an ancestor becomes one of its
//! `pedigree_ancestors` (as a CycloneDX `pedigree.ancestors` entry does); a
//! descendant is a copy of it (osv-scalibr's tests: a downstream copy named
//! `v1_2_15`, file `log4j/v1_2_15`, `DESCENDANT_OF` log4j 1.2.15), so its file
//! name (else its name) becomes one of the package's `locations`; a variant
//! is only noted. Every folded entry is listed among the document's skipped
//! entries with what it was folded into, so nothing is dropped silently.

use std::collections::{HashMap, HashSet};

use crate::v2::wire::Document;

/// How the folded entry relates to the package it is folded into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relation {
    Ancestor,
    Descendant,
    Variant,
}

impl Relation {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Relation::Ancestor => "an ancestor",
            Relation::Descendant => "a descendant",
            Relation::Variant => "a variant",
        }
    }
}

/// One folded entry: indexes into `doc.packages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fold {
    pub(crate) fragment: usize,
    pub(crate) into: usize,
    pub(crate) relation: Relation,
}

fn unversioned(v: Option<&str>) -> bool {
    v.is_none_or(|v| matches!(v.trim(), "" | "NOASSERTION" | "NONE"))
}

/// The entries to fold and where each goes (an entry related to several
/// packages is folded into each).
pub(crate) fn folds(doc: &Document) -> Vec<Fold> {
    let index: HashMap<&str, usize> = doc
        .packages
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((p.spdx_id.as_deref()?, i)))
        .collect();
    let mut kept: HashSet<usize> = doc
        .document_describes
        .iter()
        .filter_map(|id| index.get(id.as_str()).copied())
        .collect();
    let mut lineage: Vec<(usize, &str, usize)> = Vec::new();
    for r in &doc.relationships {
        let Some((a, ty, b)) = r.parts() else {
            continue;
        };
        let (ia, ib) = (index.get(a).copied(), index.get(b).copied());
        match (ty, ia, ib) {
            ("ANCESTOR_OF" | "DESCENDANT_OF" | "VARIANT_OF", Some(ia), Some(ib)) if ia != ib => {
                lineage.push((ia, ty, ib));
            }
            // Any other relationship (DESCRIBES included) makes an entry
            // more than a lineage note.
            _ => kept.extend(ia.into_iter().chain(ib)),
        }
    }
    let candidate = |i: usize| {
        let p = &doc.packages[i];
        !kept.contains(&i)
            && unversioned(p.version_info.as_deref())
            && !p
                .external_refs
                .iter()
                .any(|r| r.reference_type.as_deref() == Some("purl"))
    };
    let fragments: HashSet<usize> = lineage
        .iter()
        .flat_map(|&(a, _, b)| [a, b])
        .filter(|&i| candidate(i))
        .collect();
    let mut out = Vec::new();
    for &(a, ty, b) in &lineage {
        // (fragment, into, relation of the fragment to `into`)
        let fold = match (fragments.contains(&a), fragments.contains(&b)) {
            (true, false) => (a, b, ty, true),
            (false, true) => (b, a, ty, false),
            _ => continue,
        };
        let (fragment, into, ty, fragment_is_subject) = fold;
        let relation = match (ty, fragment_is_subject) {
            ("ANCESTOR_OF", true) | ("DESCENDANT_OF", false) => Relation::Ancestor,
            ("ANCESTOR_OF", false) | ("DESCENDANT_OF", true) => Relation::Descendant,
            _ => Relation::Variant,
        };
        let f = Fold {
            fragment,
            into,
            relation,
        };
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    /// The direction real documents do not show yet (osv-scalibr's have the
    /// fragment as the descendant): a fragment that is the ancestor becomes
    /// pedigree; one in any other relationship stays a package.
    #[test]
    fn an_ancestor_fragment_becomes_pedigree() {
        let doc = |extra: &str| {
            format!(
                r#"{{"spdxVersion":"SPDX-2.3","packages":[
                {{"SPDXID":"SPDXRef-a","name":"src/vendor/zlib"}},
                {{"SPDXID":"SPDXRef-b","name":"zlib","versionInfo":"1.3","externalRefs":[{{"referenceType":"purl","referenceLocator":"pkg:generic/zlib@1.3"}}]}}],
                "relationships":[{{"spdxElementId":"SPDXRef-a","relationshipType":"ANCESTOR_OF","relatedSpdxElement":"SPDXRef-b"}}{extra}]}}"#
            )
        };
        let f = crate::import_v2(doc("").as_bytes()).unwrap();
        assert_eq!(f.packages.len(), 1);
        assert_eq!(f.packages[0].pedigree_ancestors, vec!["src/vendor/zlib"]);
        assert!(f.skipped[0].reason.contains("an ancestor of SPDXRef-b"));
        let kept = doc(
            r#",{"spdxElementId":"SPDXRef-b","relationshipType":"DEPENDS_ON","relatedSpdxElement":"SPDXRef-a"}"#,
        );
        let f = crate::import_v2(kept.as_bytes()).unwrap();
        assert_eq!(f.packages.len(), 2);
        assert!(f.skipped.is_empty());
    }
}
