//! ONNX models: the few fields of the protobuf `ModelProto` an AI BOM needs,
//! decoded from the wire format by hand, streaming, with bounds. Tensor
//! payloads (initializers, up to 2 GiB) are skipped over, never read into
//! memory; only the fields below are decoded:
//!
//! | message        | fields read                                               |
//! |----------------|-----------------------------------------------------------|
//! | ModelProto     | ir_version 1, producer_name 2, producer_version 3,        |
//! |                | domain 4, model_version 5, graph 7, opset_import 8,       |
//! |                | functions 25                                              |
//! | OperatorSetId  | domain 1, version 2                                       |
//! | GraphProto     | node 1 (initializer 5 is counted and skipped)             |
//! | NodeProto      | op_type 4, domain 7, attribute 5 (for subgraphs)          |
//! | AttributeProto | g 6, graphs 11 (If/Loop/Scan bodies)                      |
//! | FunctionProto  | name 1, domain 10                                         |
//!
//! A crate was not used: the `onnx` protobuf crates generate code from the
//! schema at build time (prost-build and protoc) and decode whole messages
//! into memory, tensors included.

use std::collections::BTreeMap;
use std::io::Read;

/// Bounds on what one ONNX file may make the reader walk.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Nodes, over the main graph and every subgraph.
    pub max_nodes: u64,
    /// Bytes of a string field that is read (names, domains, producer).
    pub max_string: u64,
    /// Subgraphs inside subgraphs (If/Loop bodies), and so messages in messages.
    pub max_depth: u32,
    /// Opset imports and model-local functions.
    pub max_entries: u64,
    /// Distinct (domain, op_type) pairs kept.
    pub max_op_types: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_nodes: 10_000_000,
            max_string: 64 * 1024,
            max_depth: 32,
            max_entries: 10_000,
            max_op_types: 10_000,
        }
    }
}

/// Why a file was refused: byte offset, the field (`ModelProto.graph` …), what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ONNX byte {offset}, {field}: {message}")]
pub struct Error {
    pub offset: u64,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Model {
    pub ir_version: Option<u64>,
    pub producer_name: Option<String>,
    pub producer_version: Option<String>,
    pub domain: Option<String>,
    pub model_version: Option<i64>,
    /// (domain, version), `""` being the default `ai.onnx` domain.
    pub opsets: Vec<(String, i64)>,
    /// Nodes per (domain, op_type), over every graph.
    pub ops: BTreeMap<(String, String), u64>,
    pub nodes: u64,
    /// Initializers (weights) of the main graph, skipped over.
    pub initializers: u64,
    /// Model-local functions (domain, name): operators the file defines
    /// itself out of other ONNX operators.
    pub functions: Vec<(String, String)>,
}

/// Domains whose operators come with the runtimes themselves: the ONNX
/// standard (`""`/`ai.onnx`, `ai.onnx.ml`, the training domains) and
/// `com.microsoft`'s contrib operators, which are compiled into ONNX Runtime
/// (and emitted by its own optimisers and quantiser, so nearly every
/// optimised model uses them). Any other domain needs a custom-operator
/// library registered with the session before the model can run: native
/// code that comes from somewhere other than the runtime, which a person has
/// to look at — unless the model defines the operator itself as a local
/// function (pure ONNX, no code).
const RUNTIME_DOMAINS: &[&str] = &[
    "",
    "ai.onnx",
    "ai.onnx.ml",
    "ai.onnx.training",
    "ai.onnx.preview.training",
    "com.microsoft",
    "com.microsoft.nchwc",
    "com.microsoft.experimental",
];

impl Model {
    /// `domain.op_type` of every operator whose domain is neither one a
    /// runtime ships nor defined by a model-local function.
    pub fn custom_ops(&self) -> Vec<String> {
        self.ops
            .keys()
            .filter(|(d, op)| {
                !RUNTIME_DOMAINS.contains(&d.as_str())
                    && !self.functions.iter().any(|(fd, f)| fd == d && f == op)
            })
            .map(|(d, op)| format!("{d}.{op}"))
            .collect()
    }

    /// `domain.op_type` of every operator used (`ai.onnx` for the default domain).
    pub fn op_names(&self) -> Vec<String> {
        self.ops
            .keys()
            .map(|(d, op)| {
                let d = if d.is_empty() { "ai.onnx" } else { d };
                format!("{d}.{op}")
            })
            .collect()
    }
}

struct Pb<R> {
    r: R,
    pos: u64,
    len: u64,
    limits: Limits,
}

impl<R: Read> Pb<R> {
    fn err(&self, at: u64, field: &str, message: impl Into<String>) -> Error {
        Error {
            offset: at,
            field: field.to_string(),
            message: message.into(),
        }
    }

    fn byte(&mut self, field: &str) -> Result<u8, Error> {
        let mut b = [0u8];
        self.r
            .read_exact(&mut b)
            .map_err(|_| self.err(self.pos, field, "the file ends inside a varint"))?;
        self.pos += 1;
        Ok(b[0])
    }

    fn varint(&mut self, field: &str) -> Result<u64, Error> {
        let at = self.pos;
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.byte(field)?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err(at, field, "varint longer than 10 bytes"))
    }

    /// A length prefix that must end by `end`.
    fn length(&mut self, end: u64, field: &str) -> Result<u64, Error> {
        let at = self.pos;
        let n = self.varint(field)?;
        if n > end.saturating_sub(self.pos) {
            return Err(self.err(
                at,
                field,
                format!(
                    "length {n} runs past the end of its message ({} bytes left)",
                    end.saturating_sub(self.pos)
                ),
            ));
        }
        Ok(n)
    }

    fn skip(&mut self, n: u64, field: &str) -> Result<(), Error> {
        let got = std::io::copy(&mut (&mut self.r).take(n), &mut std::io::sink())
            .map_err(|e| self.err(self.pos, field, e.to_string()))?;
        self.pos += got;
        if got != n {
            return Err(self.err(self.pos, field, "the file ends inside the field"));
        }
        Ok(())
    }

    fn string(&mut self, end: u64, field: &str) -> Result<String, Error> {
        let at = self.pos;
        let n = self.length(end, field)?;
        if n > self.limits.max_string {
            return Err(self.err(
                at,
                field,
                format!(
                    "string of {n} bytes, over the limit of {}",
                    self.limits.max_string
                ),
            ));
        }
        let mut buf = vec![0u8; n as usize];
        self.r
            .read_exact(&mut buf)
            .map_err(|_| self.err(self.pos, field, "the file ends inside the string"))?;
        self.pos += n;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    /// The next field's number and wire type, or `None` at `end`.
    fn key(&mut self, end: u64, message: &str) -> Result<Option<(u64, u8)>, Error> {
        if self.pos >= end {
            return Ok(None);
        }
        let at = self.pos;
        let k = self.varint(message)?;
        let (field, wire) = (k >> 3, (k & 7) as u8);
        if field == 0 {
            return Err(self.err(at, message, "field number 0"));
        }
        Ok(Some((field, wire)))
    }

    /// Skips a field of any wire type that is not read.
    fn skip_field(&mut self, wire: u8, end: u64, field: &str) -> Result<(), Error> {
        let at = self.pos;
        match wire {
            0 => self.varint(field).map(|_| ()),
            1 => self.skip_bounded(8, end, field),
            5 => self.skip_bounded(4, end, field),
            2 => {
                let n = self.length(end, field)?;
                self.skip(n, field)
            }
            w => Err(self.err(at, field, format!("wire type {w} is not used by ONNX"))),
        }
    }

    fn skip_bounded(&mut self, n: u64, end: u64, field: &str) -> Result<(), Error> {
        if n > end.saturating_sub(self.pos) {
            return Err(self.err(self.pos, field, "runs past the end of its message"));
        }
        self.skip(n, field)
    }

    fn expect(&self, wire: u8, want: u8, field: &str) -> Result<(), Error> {
        if wire == want {
            Ok(())
        } else {
            Err(self.err(
                self.pos,
                field,
                format!("wire type {wire}, expected {want}"),
            ))
        }
    }

    /// The end of a length-delimited submessage that starts here.
    fn submessage(&mut self, wire: u8, end: u64, field: &str) -> Result<u64, Error> {
        self.expect(wire, 2, field)?;
        let n = self.length(end, field)?;
        Ok(self.pos + n)
    }
}

/// Reads the model from `r`, a file of `len` bytes.
pub fn read<R: Read>(r: R, len: u64, limits: &Limits) -> Result<Model, Error> {
    let mut p = Pb {
        r,
        pos: 0,
        len,
        limits: *limits,
    };
    let mut m = Model::default();
    let end = p.len;
    let mut graphs = 0;
    while let Some((field, wire)) = p.key(end, "ModelProto")? {
        let name = match field {
            1 => "ModelProto.ir_version",
            2 => "ModelProto.producer_name",
            3 => "ModelProto.producer_version",
            4 => "ModelProto.domain",
            5 => "ModelProto.model_version",
            7 => "ModelProto.graph",
            8 => "ModelProto.opset_import",
            25 => "ModelProto.functions",
            _ => "ModelProto",
        };
        match field {
            1 | 5 => {
                p.expect(wire, 0, name)?;
                let v = p.varint(name)?;
                if field == 1 {
                    m.ir_version = Some(v);
                } else {
                    m.model_version = Some(v as i64);
                }
            }
            2..=4 => {
                p.expect(wire, 2, name)?;
                let s = Some(p.string(end, name)?);
                match field {
                    2 => m.producer_name = s,
                    3 => m.producer_version = s,
                    _ => m.domain = s,
                }
            }
            7 => {
                let sub = p.submessage(wire, end, name)?;
                graphs += 1;
                graph(&mut p, &mut m, sub, 1, true)?;
            }
            8 => {
                let sub = p.submessage(wire, end, name)?;
                if m.opsets.len() as u64 >= limits.max_entries {
                    return Err(p.err(p.pos, name, "too many opset imports"));
                }
                m.opsets.push(opset(&mut p, sub)?);
            }
            25 => {
                let sub = p.submessage(wire, end, name)?;
                if m.functions.len() as u64 >= limits.max_entries {
                    return Err(p.err(p.pos, name, "too many local functions"));
                }
                let f = function(&mut p, &mut m, sub)?;
                m.functions.push(f);
            }
            _ => p.skip_field(wire, end, name)?,
        }
    }
    if m.ir_version.is_none() || graphs == 0 {
        return Err(p.err(
            0,
            "ModelProto",
            "no ir_version or no graph: not an ONNX model",
        ));
    }
    Ok(m)
}

fn opset<R: Read>(p: &mut Pb<R>, end: u64) -> Result<(String, i64), Error> {
    let (mut domain, mut version) = (String::new(), 0);
    while let Some((field, wire)) = p.key(end, "OperatorSetIdProto")? {
        match (field, wire) {
            (1, 2) => domain = p.string(end, "OperatorSetIdProto.domain")?,
            (2, 0) => version = p.varint("OperatorSetIdProto.version")? as i64,
            _ => p.skip_field(wire, end, "OperatorSetIdProto")?,
        }
    }
    Ok((domain, version))
}

fn function<R: Read>(p: &mut Pb<R>, m: &mut Model, end: u64) -> Result<(String, String), Error> {
    let (mut domain, mut name) = (String::new(), String::new());
    while let Some((field, wire)) = p.key(end, "FunctionProto")? {
        match (field, wire) {
            (1, 2) => name = p.string(end, "FunctionProto.name")?,
            (10, 2) => domain = p.string(end, "FunctionProto.domain")?,
            // The function body's own nodes use operators too.
            (7, 2) => {
                let sub = p.submessage(wire, end, "FunctionProto.node")?;
                node(p, m, sub, 2)?;
            }
            _ => p.skip_field(wire, end, "FunctionProto")?,
        }
    }
    Ok((domain, name))
}

fn graph<R: Read>(
    p: &mut Pb<R>,
    m: &mut Model,
    end: u64,
    depth: u32,
    main: bool,
) -> Result<(), Error> {
    if depth > p.limits.max_depth {
        return Err(p.err(
            p.pos,
            "GraphProto",
            format!("subgraphs nested deeper than {}", p.limits.max_depth),
        ));
    }
    while let Some((field, wire)) = p.key(end, "GraphProto")? {
        match (field, wire) {
            (1, 2) => {
                let sub = p.submessage(wire, end, "GraphProto.node")?;
                node(p, m, sub, depth)?;
            }
            (5, 2) => {
                if main {
                    m.initializers += 1;
                }
                p.skip_field(wire, end, "GraphProto.initializer")?;
            }
            _ => p.skip_field(wire, end, "GraphProto")?,
        }
    }
    Ok(())
}

fn node<R: Read>(p: &mut Pb<R>, m: &mut Model, end: u64, depth: u32) -> Result<(), Error> {
    m.nodes += 1;
    if m.nodes > p.limits.max_nodes {
        return Err(p.err(
            p.pos,
            "NodeProto",
            format!("more than {} nodes", p.limits.max_nodes),
        ));
    }
    let (mut domain, mut op) = (String::new(), String::new());
    while let Some((field, wire)) = p.key(end, "NodeProto")? {
        match (field, wire) {
            (4, 2) => op = p.string(end, "NodeProto.op_type")?,
            (7, 2) => domain = p.string(end, "NodeProto.domain")?,
            (5, 2) => {
                let sub = p.submessage(wire, end, "NodeProto.attribute")?;
                attribute(p, m, sub, depth)?;
            }
            _ => p.skip_field(wire, end, "NodeProto")?,
        }
    }
    if domain == "ai.onnx" {
        domain.clear();
    }
    let key = (domain, op);
    if let Some(n) = m.ops.get_mut(&key) {
        *n += 1;
    } else if m.ops.len() < p.limits.max_op_types {
        m.ops.insert(key, 1);
    } else {
        return Err(p.err(
            p.pos,
            "NodeProto.op_type",
            format!("more than {} distinct operators", p.limits.max_op_types),
        ));
    }
    Ok(())
}

fn attribute<R: Read>(p: &mut Pb<R>, m: &mut Model, end: u64, depth: u32) -> Result<(), Error> {
    while let Some((field, wire)) = p.key(end, "AttributeProto")? {
        match (field, wire) {
            (6, 2) | (11, 2) => {
                let sub = p.submessage(wire, end, "AttributeProto.g")?;
                graph(p, m, sub, depth + 1, false)?;
            }
            _ => p.skip_field(wire, end, "AttributeProto")?,
        }
    }
    Ok(())
}

/// [`read`] over bytes in memory (the fuzz target's entry).
pub fn parse(bytes: &[u8]) -> Result<Model, Error> {
    read(bytes, bytes.len() as u64, &Limits::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/fixtures/models/onnx-custom-op")
                .join(name),
        )
        .unwrap()
    }

    /// Files onnx.helper made (make_formats.sh).
    #[test]
    fn reads_what_onnx_helper_wrote() {
        let m = parse(&fixture("standard.onnx")).unwrap();
        assert_eq!(m.producer_name.as_deref(), Some("onnx.helper"));
        assert_eq!(m.opsets, [(String::new(), 17)]);
        assert_eq!(m.model_version, Some(3));
        assert_eq!((m.nodes, m.initializers), (2, 1));
        assert_eq!(m.op_names(), ["ai.onnx.Add", "ai.onnx.Relu"]);
        assert!(m.custom_ops().is_empty());

        let c = parse(&fixture("custom-op.onnx")).unwrap();
        assert_eq!(c.domain.as_deref(), Some("com.example"));
        assert_eq!(c.opsets.len(), 3);
        assert_eq!(c.custom_ops(), ["com.example.ops.FastGeluPlus"]);
    }

    #[test]
    fn cut_and_inflated_files_are_errors() {
        let good = fixture("custom-op.onnx");
        for n in 0..good.len() {
            let _ = parse(&good[..n]);
        }
        assert!(parse(&good[..good.len() / 2]).is_err());
        // The graph's length prefix made larger than the file.
        let mut bad = good.clone();
        let domain = b"com.example";
        let at = bad.windows(domain.len()).position(|w| w == domain).unwrap() + domain.len();
        assert_eq!(bad[at], 7 << 3 | 2, "the graph follows the domain");
        // The length's varint, rewritten in as many bytes to its largest value.
        let mut i = at + 1;
        while bad[i] & 0x80 != 0 {
            bad[i] = 0xff;
            i += 1;
        }
        bad[i] = 0x7f;
        let e = parse(&bad).unwrap_err().to_string();
        assert!(
            e.contains("ModelProto.graph: length") && e.contains("runs past the end"),
            "{e}"
        );
        // Subgraphs nested past the bound: built here, If nodes in If nodes.
        let mut g: Vec<u8> = Vec::new();
        for _ in 0..40 {
            let mut attr = vec![6 << 3 | 2];
            push_len(&mut attr, &g);
            let mut node = vec![5 << 3 | 2];
            push_len(&mut node, &attr);
            g = vec![1 << 3 | 2];
            push_len(&mut g, &node);
        }
        let mut model = vec![1 << 3, 8, 7 << 3 | 2];
        push_len(&mut model, &g);
        let e = parse(&model).unwrap_err().to_string();
        assert!(e.contains("nested deeper than 32"), "{e}");
    }

    fn push_len(out: &mut Vec<u8>, body: &[u8]) {
        let mut n = body.len() as u64;
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
        out.extend_from_slice(body);
    }
}
