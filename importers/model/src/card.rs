//! Hugging Face model cards: the YAML front matter of README.md
//! (`base_model`, `base_model_relation`, `datasets`, `license`,
//! `library_name`, `pipeline_tag`, `model-index`). A card without metadata
//! has none; invalid YAML is an error naming the line.

use aibomdb_graph::ImportError;
use serde_json::Value;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Card {
    pub base_models: Vec<String>,
    pub relation: Option<String>,
    pub datasets: Vec<String>,
    /// Datasets named in `model-index[].results[].dataset`.
    pub eval_datasets: Vec<String>,
    pub license: Option<String>,
    pub library_name: Option<String>,
    pub pipeline_tag: Option<String>,
    pub model_name: Option<String>,
    pub has_metadata: bool,
}

/// The front matter between the first two `---` lines, if the text starts with one.
pub fn front_matter(text: &str) -> Option<(&str, usize)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next()?;
    if first.trim_end() != "---" {
        return None;
    }
    let start = first.len();
    let mut offset = start;
    for l in lines {
        if l.trim_end() == "---" {
            return Some((&text[start..offset], 2));
        }
        offset += l.len();
    }
    None
}

pub fn parse(text: &str) -> Result<Card, ImportError> {
    let Some((yaml, first_line)) = front_matter(text) else {
        return Ok(Card::default());
    };
    // CRLF cards (written on Windows) parse the same.
    let yaml = yaml.replace("\r\n", "\n");
    if yaml.trim().is_empty() {
        return Ok(Card::default());
    }
    let value: Value = serde_saphyr::from_str(&yaml).map_err(|e| {
        let text = e.to_string();
        // serde-saphyr reports "line L column C" relative to the front matter.
        let line = text
            .split("line ")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<usize>().ok())
            .map_or(first_line, |l| l + first_line - 1);
        ImportError::Syntax {
            message: format!("model card metadata is not valid YAML: {text}"),
            line,
            column: 0,
            field: Some("README.md front matter".into()),
        }
    })?;
    let Some(map) = value.as_object() else {
        return Err(ImportError::field(
            "README.md front matter",
            "metadata is not a mapping",
        ));
    };
    let strings = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::String(s)) => vec![s.trim().to_string()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|x| x.as_str().map(|s| s.trim().to_string()))
                .collect(),
            _ => Vec::new(),
        }
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect()
    };
    let string = |k: &str| {
        map.get(k)
            .and_then(Value::as_str)
            .map(|s| s.trim().to_string())
    };
    let mut eval = Vec::new();
    if let Some(Value::Array(index)) = map.get("model-index") {
        for entry in index {
            for result in entry
                .get("results")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let dataset = result.get("dataset");
                if let Some(d) = dataset
                    .and_then(|d| d.get("type").or_else(|| d.get("name")))
                    .and_then(Value::as_str)
                    && !eval.contains(&d.to_string())
                {
                    eval.push(d.to_string());
                }
            }
        }
    }
    Ok(Card {
        base_models: strings(map.get("base_model")),
        relation: string("base_model_relation"),
        datasets: strings(map.get("datasets")),
        eval_datasets: eval,
        license: match map.get("license") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_string),
            _ => None,
        },
        library_name: string("library_name"),
        pipeline_tag: string("pipeline_tag"),
        model_name: string("model_name"),
        has_metadata: true,
    })
}
