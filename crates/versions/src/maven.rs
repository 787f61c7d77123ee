//! Maven: the `ComparableVersion` rules. A version splits at `.` and `-` and
//! at digit/letter changes into numbers, qualifiers and nested lists (a `-` or
//! a change of kind opens a list); trailing "null" items (0, empty, `ga`,
//! `final`, `release`) are dropped per list. Qualifiers rank
//! `alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp`,
//! unknown ones after those, alphabetically; `a1`, `b1`, `m1` mean alpha, beta, milestone.

use std::cmp::Ordering;

use crate::util::cmp_digits;

#[derive(Debug, Clone)]
enum Item {
    Int(String),
    Str(String),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const RELEASE: &str = "5";

fn qualifier_key(q: &str) -> String {
    match QUALIFIERS.iter().position(|x| *x == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{q}", QUALIFIERS.len()),
    }
}

fn string_item(s: &str, followed_by_digit: bool) -> Item {
    let mut v = s.to_string();
    if followed_by_digit && v.len() == 1 {
        v = match v.as_str() {
            "a" => "alpha".into(),
            "b" => "beta".into(),
            "m" => "milestone".into(),
            _ => v,
        };
    }
    let v = match v.as_str() {
        "ga" | "final" | "release" => String::new(),
        "cr" => "rc".into(),
        _ => v,
    };
    Item::Str(v)
}

fn parse_item(s: &str) -> Item {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let n = s.trim_start_matches('0');
        Item::Int(if n.is_empty() { "0".into() } else { n.into() })
    } else {
        string_item(s, false)
    }
}

fn is_null(item: &Item) -> bool {
    match item {
        Item::Int(n) => n == "0",
        Item::Str(s) => qualifier_key(s) == RELEASE,
        Item::List(l) => l.is_empty(),
    }
}

/// Builds the nested list; `path` holds the indices of the open lists.
fn parse(version: &str) -> Item {
    let v = version.trim().to_lowercase();
    let mut root: Vec<Item> = Vec::new();
    // Stack of open lists as paths of indices into the tree.
    let mut stack: Vec<Vec<usize>> = vec![Vec::new()];
    fn list_at<'a>(root: &'a mut Vec<Item>, path: &[usize]) -> &'a mut Vec<Item> {
        let mut cur = root;
        for &i in path {
            cur = match &mut cur[i] {
                Item::List(l) => l,
                _ => unreachable!("paths only lead through lists"),
            };
        }
        cur
    }
    let open_list = |root: &mut Vec<Item>, stack: &mut Vec<Vec<usize>>| {
        let path = stack.last().cloned().unwrap_or_default();
        let list = list_at(root, &path);
        list.push(Item::List(Vec::new()));
        let mut new_path = path;
        new_path.push(list.len() - 1);
        stack.push(new_path);
    };
    let push = |root: &mut Vec<Item>, stack: &Vec<Vec<usize>>, item: Item| {
        let path = stack.last().cloned().unwrap_or_default();
        list_at(root, &path).push(item);
    };
    let chars: Vec<char> = v.chars().collect();
    let mut is_digit = false;
    let mut start = 0;
    for i in 0..chars.len() {
        let c = chars[i];
        let piece = || chars[start..i].iter().collect::<String>();
        if c == '.' {
            let item = if i == start { Item::Int("0".into()) } else { parse_item(&piece()) };
            push(&mut root, &stack, item);
            start = i + 1;
        } else if c == '-' {
            let item = if i == start { Item::Int("0".into()) } else { parse_item(&piece()) };
            push(&mut root, &stack, item);
            start = i + 1;
            open_list(&mut root, &mut stack);
        } else if c.is_ascii_digit() {
            if !is_digit && i > start {
                push(&mut root, &stack, string_item(&piece(), true));
                start = i;
                open_list(&mut root, &mut stack);
            }
            is_digit = true;
        } else {
            if is_digit && i > start {
                push(&mut root, &stack, parse_item(&piece()));
                start = i;
                open_list(&mut root, &mut stack);
            }
            is_digit = false;
        }
    }
    if chars.len() > start {
        let rest: String = chars[start..].iter().collect();
        push(&mut root, &stack, parse_item(&rest));
    }
    // Normalise innermost lists first.
    while let Some(path) = stack.pop() {
        let list = list_at(&mut root, &path);
        let mut i = list.len();
        while i > 0 {
            i -= 1;
            if is_null(&list[i]) {
                list.remove(i);
            } else if !matches!(list[i], Item::List(_)) {
                break;
            }
        }
    }
    Item::List(root)
}

fn cmp(a: Option<&Item>, b: Option<&Item>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(b)) => cmp(Some(b), None).reverse(),
        (Some(Item::Int(n)), None) => {
            if n == "0" {
                Ordering::Equal
            } else {
                Ordering::Greater
            }
        }
        (Some(Item::Str(s)), None) => qualifier_key(s).as_str().cmp(RELEASE),
        (Some(Item::List(l)), None) => match l.first() {
            None => Ordering::Equal,
            Some(first) => cmp(Some(first), None),
        },
        (Some(Item::Int(m)), Some(Item::Int(n))) => cmp_digits(m, n),
        (Some(Item::Int(_)), Some(_)) => Ordering::Greater,
        (Some(Item::Str(_)), Some(Item::Int(_))) => Ordering::Less,
        (Some(Item::Str(s)), Some(Item::Str(t))) => qualifier_key(s).cmp(&qualifier_key(t)),
        (Some(Item::Str(_)), Some(Item::List(_))) => Ordering::Less,
        (Some(Item::List(_)), Some(Item::Int(_))) => Ordering::Less,
        (Some(Item::List(_)), Some(Item::Str(_))) => Ordering::Greater,
        (Some(Item::List(l)), Some(Item::List(r))) => {
            for i in 0..l.len().max(r.len()) {
                let o = cmp(l.get(i), r.get(i));
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        }
    }
}

pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    cmp(Some(&parse(a)), Some(&parse(b)))
}
