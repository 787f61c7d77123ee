//! An OSV data export on disk (and served over HTTP by
//! tests/helpers/osv_export_server.py), built from the corpus's PyPA records.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::corpus;

/// The export being served: records by id (OSV JSON), written out as the
/// export's three kinds of file.
pub struct Export {
    pub root: PathBuf,
    pub records: BTreeMap<String, Value>,
}

impl Export {
    pub fn ecosystem_dir(&self) -> PathBuf {
        self.root.join("PyPI")
    }

    /// Writes every record, `modified_id.csv` (newest first) and `all.zip`.
    pub fn publish(&self) {
        let dir = self.ecosystem_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let mut rows: Vec<(String, String)> = Vec::new();
        let zip_file = std::fs::File::create(dir.join("all.zip")).unwrap();
        let mut zip = zip::ZipWriter::new(zip_file);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (id, record) in &self.records {
            let bytes = serde_json::to_vec_pretty(record).unwrap();
            std::fs::write(dir.join(format!("{id}.json")), &bytes).unwrap();
            zip.start_file(format!("{id}.json"), options).unwrap();
            zip.write_all(&bytes).unwrap();
            rows.push((record["modified"].as_str().unwrap().to_string(), id.clone()));
        }
        zip.finish().unwrap();
        rows.sort_by(|a, b| b.cmp(a));
        let csv: String = rows.iter().map(|(m, id)| format!("{m},{id}\n")).collect();
        std::fs::write(dir.join("modified_id.csv"), csv).unwrap();
    }

    /// A newer version of a record: later `modified`, another summary.
    pub fn touch(&mut self, id: &str, modified: &str) {
        let r = self.records.get_mut(id).unwrap();
        r["modified"] = Value::from(modified);
        r["summary"] = Value::from(format!("revised {modified}"));
    }
}

fn pypa() -> PathBuf {
    corpus().join("osv/pypa-advisory-database/vulns")
}

/// A PyPA record (YAML in the corpus) as the JSON the OSV export serves.
pub fn record(package: &str, id: &str) -> Value {
    let text = std::fs::read_to_string(pypa().join(package).join(format!("{id}.yaml"))).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

/// Every PyPA record of these packages.
pub fn records_of(packages: &[&str]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for p in packages {
        for entry in std::fs::read_dir(pypa().join(p)).unwrap() {
            let path = entry.unwrap().path();
            let id = path.file_stem().unwrap().to_string_lossy().to_string();
            out.insert(id.clone(), record(p, &id));
        }
    }
    out
}

pub struct FeedServer {
    child: std::process::Child,
    pub url: String,
    control: PathBuf,
}

impl FeedServer {
    pub fn start(export: &Export) -> FeedServer {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/helpers/osv_export_server.py");
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .arg(&export.root)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .to_string();
        FeedServer {
            child,
            url,
            control: export.root.parent().unwrap().to_path_buf(),
        }
    }

    /// The requests made since the last call, as `GET <path> <status>`.
    pub fn requests(&self) -> Vec<String> {
        let log = self.control.join("requests.log");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        text.lines().map(str::to_string).collect()
    }

    pub fn drop_zip(&self, on: bool) {
        let flag = self.control.join("drop-zip");
        if on {
            std::fs::write(flag, b"").unwrap();
        } else {
            let _ = std::fs::remove_file(flag);
        }
    }
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
