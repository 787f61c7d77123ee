//! Supersession slots: which current document a new one replaces.

use aibomdb_graph::DocumentFacts;

/// What a new document replaces: one of the same format, made by the same
/// tool, describing the same subject (container tags and versions stripped);
/// or the same file path when the document names no subject. Documents from
/// different tools for one deployment are parallel evidence, not successors.
pub(crate) fn slot_of(facts: &DocumentFacts, source_path: &str) -> String {
    let tool = facts
        .tools
        .first()
        .map_or_else(|| "-".to_string(), |t| t.name.to_lowercase());
    let subject = facts
        .subject
        .as_ref()
        .map(|s| s.name.trim())
        .filter(|s| !s.is_empty())
        .map(strip_tag);
    match subject {
        Some(s) => format!("{}/{tool}/{s}", facts.format.as_str()),
        None => format!("{}/{tool}/file:{source_path}", facts.format.as_str()),
    }
}

/// `alpine:3.16@sha256:…` → `alpine`; `registry:5000/app:1` → `registry:5000/app`.
/// syft 0.57 names SPDX documents `registry/repo-<tag>` (`k8s.gcr.io/kube-apiserver-v1.24.1`,
/// `…/alpine-latest`): for image references a version-like `-<tag>` suffix goes too.
fn strip_tag(name: &str) -> String {
    let name = name.split('@').next().unwrap_or(name);
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let name = match name[last_slash..].rfind(':') {
        Some(i) => &name[..last_slash + i],
        None => name,
    };
    if last_slash > 0
        && let Some(dash) = name[last_slash..].rfind('-')
    {
        let tag = &name[last_slash + dash + 1..];
        let digits = tag.strip_prefix('v').unwrap_or(tag);
        let version_like = digits.starts_with(|c: char| c.is_ascii_digit())
            && digits.chars().all(|c| c.is_ascii_digit() || c == '.');
        if tag == "latest" || version_like {
            return name[..last_slash + dash].to_string();
        }
    }
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_stripped_from_subjects() {
        assert_eq!(strip_tag("alpine:3.16"), "alpine");
        assert_eq!(
            strip_tag("registry:5000/app:1.2@sha256:ab"),
            "registry:5000/app"
        );
        assert_eq!(strip_tag("a-finetune"), "a-finetune");
        assert_eq!(
            strip_tag("k8s.gcr.io/kube-apiserver-v1.24.1"),
            "k8s.gcr.io/kube-apiserver"
        );
        assert_eq!(
            strip_tag("example.com/library/alpine-latest"),
            "example.com/library/alpine"
        );
        assert_eq!(
            strip_tag("example.com/team/my-app"),
            "example.com/team/my-app"
        );
        assert_eq!(strip_tag("python-3"), "python-3");
    }
}
