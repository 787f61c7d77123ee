//! CycloneDX XML (spec 1.2–1.6) → the same wire structures the JSON reader
//! fills, so that everything after parsing is shared and nothing downstream
//! knows which encoding a BOM came in.
//!
//! The XML is read with quick-xml into a small element tree, bounded in
//! depth and element count; a DTD is refused outright (no internal subset, so
//! no entity can be declared, let alone expanded) and only the five
//! predefined entities and character references are resolved. The tree is
//! then mapped to the JSON shape of the same spec version: wrappers such as
//! `<components>` become arrays, attributes (`bom-ref`, `type`, `ref`, `alg`)
//! become fields, `<hash alg>text</hash>` becomes `{alg, content}`, and
//! `<dependency ref><dependency ref/></dependency>` becomes `{ref, dependsOn}`.

use aibomdb_graph::ImportError;
use quick_xml::events::Event;
use serde_json::{Map, Value};

/// Deepest element nesting accepted (the JSON reader's bound).
pub const MAX_DEPTH: usize = 128;
/// Most elements in one document: a bound on the tree held in memory.
pub const MAX_ELEMENTS: usize = 5_000_000;

const NAMESPACE: &str = "http://cyclonedx.org/schema/bom/";

/// True when `head` (the start of a file) is CycloneDX XML.
pub fn sniff(head: &str) -> bool {
    let text = head.trim_start_matches('\u{feff}').trim_start();
    text.starts_with('<') && aibomdb_graph::sniff::contains(head, NAMESPACE)
}

/// One element: local name, attributes by local name, children, text.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn position(bytes: &[u8], offset: u64) -> (usize, usize) {
    let end = (offset as usize).min(bytes.len());
    let before = &bytes[..end];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = end
        - before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1)
        + 1;
    (line, column)
}

fn syntax(bytes: &[u8], offset: u64, message: impl Into<String>, path: &[Element]) -> ImportError {
    let (line, column) = position(bytes, offset);
    let field = path
        .iter()
        .map(|e| e.name.as_str())
        .collect::<Vec<_>>()
        .join("/");
    ImportError::Syntax {
        message: message.into(),
        line,
        column,
        field: (!field.is_empty()).then_some(field),
    }
}

fn local(name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    match name.rsplit_once(':') {
        Some((_, l)) => l.to_string(),
        None => name.into_owned(),
    }
}

/// Reads the element tree; the root's namespace (its `xmlns`, or the
/// `xmlns:prefix` of its prefix) comes back as an attribute named `xmlns`.
fn tree(bytes: &[u8]) -> Result<Element, ImportError> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    loop {
        let at = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| syntax(bytes, reader.error_position(), e.to_string(), &stack))?;
        match event {
            Event::DocType(_) => {
                return Err(syntax(
                    bytes,
                    at,
                    "a DOCTYPE declaration is not accepted (entities and DTDs are never expanded)",
                    &stack,
                ));
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                if root.is_some() {
                    return Err(syntax(bytes, at, "content after the root element", &stack));
                }
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(syntax(
                        bytes,
                        at,
                        format!("more than {MAX_ELEMENTS} elements"),
                        &stack,
                    ));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(syntax(
                        bytes,
                        at,
                        format!("elements nested deeper than {MAX_DEPTH}"),
                        &stack,
                    ));
                }
                let prefix = start.name().prefix().map(|p| local(p.as_ref()));
                let mut element = Element {
                    name: local(start.name().as_ref()),
                    ..Default::default()
                };
                for attr in start.attributes() {
                    let attr = attr.map_err(|e| syntax(bytes, at, e.to_string(), &stack))?;
                    let key = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
                    let value = attr
                        .unescape_value()
                        .map_err(|e| syntax(bytes, at, format!("attribute `{key}`: {e}"), &stack))?
                        .into_owned();
                    let name = match (key.as_str(), &prefix) {
                        ("xmlns", None) => "xmlns".to_string(),
                        (k, Some(p)) if k == format!("xmlns:{p}") => "xmlns".to_string(),
                        (k, _) if k.starts_with("xmlns") => continue,
                        _ => local(key.as_bytes()),
                    };
                    element.attrs.push((name, value));
                }
                if matches!(event, Event::Empty(_)) {
                    close(&mut stack, &mut root, element);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| syntax(bytes, at, "unmatched end tag", &[]))?;
                close(&mut stack, &mut root, element);
            }
            Event::Text(text) => {
                let text = text
                    .xml_content()
                    .map_err(|e| syntax(bytes, at, e.to_string(), &stack))?;
                push_text(&mut stack, &text, bytes, at)?;
            }
            Event::CData(data) => {
                let text = data
                    .decode()
                    .map_err(|e| syntax(bytes, at, e.to_string(), &stack))?;
                push_text(&mut stack, &text, bytes, at)?;
            }
            Event::GeneralRef(r) => {
                let resolved = match r
                    .resolve_char_ref()
                    .map_err(|e| syntax(bytes, at, e.to_string(), &stack))?
                {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r
                            .decode()
                            .map_err(|e| syntax(bytes, at, e.to_string(), &stack))?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| {
                                syntax(
                                    bytes,
                                    at,
                                    format!(
                                        "entity `&{name};` is not one of XML's five predefined entities (no DTD is read)"
                                    ),
                                    &stack,
                                )
                            })?
                            .to_string()
                    }
                };
                push_text(&mut stack, &resolved, bytes, at)?;
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(syntax(
            bytes,
            bytes.len() as u64,
            "the document ends inside an element",
            &stack,
        ));
    }
    root.ok_or_else(|| syntax(bytes, 0, "no root element", &[]))
}

fn push_text(stack: &mut [Element], text: &str, bytes: &[u8], at: u64) -> Result<(), ImportError> {
    match stack.last_mut() {
        // White space before any text (indentation between elements) is
        // trimmed from every value anyway: not kept.
        Some(e) if e.text.is_empty() && text.trim().is_empty() => Ok(()),
        Some(e) => {
            e.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(syntax(bytes, at, "text outside the root element", &[])),
    }
}

fn close(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

/// Reads CycloneDX XML into the JSON shape the wire structures read.
pub(crate) fn to_json(bytes: &[u8]) -> Result<Value, ImportError> {
    let root = tree(bytes)?;
    let namespace = root.attr("xmlns").unwrap_or_default();
    let version = namespace.strip_prefix(NAMESPACE);
    if root.name != "bom" || version.is_none() {
        return Err(ImportError::WrongFormat {
            expected: "CycloneDX",
            message: format!(
                "the root element is <{}> in namespace {namespace:?}, not <bom> in {NAMESPACE}1.x",
                root.name
            ),
        });
    }
    let version = version.unwrap_or_default().to_string();
    let mut bom = Map::new();
    bom.insert("bomFormat".into(), "CycloneDX".into());
    bom.insert("specVersion".into(), version.into());
    for (k, v) in root.attrs {
        if k != "xmlns" {
            bom.insert(k, v.into());
        }
    }
    for child in root.children {
        let name = child.name.clone();
        let value = match name.as_str() {
            "dependencies" => dependencies(child),
            _ => convert(child),
        };
        bom.insert(name, value);
    }
    Ok(Value::Object(bom))
}

/// Elements whose JSON form is the array of their children.
const LISTS: &[&str] = &[
    "components",
    "services",
    "hashes",
    "externalReferences",
    "properties",
    "authors",
    "ancestors",
    "descendants",
    "variants",
    "occurrences",
    "vulnerabilities",
    "references",
    "affects",
    "ratings",
    "cwes",
    "advisories",
    "identity",
    "callstack",
    "frames",
    "data",
    "dependencies",
];

/// Children that are arrays in JSON even when only one is present.
const REPEATED: &[&str] = &["contact", "url", "email", "phone"];

fn convert(mut e: Element) -> Value {
    match e.name.as_str() {
        "licenses" => return licenses(e),
        "tools" => return tools(e),
        "responses" => {
            return Value::Array(
                e.children
                    .into_iter()
                    .map(|c| text(c.text).into())
                    .collect(),
            );
        }
        "hash" => {
            let mut m = Map::new();
            m.insert("alg".into(), e.attr("alg").unwrap_or_default().into());
            m.insert("content".into(), text(e.text).into());
            return Value::Object(m);
        }
        "property" => {
            let mut m = Map::new();
            if let Some(n) = e.attr("name") {
                m.insert("name".into(), n.into());
            }
            m.insert("value".into(), text(e.text).into());
            return Value::Object(m);
        }
        name if LISTS.contains(&name) && e.attrs.is_empty() => {
            return Value::Array(e.children.into_iter().map(convert).collect());
        }
        _ => {}
    }
    if e.children.is_empty() && e.attrs.is_empty() {
        return text(e.text).into();
    }
    // Which children share their name with a sibling (those become arrays).
    let shared: Vec<bool> = e
        .children
        .iter()
        .map(|c| e.children.iter().filter(|x| x.name == c.name).count() > 1)
        .collect();
    let mut m = Map::new();
    for (k, v) in std::mem::take(&mut e.attrs) {
        m.insert(k, v.into());
    }
    for (c, shared) in std::mem::take(&mut e.children).into_iter().zip(shared) {
        let key = match c.name.as_str() {
            // `<responses><response/>` is `response: [...]` in JSON.
            "responses" => "response".to_string(),
            name => name.to_string(),
        };
        let value = convert(c);
        let repeated = REPEATED.contains(&key.as_str());
        match m.get_mut(&key) {
            Some(Value::Array(items)) if repeated || shared => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None if repeated => {
                m.insert(key, Value::Array(vec![value]));
            }
            None => {
                m.insert(key, value);
            }
        }
    }
    if m.is_empty() {
        return text(e.text).into();
    }
    Value::Object(m)
}

/// An element's text without the white space around it (the allocation kept
/// when there is none to cut).
fn text(s: String) -> String {
    let trimmed = s.trim();
    if trimmed.len() == s.len() {
        s
    } else {
        trimmed.to_string()
    }
}

/// `<license>` → `{license: {...}}`; `<expression>` → `{expression, acknowledgement}`.
fn licenses(e: Element) -> Value {
    Value::Array(
        e.children
            .into_iter()
            .map(|c| {
                let mut m = Map::new();
                match c.name.as_str() {
                    "expression" => {
                        m.insert("expression".into(), text(c.text).into());
                        for (k, v) in c.attrs {
                            m.insert(k, v.into());
                        }
                    }
                    name => {
                        m.insert(name.to_string(), convert(c));
                    }
                }
                Value::Object(m)
            })
            .collect(),
    )
}

/// 1.4 and earlier: `<tool>` list; 1.5+: `{components, services}`.
fn tools(e: Element) -> Value {
    if e.children.iter().any(|c| c.name == "tool") {
        return Value::Array(
            e.children
                .into_iter()
                .filter(|c| c.name == "tool")
                .map(convert)
                .collect(),
        );
    }
    let mut m = Map::new();
    for c in e.children {
        m.insert(c.name.clone(), convert(c));
    }
    Value::Object(m)
}

/// `<dependency ref="a"><dependency ref="b"/></dependency>` → `{ref, dependsOn}`.
fn dependencies(e: Element) -> Value {
    Value::Array(
        e.children
            .into_iter()
            .map(|d| {
                let mut m = Map::new();
                if let Some(r) = d.attr("ref") {
                    m.insert("ref".into(), r.into());
                }
                let on: Vec<Value> = d
                    .children
                    .iter()
                    .filter(|c| c.name == "dependency")
                    .filter_map(|c| c.attr("ref").map(Value::from))
                    .collect();
                m.insert("dependsOn".into(), Value::Array(on));
                Value::Object(m)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(xml: &str) -> String {
        to_json(xml.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn entity_declarations_are_refused_before_any_expansion() {
        let bomb = format!(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE bom [<!ENTITY a \"{}\">{}]>\n<bom xmlns=\"{NAMESPACE}1.5\">&e;</bom>",
            "x".repeat(10),
            (b'b'..=b'e')
                .map(|c| format!(
                    "<!ENTITY {} \"{}\">",
                    c as char,
                    format!("&{};", (c - 1) as char).repeat(10)
                ))
                .collect::<String>()
        );
        let e = err(&bomb);
        assert!(e.contains("DOCTYPE") && e.contains("line 2"), "{e}");
        // An entity used without a DTD is refused too.
        let e = err(&format!("<bom xmlns=\"{NAMESPACE}1.5\"><x>&e;</x></bom>"));
        assert!(e.contains("`&e;`") && e.contains("bom/x"), "{e}");
    }

    #[test]
    fn depth_is_bounded() {
        let deep = format!(
            "<bom xmlns=\"{NAMESPACE}1.5\">{}{}</bom>",
            "<a>".repeat(MAX_DEPTH),
            "</a>".repeat(MAX_DEPTH)
        );
        assert!(err(&deep).contains("deeper than 128"));
    }

    #[test]
    fn predefined_entities_and_char_refs_are_text() {
        let v = to_json(format!("<bom xmlns=\"{NAMESPACE}1.4\"><metadata><timestamp>a&amp;b&#x41;</timestamp></metadata></bom>").as_bytes()).unwrap();
        assert_eq!(v["metadata"]["timestamp"], "a&bA");
        assert_eq!(v["specVersion"], "1.4");
    }

    #[test]
    fn malformed_xml_names_line_and_element() {
        let e = err(&format!(
            "<bom xmlns=\"{NAMESPACE}1.5\">\n<components>\n<component></components></bom>"
        ));
        assert!(e.contains("line 3"), "{e}");
    }
}
