//! The GraphQL API end to end: the real `aibomdb serve` on a free loopback
//! port, real documents ingested over HTTP, answers checked over HTTP.

mod common;

use common::api::{TOKEN, examples, ingest, ok, read};
use common::{Server, corpus, fingerprint, graphql, http};
use serde_json::{Value, json};

#[test]
fn blast_radius_over_http_with_paths() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let server = Server::start(&db, &["--write-token", TOKEN]);
    let a = &server.addr;
    let r = ingest(
        a,
        "a-finetune",
        &examples().join("uv-export_a-finetune_cdx1.5.json"),
    );
    assert_eq!(r["status"], "ingested");
    assert_eq!(r["format"], "CycloneDX JSON");
    ingest(
        a,
        "a-finetune",
        &examples().join("cyclonedx-py_requirements_a-finetune_cdx1.6.json"),
    );
    ingest(a, "alpine", &examples().join("alpine-spdx-syft0.57.json"));
    // The same bytes again: nothing written.
    let again = ingest(a, "alpine", &examples().join("alpine-spdx-syft0.57.json"));
    assert_eq!(again["status"], "unchanged");

    let q = r#"query($n:String!,$r:String){deploymentsUsing(name:$n,versionRange:$r){totalCount
        edges{node{deployment package direct path{kind id via}}}}}"#;
    let d = ok(a, q, json!({"n": "transformers", "r": "<6"}));
    let conn = &d["deploymentsUsing"];
    // Both SBOMs of a-finetune list transformers 5.23.0.
    assert_eq!(conn["totalCount"], 2, "{conn}");
    for e in conn["edges"].as_array().unwrap() {
        let node = &e["node"];
        assert_eq!(node["deployment"], "a-finetune");
        assert_eq!(node["package"], "pkg:pypi/transformers@5.23.0");
        let path = node["path"].as_array().unwrap();
        assert_eq!(path[0]["kind"], "deployment");
        assert_eq!(path[1]["kind"], "document");
        assert_eq!(path.last().unwrap()["id"], "pkg:pypi/transformers@5.23.0");
    }
    // uv's graph gives the path through the project: subject → transformers.
    let uv_path: Vec<String> = conn["edges"][0]["node"]["path"]
        .as_array()
        .unwrap()
        .iter()
        .skip(2)
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        uv_path,
        [
            "pkg:generic/a-finetune@0.1.0",
            "pkg:pypi/transformers@5.23.0"
        ]
    );
    // Out of range: no hit.
    let none = ok(a, q, json!({"n": "transformers", "r": "<4.38"}));
    assert_eq!(none["deploymentsUsing"]["totalCount"], 0);
    // By purl; an apk-ordered package of the Alpine image by name and range.
    let by_purl = ok(
        a,
        r#"{deploymentsUsing(purl:"pkg:pypi/transformers@5.23.0"){totalCount}}"#,
        json!({}),
    );
    assert_eq!(by_purl["deploymentsUsing"]["totalCount"], 2);
    // One deployment's path: only that deployment's hit.
    let one = ok(
        a,
        r#"{deploymentsUsing(purl:"pkg:pypi/transformers@5.23.0",deployment:"a-finetune"){totalCount edges{node{deployment path{id}}}}}"#,
        json!({}),
    );
    // a-finetune lists it in two documents (uv export, cyclonedx-py): both
    // hits, each with its own path, and nothing from another deployment.
    assert_eq!(one["deploymentsUsing"]["totalCount"], 2, "{one}");
    for edge in one["deploymentsUsing"]["edges"].as_array().unwrap() {
        assert_eq!(edge["node"]["deployment"], "a-finetune", "{one}");
        assert_eq!(edge["node"]["path"][0]["id"], "a-finetune", "{one}");
    }
    let elsewhere = ok(
        a,
        r#"{deploymentsUsing(purl:"pkg:pypi/transformers@5.23.0",deployment:"alpine"){totalCount}}"#,
        json!({}),
    );
    assert_eq!(
        elsewhere["deploymentsUsing"]["totalCount"], 0,
        "{elsewhere}"
    );
    let musl = ok(
        a,
        r#"{packages(name:"musl",ecosystem:"apk",versionRange:">=1.2.3-r0"){totalCount edges{node{purl version deployments}}}}"#,
        json!({}),
    );
    assert_eq!(musl["packages"]["totalCount"], 1, "{musl}");
    assert_eq!(
        musl["packages"]["edges"][0]["node"]["deployments"],
        json!(["alpine"])
    );

    // Pagination: one page at a time, cursors continue.
    let page = ok(
        a,
        r#"{deployment(name:"a-finetune"){packages(first:10){totalCount pageInfo{hasNextPage endCursor} edges{node{purl}}}}}"#,
        json!({}),
    );
    let p = &page["deployment"]["packages"];
    assert_eq!(p["edges"].as_array().unwrap().len(), 10);
    assert_eq!(p["pageInfo"]["hasNextPage"], true);
    let total = p["totalCount"].as_u64().unwrap();
    assert!(total > 60, "{total}");
    let next = ok(
        a,
        r#"query($c:String){deployment(name:"a-finetune"){packages(first:1000,after:$c){edges{node{purl}}}}}"#,
        json!({"c": p["pageInfo"]["endCursor"]}),
    );
    assert_eq!(
        next["deployment"]["packages"]["edges"]
            .as_array()
            .unwrap()
            .len() as u64,
        total - 10
    );

    // Search finds the package name and the deployment.
    let s = ok(
        a,
        r#"{search(text:"transf"){packages{purl versions} deployments}}"#,
        json!({}),
    );
    assert_eq!(s["search"]["packages"][0]["purl"], "pkg:pypi/transformers");
    let s = ok(a, r#"{search(text:"finetune"){deployments}}"#, json!({}));
    assert_eq!(s["search"]["deployments"], json!(["a-finetune"]));

    // Diff: the Alpine image and the Python project share nothing.
    let d = ok(
        a,
        r#"{diff(deploymentA:"alpine",deploymentB:"a-finetune"){added{package} removed{package} changed{package}}}"#,
        json!({}),
    );
    assert!(d["diff"]["added"].as_array().unwrap().len() > 60);
    assert!(!d["diff"]["removed"].as_array().unwrap().is_empty());
    assert!(d["diff"]["changed"].as_array().unwrap().is_empty());

    // The download: one CycloneDX 1.6 BOM of the deployment, which ingests
    // back as the same packages.
    let (status, bom) = http(a, "GET", "/deployments/a-finetune/sbom.cdx.json", &[], b"");
    assert_eq!(status, 200);
    let bom: Value = serde_json::from_slice(&bom).unwrap();
    assert_eq!(bom["specVersion"], "1.6");
    let purls: std::collections::BTreeSet<String> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["purl"].as_str().unwrap().to_string())
        .collect();
    let all = ok(
        a,
        r#"{deployment(name:"a-finetune"){packages(first:1000){edges{node{purl}}}}}"#,
        json!({}),
    );
    let listed: std::collections::BTreeSet<String> = all["deployment"]["packages"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["purl"].as_str().unwrap().to_string())
        .collect();
    assert!(listed.is_subset(&purls), "{:?}", listed.difference(&purls));
    let (status, v) = graphql(
        a,
        Some(TOKEN),
        "mutation($c:String!){ingestDocument(deployment:\"copy\",fileName:\"copy.cdx.json\",content:$c){status packages}}",
        json!({"c": bom.to_string()}),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["data"]["ingestDocument"]["packages"].as_u64().unwrap() as usize,
        purls.len()
    );
    let both = ok(a, q, json!({"n": "transformers", "r": "<6"}));
    let copy_hit = both["deploymentsUsing"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["deployment"] == "copy")
        .expect("the re-ingested export contains transformers");
    // The exported dependency graph keeps the path through the project.
    let ids: Vec<&str> = copy_hit["node"]["path"]
        .as_array()
        .unwrap()
        .iter()
        .skip(2)
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"pkg:generic/a-finetune@0.1.0"), "{ids:?}");
    assert_eq!(
        http(a, "GET", "/deployments/nope/sbom.cdx.json", &[], b"").0,
        404
    );
    // Every export format over HTTP and GraphQL; the completeness report.
    for (format, marker) in [
        ("cyclonedx-1.5", "specVersion"),
        ("spdx-2.3", "spdxVersion"),
        ("openvex", "@context"),
        ("cyclonedx-vex", "vulnerabilities"),
    ] {
        let (status, body) = http(
            a,
            "GET",
            &format!("/deployments/a-finetune/export/{format}"),
            &[],
            b"",
        );
        assert_eq!(status, 200, "{format}");
        let doc: Value = serde_json::from_slice(&body).unwrap();
        assert!(doc.get(marker).is_some(), "{format}: {doc}");
        let via = ok(
            a,
            "query($f:String!){export(deployment:\"a-finetune\", format:$f, creatorEmail:\"psirt@example.org\")}",
            json!({"f": format}),
        );
        let text: Value = serde_json::from_str(via["export"].as_str().unwrap()).unwrap();
        assert!(text.get(marker).is_some(), "{format}");
    }
    assert_eq!(
        http(a, "GET", "/deployments/a-finetune/export/spdx-9", &[], b"").0,
        400
    );
    let report = ok(
        a,
        r#"{craReport(deployment:"a-finetune", creatorEmail:"psirt@example.org"){requiredMissing components fields{number present total}}}"#,
        json!({}),
    );
    let report = &report["craReport"];
    assert_eq!(report["requiredMissing"], true);
    assert_eq!(report["fields"][0]["present"], 1);
    let (status, page) = http(
        a,
        "GET",
        "/deployments/a-finetune/cra-report.html",
        &[],
        b"",
    );
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("BSI TR-03183-2 v2.1.0"));

    // Health and the page.
    assert_eq!(http(a, "GET", "/healthz", &[], b"").0, 200);
    let (status, page) = http(a, "GET", "/", &[], b"");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("app.js"));
}

#[test]
fn writes_without_the_token_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let server = Server::start(&db, &["--write-token", TOKEN]);
    let a = server.addr.clone();
    ingest(&a, "alpine", &examples().join("alpine-spdx-syft0.57.json"));
    server.stop();
    let before = fingerprint(&db);

    let server = Server::start(&db, &["--write-token", TOKEN]);
    let a = &server.addr;
    let doc = read(&examples().join("uv-export_a-finetune_cdx1.5.json"));
    let mutation = "mutation($c:String!){ingestDocument(deployment:\"x\",fileName:\"x.json\",content:$c){status}}";
    for token in [None, Some("wrong-token-wrong-token-00")] {
        let (status, v) = graphql(a, token, mutation, json!({"c": doc}));
        assert_eq!(status, 401, "{v}");
        assert_eq!(v["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }
    let (status, _) = graphql(
        a,
        None,
        r#"mutation{deleteDeployment(name:"alpine")}"#,
        json!({}),
    );
    assert_eq!(status, 401);
    // Reads stay open on this server.
    assert_eq!(
        ok(a, "{deployments}", json!({}))["deployments"],
        json!(["alpine"])
    );
    server.stop();
    assert_eq!(
        fingerprint(&db),
        before,
        "a refused write changed the store"
    );

    // A server started without a write token is read-only for everyone.
    let server = Server::start(&db, &[]);
    let (status, _) = graphql(&server.addr, Some(TOKEN), mutation, json!({"c": doc}));
    assert_eq!(status, 401);
    server.stop();
    assert_eq!(fingerprint(&db), before);
}

#[test]
fn reads_can_require_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let server = Server::start(
        &db,
        &[
            "--write-token",
            TOKEN,
            "--read-token",
            "reader-token-0123456789",
        ],
    );
    let (status, v) = graphql(&server.addr, None, "{deployments}", json!({}));
    assert_eq!(status, 401, "{v}");
    let (status, _) = graphql(
        &server.addr,
        Some("reader-token-0123456789"),
        "{deployments}",
        json!({}),
    );
    assert_eq!(status, 200);
    let (status, _) = graphql(&server.addr, Some(TOKEN), "{deployments}", json!({}));
    assert_eq!(status, 200);
    // The answer is cached now; a caller without the token still gets nothing.
    let (status, v) = graphql(&server.addr, None, "{deployments}", json!({}));
    assert_eq!(status, 401, "{v}");
}

#[test]
fn hostile_requests_get_errors_not_stalls() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let server = Server::start(
        &db,
        &["--write-token", TOKEN, "--max-body-bytes", "1000000"],
    );
    let a = &server.addr;
    // 100 levels of nesting.
    let nested = format!(
        "{{__schema{{types{{fields{{type{}name{}}}}}}}}}",
        "{ofType".repeat(100),
        "}".repeat(100)
    );
    let (_, v) = graphql(a, None, &nested, json!({}));
    let message = v["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(v["data"].is_null(), "{v}");
    assert!(
        message.contains("recursion") || message.contains("depth"),
        "{message}"
    );
    // The depth and complexity limits: tests/api_limits.rs.
    // A body over the limit: 413 before any parsing.
    let big = vec![b' '; 2_000_000];
    let (status, _) = http(
        a,
        "POST",
        "/graphql",
        &[("Content-Type", "application/json")],
        &big,
    );
    assert_eq!(status, 413);
    // Malformed JSON and a malformed query are answered, and the server lives on.
    let (status, _) = http(
        a,
        "POST",
        "/graphql",
        &[("Content-Type", "application/json")],
        b"{\"query\":",
    );
    assert!(status >= 400, "{status}");
    let (_, v) = graphql(a, None, "{deployments", json!({}));
    assert!(!v["errors"].as_array().unwrap().is_empty());
    assert_eq!(http(a, "GET", "/healthz", &[], b"").0, 200);
    // A bad upload is bad input naming the document, and writes nothing.
    let (_, v) = graphql(
        a,
        Some(TOKEN),
        "mutation{ingestDocument(deployment:\"x\",fileName:\"broken.json\",content:\"{\\\"bomFormat\\\":\\\"CycloneDX\\\",\\\"specVersion\\\":\\\"1.6\\\",\\\"components\\\":[{\\\"name\\\":\\\"a\\\",\\\"hashes\\\":\\\"x\\\"}]}\"){status}}",
        json!({}),
    );
    let message = v["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("broken.json") && message.contains("components[0].hashes"),
        "{v}"
    );
    assert_eq!(ok(a, "{deployments}", json!({}))["deployments"], json!([]));
}

#[test]
fn advisories_vex_and_delete_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db(&dir);
    let server = Server::start(&db, &["--write-token", TOKEN]);
    let a = &server.addr;
    let image = corpus().join(
        "external/guac-data/docs/cyclonedx/syft-cyclonedx-docker.io-library-python.latest.json",
    );
    ingest(a, "python", &image);
    // Load three real PyPA records over the API, as a JSON array of records
    // converted from their YAML by the loader's own reader.
    let mut records = Vec::new();
    for p in [
        "pip/PYSEC-2023-228",
        "setuptools/PYSEC-2022-43012",
        "wheel/PYSEC-2022-43017",
    ] {
        let path = corpus().join(format!("osv/pypa-advisory-database/vulns/{p}.yaml"));
        let (status, v) = graphql(
            a,
            Some(TOKEN),
            "mutation($c:String!,$f:String!){loadAdvisories(content:$c,fileName:$f){added matches rejected}}",
            json!({"c": read(&path), "f": path.file_name().unwrap().to_str().unwrap()}),
        );
        assert_eq!(status, 200, "{v}");
        records.push(v["data"]["loadAdvisories"].clone());
    }
    for r in &records {
        assert_eq!(r["added"], 1, "{r}");
        assert_eq!(r["matches"], 1, "{r}");
    }
    let q = r#"query($a:String!){affected(advisory:$a){advisories deployments matches{package fixed open vex{status justification}}}}"#;
    let before = ok(a, q, json!({"a": "CVE-2023-5752"}));
    let m = &before["affected"]["matches"][0];
    assert_eq!(before["affected"]["advisories"], json!(["PYSEC-2023-228"]));
    assert_eq!(m["package"], "pkg:pypi/pip@22.2.2");
    assert_eq!(m["fixed"], json!(["23.3"]));
    assert_eq!(m["open"], true);
    assert!(m["vex"].is_null());

    let (status, v) = graphql(
        a,
        Some(TOKEN),
        r#"mutation{setVex(deployment:"python",advisory:"CVE-2023-5752",purl:"pkg:pypi/pip@22.2.2",status:NOT_AFFECTED,justification:"vulnerable_code_not_in_execute_path"){status vexStatements}}"#,
        json!({}),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["setVex"]["vexStatements"], 1, "{v}");
    let after = ok(a, q, json!({"a": "PYSEC-2023-228"}));
    let m = &after["affected"]["matches"][0];
    assert_eq!(m["open"], false);
    assert_eq!(m["vex"]["status"], "NOT_AFFECTED");
    assert_eq!(
        m["vex"]["justification"],
        "vulnerable_code_not_in_execute_path"
    );
    let open = ok(
        a,
        r#"{deployment(name:"python"){advisories(openOnly:true){advisory}}}"#,
        json!({}),
    );
    let open: Vec<_> = open["deployment"]["advisories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["advisory"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(open, ["PYSEC-2022-43012", "PYSEC-2022-43017"]);

    let (_, v) = graphql(
        a,
        Some(TOKEN),
        r#"mutation{deleteDeployment(name:"python")}"#,
        json!({}),
    );
    assert_eq!(v["data"]["deleteDeployment"], true);
    assert_eq!(ok(a, "{deployments}", json!({}))["deployments"], json!([]));
    let gone = ok(a, q, json!({"a": "CVE-2023-5752"}));
    assert_eq!(gone["affected"]["matches"], json!([]));
    let (_, v) = graphql(
        a,
        Some(TOKEN),
        r#"mutation{deleteDeployment(name:"python")}"#,
        json!({}),
    );
    assert_eq!(v["data"]["deleteDeployment"], false);
}
