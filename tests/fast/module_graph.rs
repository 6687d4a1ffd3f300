//! The crate's layering, checked from the source: each top-level module may use only
//! the modules its row of [`ALLOWED`] names, and the modules form no cycle. A `use
//! crate::aws::…` in the Vault side, or a `crate::tui` below the front ends, fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Small leaf utilities: they use no module of ours but one another.
const LEAVES: &[&str] = &[
    "alloc",
    "child",
    "child_env",
    "cli",
    "credentials_file",
    "files",
    "pause",
    "regions",
    "secrets",
    "twins",
];

/// What each module may use besides the leaves, bottom up.
const ALLOWED: &[(&str, &[&str])] = &[
    ("frontend", &[]),
    ("answers", &[]),
    // Every question of the front ends, once: words, help, checks, options.
    ("questions", &["answers"]),
    // The run core: steps, events, manifest, the top-level error.
    ("run", &["answers"]),
    // The two sides build on the core, never on each other.
    ("aws", &["answers", "run"]),
    ("vault", &["answers", "run"]),
    // The whole job across both sides.
    ("flow", &["answers", "run", "aws", "vault"]),
    // A raft cluster: a loop of single-server flows around the shared key and policy.
    ("cluster", &["answers", "run", "aws", "vault", "flow"]),
    // The access key's rotation, across both sides.
    ("rotate", &["answers", "run", "aws", "vault"]),
    // A recovery drill: the live server's snapshot on a throwaway server (no AWS call).
    ("drill", &["answers", "run", "vault"]),
    // Read-only checks of a setup across both sides.
    ("doctor", &["answers", "run", "aws", "vault"]),
    ("headless", &["answers", "run", "aws", "flow", "doctor"]),
    (
        "demo",
        &["answers", "run", "aws", "vault", "flow", "cluster", "headless"],
    ),
    // The operations, once, under every front end: a recorded setup and its nodes,
    // apply, plan, join, rotate, doctor, status, destroy.
    (
        "ops",
        &[
            "answers", "run", "aws", "vault", "flow", "cluster", "rotate", "doctor", "drill",
        ],
    ),
    // The line prompts' input, for the commands and the plain wizard.
    ("prompt", &["run", "vault"]),
    // The front ends, on top: they ask and render, and reach the flow and the cluster
    // only through `ops` (see FORBIDDEN_CALLS for what they may not call by name).
    (
        "tui",
        &[
            "answers",
            "questions",
            "run",
            "aws",
            "vault",
            "ops",
            "doctor",
            "rotate",
            "drill",
            "headless",
        ],
    ),
    (
        "plain",
        &[
            "answers",
            "questions",
            "run",
            "aws",
            "vault",
            "ops",
            "headless",
            "prompt",
        ],
    ),
    (
        "commands",
        &[
            "drill",
            "answers",
            "questions",
            "run",
            "aws",
            "vault",
            "ops",
            "rotate",
            "doctor",
            "headless",
            "demo",
            "frontend",
            "tui",
            "plain",
            "prompt",
        ],
    ),
    (
        "main",
        &[
            "drill",
            "answers",
            "questions",
            "run",
            "aws",
            "vault",
            "ops",
            "rotate",
            "doctor",
            "headless",
            "demo",
            "frontend",
            "tui",
            "plain",
            "prompt",
            "commands",
        ],
    ),
];

/// The front ends and what they never call themselves: the node listers, the runs and
/// the per-node checks belong to `ops`, which loops over the nodes once for all of them.
const FRONT_ENDS: &[&str] = &["tui", "plain", "commands", "main"];
const FORBIDDEN_CALLS: &[&str] = &[
    "drill::drill(",
    "node_state_dirs(",
    "local_nodes(",
    "recorded_setup(",
    "flow::run",
    "cluster::apply(",
    "cluster::join(",
    "rotate::rotate(",
    "doctor::examine(",
    "status::gather(",
];

/// Items at the crate's root that are not modules, by the module that defines them.
const ROOT_ITEMS: &[(&str, &str)] = &[("say", "headless")];

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The top-level module a source file belongs to (`src/aws/provision.rs` → `aws`);
/// `None` for `lib.rs`, which only declares them.
fn module_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    let module = first.strip_suffix(".rs").unwrap_or(first);
    (module != "lib").then(|| module.to_string())
}

/// The first path segment of each item of a `{a::b, c, d::{e, f}}` group.
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let (mut depth, mut item) = (0, String::new());
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => heads.push(std::mem::take(&mut item)),
            _ if depth == 0 => item.push(c),
            _ => {}
        }
    }
    heads.push(item);
    heads
        .iter()
        .filter_map(|i| i.split("::").next().map(str::trim).filter(|h| !h.is_empty()))
        .map(String::from)
        .collect()
}

/// The top-level names `source` reaches through `prefix::` (`crate::` in the library,
/// `autounseal::` in the binary), comments left out.
fn references(source: &str, prefix: &str) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(group.len(), |(i, _)| i);
            found.extend(group_heads(&group[..end]));
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            found.insert(name);
        }
    }
    found.retain(|n| n != "self");
    found
}

/// Which top-level module uses which, from `(path under src, source)` pairs.
fn graph(files: &[(String, String)]) -> Graph {
    let mut graph = Graph::new();
    for (path, source) in files {
        let Some(module) = module_of(Path::new(path)) else {
            continue;
        };
        let prefix = if module == "main" { "autounseal::" } else { "crate::" };
        let used = graph.entry(module.clone()).or_default();
        for name in references(source, prefix) {
            let name = ROOT_ITEMS
                .iter()
                .find(|(item, _)| *item == name)
                .map_or(name, |(_, owner)| owner.to_string());
            if name != module {
                used.insert(name);
            }
        }
    }
    graph
}

/// Every use the table does not allow, as `from -> to`.
fn violations(graph: &Graph) -> Vec<String> {
    let mut wrong = Vec::new();
    for (module, used) in graph {
        let allowed: Option<BTreeSet<&str>> = if LEAVES.contains(&module.as_str()) {
            Some(LEAVES.iter().copied().collect())
        } else {
            ALLOWED
                .iter()
                .find(|(m, _)| m == module)
                .map(|(_, a)| a.iter().chain(LEAVES).copied().collect())
        };
        let Some(allowed) = allowed else {
            wrong.push(format!("{module} is in no row of the table: give it its place"));
            continue;
        };
        for target in used.iter().filter(|t| !allowed.contains(t.as_str())) {
            wrong.push(format!("{module} -> {target}"));
        }
    }
    wrong
}

/// A cycle of modules, if there is one.
fn cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(node: &str, graph: &Graph, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|start| visit(start, graph, &mut Vec::new(), &mut done))
}

fn sources(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("readable src") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path
                .strip_prefix(root)
                .expect("under src")
                .to_string_lossy()
                .into_owned();
            out.push((relative, std::fs::read_to_string(&path).expect("readable source")));
        }
    }
}

/// Inside each top-level module with a folder: which of its parts (a file or a folder
/// under `src/M/`) uses which, through `crate::M::part` or, from a file right in the
/// folder, `super::part`. `mod.rs` declares the parts and is no part itself.
fn inner_graphs(files: &[(String, String)]) -> BTreeMap<String, Graph> {
    let part_of = |path: &str| -> Option<(String, String)> {
        let mut parts = path.split('/');
        let (module, second) = (parts.next()?, parts.next()?);
        let part = second.strip_suffix(".rs").unwrap_or(second);
        (part != "mod").then(|| (module.to_string(), part.to_string()))
    };
    let mut all: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, _) in files {
        if let Some((module, part)) = part_of(path) {
            all.entry(module).or_default().insert(part);
        }
    }
    let mut graphs: BTreeMap<String, Graph> = BTreeMap::new();
    for (path, source) in files {
        let Some((module, part)) = part_of(path) else { continue };
        let mut used = references(source, &format!("crate::{module}::"));
        if path.matches('/').count() == 1 {
            used.extend(references(source, "super::"));
        }
        let parts = &all[&module];
        let edges = graphs.entry(module).or_default().entry(part.clone()).or_default();
        edges.extend(used.into_iter().filter(|u| *u != part && parts.contains(u)));
    }
    graphs
}

fn crate_files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    files
}

fn crate_graph() -> Graph {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    graph(&files)
}

#[test]
fn every_module_uses_only_what_its_layer_allows() {
    let graph = crate_graph();
    for side in ["run", "aws", "vault", "flow", "tui", "main"] {
        assert!(graph.contains_key(side), "{side} was not read: {graph:?}");
    }
    assert!(
        graph["aws"].contains("run") && graph["flow"].contains("vault"),
        "{graph:?}"
    );
    assert_eq!(violations(&graph), Vec::<String>::new());
}

#[test]
fn the_front_ends_go_through_ops_for_every_operation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    let mut wrong = Vec::new();
    for (path, source) in &files {
        let module = module_of(Path::new(path));
        if !module.is_some_and(|m| FRONT_ENDS.contains(&m.as_str())) {
            continue;
        }
        for call in FORBIDDEN_CALLS.iter().filter(|c| calls(&code_of(source), c)) {
            wrong.push(format!("{path} calls {call}"));
        }
    }
    assert!(files.len() > 40, "the sources were read: {}", files.len());
    assert!(calls("x = crate::rotate::rotate(&a)", "rotate::rotate("));
    assert!(!calls(
        &code_of("x = ops::rotate::rotate(&a); // rotate::rotate("),
        "rotate::rotate("
    ));
    assert_eq!(wrong, Vec::<String>::new());
}

/// Whether `code` calls `call` itself, not the operation of the same name in `ops`
/// (`ops::rotate::rotate(` is the way, `rotate::rotate(` is not).
fn calls(code: &str, call: &str) -> bool {
    code.match_indices(call).any(|(at, _)| !code[..at].ends_with("ops::"))
}

/// A source without its comments, so that a doc line may name what the code may not call.
fn code_of(source: &str) -> String {
    source
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_modules_form_no_cycle() {
    assert_eq!(cycle(&crate_graph()), None);
}

#[test]
fn the_parts_of_each_module_form_no_cycle() {
    let graphs = inner_graphs(&crate_files());
    assert!(
        graphs["tui"]["screens"].contains("keys") && graphs["aws"]["provision"].contains("adopt"),
        "{graphs:?}"
    );
    for (module, graph) in &graphs {
        assert_eq!(cycle(graph), None, "inside {module}");
    }
}

#[test]
fn a_cycle_inside_a_module_is_named() {
    let graphs = inner_graphs(&files(&[
        (
            "aws/adopt.rs",
            "fn f() { crate::aws::destroy::DestroyOptions::default(); }",
        ),
        ("aws/destroy.rs", "use super::adopt::resolve_pending;"),
        ("aws/mod.rs", "pub mod adopt;\npub mod destroy;"),
        (
            "tui/screens/status.rs",
            "use super::Ctx; use crate::tui::keys::Binding;",
        ),
        ("tui/keys.rs", "use super::theme::Theme;"),
        ("tui/theme.rs", ""),
    ]));
    let aws = cycle(&graphs["aws"]).expect("adopt and destroy use each other");
    assert!(
        aws.contains(&"adopt".into()) && aws.contains(&"destroy".into()),
        "{aws:?}"
    );
    assert_eq!(graphs["tui"]["screens"], ["keys"].map(String::from).into());
    assert_eq!(cycle(&graphs["tui"]), None);
}

fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(p, s)| (p.to_string(), s.to_string())).collect()
}

#[test]
fn a_vault_side_reaching_into_aws_or_a_core_into_the_tui_is_caught() {
    let graph = graph(&files(&[
        (
            "vault/deploy.rs",
            "use crate::run::Reporter;\nuse crate::{aws::AwsContext, files};",
        ),
        (
            "run/events.rs",
            "fn f() { crate::tui::app::go(); } // crate::flow in a comment",
        ),
        ("flow.rs", "use crate::{\n    aws::{self, AwsContext},\n    vault,\n};"),
    ]));
    assert_eq!(graph["flow"], ["aws", "vault"].map(String::from).into());
    assert_eq!(violations(&graph), ["run -> tui", "vault -> aws"]);
}

#[test]
fn a_cycle_is_named() {
    let graph = graph(&files(&[
        ("run/mod.rs", "use crate::vault::VaultError;"),
        ("vault/mod.rs", "use crate::run::Reporter;"),
        ("aws.rs", "use crate::run::Reporter;"),
    ]));
    let cycle = cycle(&graph).expect("run and vault use each other");
    assert_eq!(cycle.first(), cycle.last());
    assert!(
        cycle.contains(&"run".to_string()) && cycle.contains(&"vault".to_string()),
        "{cycle:?}"
    );
}
