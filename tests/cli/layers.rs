//! The shape of `src/`, read from its own `crate::` and `super::` paths:
//! no two files import each other in a loop, and nothing below the front
//! ends reaches up into them (`commands/`, `tools/`) or into `lib.rs`,
//! whose only job is to dispatch.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// Every `.rs` file under src/, by its module path (`store::s3::lock`;
/// `` for lib.rs), skipping `main.rs`, which is the binary.
fn modules() -> BTreeMap<Vec<String>, PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(Path::new(SRC), &mut files);
    files
        .into_iter()
        .filter(|f| !f.ends_with("main.rs"))
        .map(|file| {
            let relative = file.strip_prefix(SRC).unwrap().with_extension("");
            let mut path: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if path.last().is_some_and(|l| l == "mod" || l == "lib") {
                path.pop();
            }
            (path, file)
        })
        .collect()
}

/// The text without comments, so that prose naming a module is no import,
/// and without its unit tests (whose `super` is the file itself).
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Paths as `crate::a::b` and `super::a` spell them, with `{a, b}` lists
/// opened one level.
fn paths_in(code: &str) -> Vec<(usize, Vec<String>)> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(start) {
            let at = from + at;
            from = at + start.len();
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            let mut ups = 0;
            let mut rest = &code[at..];
            if start == "super::" {
                while let Some(r) = rest.strip_prefix("super::") {
                    ups += 1;
                    rest = r;
                }
            } else {
                rest = &rest["crate::".len()..];
            }
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':' || *c == '{')
                .collect();
            let path = path.trim_end_matches([':', '{']);
            let segments: Vec<String> = path
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            // `crate::{a, b}` / `super::{a, b::c}`: each listed item.
            if path.is_empty() || rest[path.len()..].trim_start_matches(':').starts_with('{') {
                let open = rest.find('{').map(|i| i + 1).unwrap_or(0);
                let close = rest[open..].find('}').map(|i| open + i).unwrap_or(open);
                for item in rest[open..close].split(',') {
                    let mut full = segments.clone();
                    full.extend(
                        item.trim()
                            .split("::")
                            .filter(|s| !s.is_empty() && *s != "self")
                            .map(str::to_owned),
                    );
                    found.push((ups, full));
                }
            } else {
                found.push((ups, segments));
            }
        }
    }
    found
}

/// What each file imports: the files (modules) its paths lead to.
fn imports() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let modules = modules();
    let mut graph = BTreeMap::new();
    for (module, file) in &modules {
        let code = code_of(&fs::read_to_string(file).unwrap());
        let is_dir_module = file.ends_with("mod.rs") || file.ends_with("lib.rs");
        let mut targets = BTreeSet::new();
        for (ups, segments) in paths_in(&code) {
            let mut base: Vec<String> = match ups {
                0 => Vec::new(),
                n => {
                    // A file's `super` is its parent module; mod.rs is the
                    // module itself, so its `super` is one higher.
                    let own = if is_dir_module {
                        module.len()
                    } else {
                        module.len() - 1
                    };
                    module[..own.saturating_sub(n - 1)].to_vec()
                }
            };
            base.extend(segments);
            // The longest prefix that is a module is the file imported.
            let target = (0..=base.len())
                .rev()
                .map(|n| base[..n].to_vec())
                .find(|prefix| modules.contains_key(prefix))
                .unwrap_or_default();
            if &target != module {
                targets.insert(target);
            }
        }
        graph.insert(module.clone(), targets);
    }
    graph
}

fn show(module: &[String]) -> String {
    match module.is_empty() {
        true => "lib.rs".to_owned(),
        false => module.join("::"),
    }
}

#[test]
fn no_file_imports_another_in_a_loop() {
    let graph = imports();
    // Tarjan's strongly connected components, small enough to do plainly:
    // a file is in a loop when it can reach itself.
    let reach = |from: &Vec<String>| {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&Vec<String>> = graph[from].iter().collect();
        while let Some(next) = todo.pop() {
            if seen.insert(next.clone()) {
                todo.extend(graph.get(next).into_iter().flatten());
            }
        }
        seen
    };
    let looped: Vec<String> = graph
        .keys()
        .filter(|module| reach(module).contains(*module))
        .map(|m| show(m))
        .collect();
    assert!(looped.is_empty(), "files in import loops: {looped:?}");
    assert!(graph.len() > 40, "only {} files read", graph.len());
}

#[test]
fn nothing_below_the_front_ends_reaches_up() {
    let graph = imports();
    let front = |m: &[String]| m.first().is_some_and(|f| f == "commands" || f == "tools");
    let mut wrong = Vec::new();
    for (module, targets) in &graph {
        for target in targets {
            let upward = target.is_empty() && !module.is_empty()
                || (front(target) && !front(module))
                || (front(target) && front(module) && target[0] != module[0]);
            if upward {
                wrong.push(format!("{} imports {}", show(module), show(target)));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
