//! Helpers for the GraphQL end-to-end suites (`tests/api*.rs`).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::graphql;

pub const TOKEN: &str = "test-write-token-0123456789";

pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn ingest(addr: &str, deployment: &str, path: &Path) -> Value {
    let (status, v) = graphql(
        addr,
        Some(TOKEN),
        "mutation($d:String!,$f:String!,$c:String!){ingestDocument(deployment:$d,fileName:$f,content:$c){status document packages format}}",
        json!({"d": deployment, "f": path.file_name().unwrap().to_str().unwrap(), "c": read(path)}),
    );
    assert_eq!(status, 200, "{v}");
    assert!(v.get("errors").is_none(), "{v}");
    v["data"]["ingestDocument"].clone()
}

pub fn ok(addr: &str, query: &str, variables: Value) -> Value {
    let (status, v) = graphql(addr, None, query, variables);
    assert_eq!(status, 200, "{v}");
    assert!(v.get("errors").is_none(), "{query}: {v}");
    v["data"].clone()
}
