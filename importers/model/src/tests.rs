//! Unit tests of the model directory importer on real fixtures.

use std::path::PathBuf;

use super::scan::scan_torch_zip;
use super::*;
use aibomdb_graph::PickleReport;

fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(rel)
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/models")
        .join(rel)
}

/// Every card fixture of huggingface_hub: parsed, or refused with a reason.
#[test]
fn huggingface_hub_card_fixtures() {
    let dir = corpus("formats/huggingface/huggingface_hub-fixtures/cards");
    let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap();
    let simple = card::parse(&read("sample_simple.md")).unwrap();
    assert_eq!(simple.license.as_deref(), Some("mit"));
    assert_eq!(simple.datasets, ["beans"]);
    assert_eq!(simple.library_name.as_deref(), Some("pytorch-lightning"));
    let none = card::parse(&read("sample_no_metadata.md")).unwrap();
    assert!(!none.has_metadata);
    let crlf = card::parse(&read("sample_windows_line_breaks.md")).unwrap();
    assert_eq!(crlf.license.as_deref(), Some("mit"));
    let index = card::parse(&read("sample_simple_model_index.md")).unwrap();
    assert_eq!(index.eval_datasets, ["beans"]);
    // An invalid model-index is not lineage: the rest of the card still reads.
    let bad_index = card::parse(&read("sample_invalid_model_index.md")).unwrap();
    assert_eq!(bad_index.license.as_deref(), Some("mit"));
    assert!(card::parse(&read("sample_invalid_card_data.md")).is_err());
    let dataset = card::parse(&read("sample_datasetcard_simple.md")).unwrap();
    assert_eq!(dataset.license.as_deref(), Some("bsd-3-clause"));
    let broken = card::parse("---\nlicense: [mit\n---\n").unwrap_err();
    assert!(broken.to_string().contains("README.md"), "{broken}");
}

/// Every prefix of every fixture pickle scans without panicking, and a
/// cut stream says where it ended.
#[test]
fn truncated_pickles_are_errors_not_panics() {
    for name in [
        "checkpoint-pickle/optimizer.pt",
        "checkpoint-pickle/training_args.bin",
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        for n in 0..bytes.len() {
            let mut r = PickleReport::default();
            pickle::scan(&bytes[..n], &mut r);
        }
        let mut r = PickleReport::default();
        pickle::scan(&bytes[..bytes.len() / 2], &mut r);
        assert!(r.error.is_some(), "{name}: {r:?}");
    }
    let mut r = PickleReport::default();
    pickle::scan(&[0x80, 0x02, 0xff, 0x2e], &mut r);
    assert!(r.error.unwrap().contains("unknown opcode 0xff"));
}

#[test]
fn safetensors_headers_are_checked_against_the_file() {
    let path = fixture("finetune-safetensors/model.safetensors");
    let size = std::fs::metadata(&path).unwrap().len();
    assert_eq!(safetensors::header(&path, size).unwrap(), 2);
    let bytes = std::fs::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Cut into the tensor data: the offsets no longer fit.
    let cut = dir.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() - 4]).unwrap();
    let err = safetensors::header(&cut, (bytes.len() - 4) as u64).unwrap_err();
    assert!(err.contains("outside"), "{err}");
    // A length prefix larger than the file.
    let mut huge = bytes.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    let p = dir.path().join("huge.safetensors");
    std::fs::write(&p, &huge).unwrap();
    assert!(safetensors::header(&p, huge.len() as u64).is_err());
}

/// A torch checkpoint whose pickle inflates far past the scan budget, and
/// one with more entries than allowed: both stop with an error, without
/// reading the rest, and neither counts as a pass.
#[test]
fn torch_zip_bombs_stop_at_the_limits() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.pt");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&bomb).unwrap());
    let deflate = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    z.start_file("weird_root/data.pkl", deflate).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..16 {
        z.write_all(&zeros).unwrap(); // 16 MiB, a few KiB compressed
    }
    z.finish().unwrap();
    assert!(std::fs::metadata(&bomb).unwrap().len() < 200_000);
    let limits = ModelLimits {
        max_pickle_bytes: 1 << 20,
        ..Default::default()
    };
    let (report, _) = scan_torch_zip(&bomb, &limits);
    assert!(report.error.unwrap().contains("over the scan limit"));

    let many = dir.path().join("many.pt");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&many).unwrap());
    for i in 0..50 {
        z.start_file(format!("a/{i}.pkl"), deflate).unwrap();
        z.write_all(b"\x80\x02}q\x00.").unwrap();
    }
    z.finish().unwrap();
    let limits = ModelLimits {
        max_zip_entries: 10,
        ..Default::default()
    };
    let (report, _) = scan_torch_zip(&many, &limits);
    assert!(report.error.unwrap().contains("50 entries, over the limit"));
    // Under the default limits the same archive scans: 50 benign streams.
    let (report, _) = scan_torch_zip(&many, &ModelLimits::default());
    assert_eq!((report.streams, report.error), (50, None));
}

#[test]
fn hub_ids_and_dataset_keys() {
    assert_eq!(
        hub_key("meta-llama/Llama-3.2-3B-Instruct", None)
            .unwrap()
            .as_str(),
        "pkg:huggingface/meta-llama/Llama-3.2-3B-Instruct"
    );
    assert!(hub_key("bert-base-uncased", None).is_none());
    assert!(hub_key("../x/y", None).is_none());
    assert_eq!(
        dataset_key("beans").as_str(),
        "pkg:generic/huggingface-datasets/beans"
    );
}

/// A header value that holds a credential is not kept as file metadata.
#[test]
fn metadata_values_holding_a_secret_are_withheld() {
    let token = format!("hf_{}", "NqVwYSVPHbDXpPdkhxEpyIgKpaUnArlXyk");
    let header = scan::FileHeader::Gguf(gguf::Header {
        name: Some("chat".into()),
        source_url: Some(format!("https://huggingface.co/org/m?token={token}")),
        ..Default::default()
    });
    let mut out = Vec::new();
    header.metadata("m.gguf", &mut out);
    let value = |k: &str| {
        out.iter()
            .find(|m| m.key == k)
            .map(|m| m.value.clone())
            .unwrap()
    };
    assert_eq!(value("general.name"), "chat");
    assert!(value("general.source.url").starts_with("(withheld"));
    assert!(!format!("{out:?}").contains(&token));
}
