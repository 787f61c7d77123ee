//! `aibomdb-bench api`: the responder's question — which deployments use
//! transformers < 4.38, and along which path — on a synthetic estate, asked
//! in process (GraphQL executed without HTTP), over HTTP one request at a
//! time, and by 64 concurrent keep-alive clients; then the same question of the
//! same graph loaded into Kùzu (benches/baseline_kuzu_blast.py) in the same run.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aibomdb_store::Store;
use anyhow::{Context, Result, bail};

use crate::estate::{self, EstateSpec};

pub(crate) const QUERY: &str = r#"{deploymentsUsing(name:"transformers",versionRange:"<4.38"){totalCount edges{node{deployment package path{id}}}}}"#;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut spec = EstateSpec {
        deployments: 10_000,
        packages: 300,
        transformers_share: 0.3,
        seed: 42,
    };
    let mut requests = 2000usize;
    let mut load_secs = 10u64;
    let mut baseline = true;
    let mut keep: Option<std::path::PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--deployments" => spec.deployments = it.next().context("N")?.parse()?,
            "--packages" => spec.packages = it.next().context("M")?.parse()?,
            "--seed" => spec.seed = it.next().context("S")?.parse()?,
            "--requests" => requests = it.next().context("R")?.parse()?,
            "--load-secs" => load_secs = it.next().context("T")?.parse()?,
            "--no-baseline" => baseline = false,
            // Build the estate at PATH once and reuse it on later runs.
            "--store" => keep = Some(it.next().context("PATH")?.into()),
            other => bail!("unknown argument {other}"),
        }
    }
    let pypa = crate::repo_root().join("../shared/corpus/osv/pypa-advisory-database");
    let loaded = aibomdb_osv::load_path(&pypa, &aibomdb_osv::LoadLimits::default())?;
    let advisories: Vec<_> = loaded.advisories.into_iter().map(|(_, a)| a).collect();
    let pool = estate::name_pool(&advisories);
    let dir = tempfile::tempdir_in(std::env::temp_dir())?;
    let db = keep.clone().unwrap_or_else(|| dir.path().join("api.redb"));
    let start = Instant::now();
    if !db.exists() {
        let store = Store::open(&db)?;
        estate::build(&store, &spec, &pool)?;
    }
    println!(
        "api benchmark (release build): estate {} deployments x {} packages, transformers in {:.0}%, seed {}; built (or reused) in {:.1} s; store {:.0} MiB",
        spec.deployments,
        spec.packages,
        spec.transformers_share * 100.0,
        spec.seed,
        start.elapsed().as_secs_f64(),
        std::fs::metadata(&db)?.len() as f64 / 1048576.0
    );
    println!("query     {QUERY}");

    // Cold open → first answer.
    let start = Instant::now();
    let store = Arc::new(Store::open(&db)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let schema = aibomdb_api::build_schema(store.clone(), aibomdb_api::QueryLimits::default());
    let first = runtime.block_on(schema.execute(async_graphql::Request::new(QUERY)));
    if !first.errors.is_empty() {
        bail!("query failed: {:?}", first.errors);
    }
    let cold = start.elapsed();
    let answer = first.data.into_json()?;
    let total = answer["deploymentsUsing"]["totalCount"]
        .as_u64()
        .unwrap_or(0);
    let deployments: std::collections::BTreeSet<&str> = answer["deploymentsUsing"]["edges"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|x| x["node"]["deployment"].as_str())
                .collect()
        })
        .unwrap_or_default();
    println!(
        "answer    {total} hits (first page: {} deployments with paths); open → first answer {:.1} ms",
        deployments.len(),
        cold.as_secs_f64() * 1000.0
    );

    // In process.
    let mut lat = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t = Instant::now();
        let r = runtime.block_on(schema.execute(async_graphql::Request::new(QUERY)));
        lat.push(t.elapsed());
        assert!(r.errors.is_empty());
    }
    lat.sort();
    println!(
        "in process  p50 {:.3} ms  p99 {:.3} ms  ({requests} queries, GraphQL executed without HTTP)",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );

    // The query layer alone (no GraphQL): where the time goes.
    let target = aibomdb_query::Target::Name {
        ecosystem: None,
        name: "transformers".into(),
        range: Some(aibomdb_query::parse_range("<4.38")?),
    };
    let mut lat = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t = Instant::now();
        let a = aibomdb_query::deployments_using_page(&store, &target, false, 0, 50)?;
        lat.push(t.elapsed());
        assert_eq!(a.total as u64, total);
    }
    lat.sort();
    println!(
        "query only  p50 {:.3} ms  p99 {:.3} ms  (the same page from aibomdb-query, without GraphQL)",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );

    for cache_entries in [0usize, 512] {
        let label = if cache_entries == 0 {
            "no cache"
        } else {
            "cached"
        };
        http_round(
            &runtime,
            &store,
            cache_entries,
            label,
            requests,
            load_secs,
            dir.path(),
        )?;
    }

    if baseline {
        kuzu_baseline(&store, dir.path(), requests.min(500))?;
    }
    Ok(())
}

/// Sequential latency, then 64 concurrent clients, against a server with
/// the given response-cache size.
fn http_round(
    runtime: &tokio::runtime::Runtime,
    store: &Arc<Store>,
    cache_entries: usize,
    label: &str,
    requests: usize,
    load_secs: u64,
    dir: &Path,
) -> Result<()> {
    // Over HTTP.
    let (tx, rx) = std::sync::mpsc::channel();
    let server_store = store.clone();
    runtime.spawn(async move {
        let _ = aibomdb_api::serve(
            "127.0.0.1:0".parse().unwrap(),
            server_store,
            aibomdb_api::ServerConfig {
                cache_entries,
                ..Default::default()
            },
            move |addr| {
                let _ = tx.send(addr);
            },
        )
        .await;
    });
    let addr = rx.recv_timeout(Duration::from_secs(10))?.to_string();
    let body = serde_json::json!({ "query": QUERY }).to_string();
    let mut client = Client::connect(&addr)?;
    let mut lat = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t = Instant::now();
        let status = client.post(&addr, &body)?;
        lat.push(t.elapsed());
        if status != 200 {
            bail!("HTTP {status}");
        }
    }
    lat.sort();
    println!(
        "over HTTP ({label})  p50 {:.3} ms  p99 {:.3} ms  ({requests} sequential requests on one keep-alive connection)",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );

    // 64 concurrent clients.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    let start = Instant::now();
    for _ in 0..64 {
        let (stop, done, errors, addr, body) = (
            stop.clone(),
            done.clone(),
            errors.clone(),
            addr.clone(),
            body.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let Ok(mut c) = Client::connect(&addr) else {
                errors.fetch_add(1, Ordering::Relaxed);
                return;
            };
            while !stop.load(Ordering::Relaxed) {
                match c.post(&addr, &body) {
                    Ok(200) => done.fetch_add(1, Ordering::Relaxed),
                    _ => errors.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(load_secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "64 clients ({label})  {:.0} requests/s over {elapsed:.1} s, {} errors (built-in keep-alive load generator; client and server share the 2 cores)",
        done.load(Ordering::Relaxed) as f64 / elapsed,
        errors.load(Ordering::Relaxed)
    );
    if which("wrk") {
        let lua = dir.join("post.lua");
        std::fs::write(
            &lua,
            format!(
                "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = {}\n",
                serde_json::to_string(&body)?
            ),
        )?;
        let out = Command::new("wrk")
            .args(["-t2", "-c64", &format!("-d{load_secs}s"), "-s"])
            .arg(&lua)
            .arg(format!("http://{addr}/graphql"))
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines().filter(|l| {
            l.contains("Requests/sec") || l.contains("Latency") || l.contains("Non-2xx")
        }) {
            println!("wrk -c64 ({label})  {}", line.trim());
        }
    }

    Ok(())
}

/// Writes the estate's containment graph as CSV and asks Kùzu the same question.
fn kuzu_baseline(store: &Store, dir: &Path, runs: usize) -> Result<()> {
    let mut deployments = String::from("name\n");
    let mut packages = String::from("key,name,version\n");
    let mut contains = String::from("deployment,package\n");
    let mut edges = String::from("from,to\n");
    let mut seen = std::collections::HashSet::new();
    for doc in store.documents()? {
        deployments.push_str(&format!("{}\n", doc.deployment));
        let mut keys = std::collections::HashMap::new();
        for (p, _) in store.document_packages(doc.id)? {
            if seen.insert(p.id) {
                packages.push_str(&format!(
                    "{},{},{}\n",
                    p.key,
                    p.name,
                    p.version.clone().unwrap_or_default()
                ));
            }
            contains.push_str(&format!("{},{}\n", doc.deployment, p.key));
            keys.insert(p.id, p.key);
        }
        for (from, to, _) in store.document_edges(doc.id)? {
            edges.push_str(&format!("{},{}\n", keys[&from], keys[&to]));
        }
    }
    for (name, body) in [
        ("deployments.csv", &deployments),
        ("packages.csv", &packages),
        ("contains.csv", &contains),
        ("edges.csv", &edges),
    ] {
        std::fs::write(dir.join(name), body)?;
    }
    let out = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
        .arg(crate::repo_root().join("benches/baseline_kuzu_blast.py"))
        .arg(dir)
        .arg(runs.to_string())
        .output()?;
    if !out.status.success() {
        bail!(
            "Kùzu baseline failed (pip install kuzu==0.11.3 packaging): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        println!("kuzu        {line}");
    }
    Ok(())
}

fn which(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok()
}

/// A keep-alive HTTP/1.1 client for one connection.
pub(crate) struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    pub(crate) fn connect(addr: &str) -> Result<Client> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        Ok(Client {
            reader: BufReader::new(s),
        })
    }

    pub(crate) fn post(&mut self, addr: &str, body: &str) -> Result<u16> {
        self.post_to(addr, "/graphql", body)
    }

    pub(crate) fn post_to(&mut self, addr: &str, path: &str, body: &str) -> Result<u16> {
        self.post_authorized(addr, path, body, None)
    }

    /// A POST with `Authorization: Bearer <token>` when one is given.
    pub(crate) fn post_authorized(
        &mut self,
        addr: &str,
        path: &str,
        body: &str,
        token: Option<&str>,
    ) -> Result<u16> {
        Ok(self.request(addr, path, body, token)?.0)
    }

    /// A GraphQL query: the status and the response body.
    pub(crate) fn query(&mut self, addr: &str, body: &str) -> Result<(u16, Vec<u8>)> {
        self.request(addr, "/graphql", body, None)
    }

    fn request(
        &mut self,
        addr: &str,
        path: &str,
        body: &str,
        token: Option<&str>,
    ) -> Result<(u16, Vec<u8>)> {
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.reader.get_mut().write_all(req.as_bytes())?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .context("status line")?
            .parse()?;
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse()?;
            }
        }
        let mut buf = vec![0; length];
        self.reader.read_exact(&mut buf)?;
        Ok((status, buf))
    }
}
